#include "jobmanager/checkpoint/checkpoint_cleaner.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/checkpoint/coordinator_internal.h"

namespace sluice::jobmanager::checkpoint {

using internal::Log;

CheckpointCleaner::CheckpointCleaner(std::string job_id, snapshot::SnapshotStorage* storage,
                                     PostIo post_io)
    : job_id_(std::move(job_id)), storage_(storage), post_io_(std::move(post_io)) {}

void CheckpointCleaner::DiscardCheckpoint(int64_t id) { Delete({snapshot::CheckpointFolder(id)}); }

void CheckpointCleaner::DiscardShared(const std::vector<std::string>& paths,
                                      const SharedFileUsers& users) {
  const std::string shared_prefix = absl::StrCat(snapshot::kSharedFolder, "/");
  std::vector<std::string> doomed;
  for (const std::string& path : paths) {
    if (users.named && users.named(path)) continue;
    if (!absl::StartsWith(path, shared_prefix)) {
      Log()->warn("Job {}: not deleting shared file '{}' outside '{}'", job_id_, path,
                  shared_prefix);
      continue;
    }
    if (!users.newest_in_progress) {
      doomed.push_back(path);
    } else {
      int64_t& until = deferred_[path];
      until = std::max(until, *users.newest_in_progress);
    }
  }
  Delete(std::move(doomed));
}

void CheckpointCleaner::CheckpointEnded(const SharedFileUsers& users) {
  const int64_t oldest = users.oldest_in_progress.value_or(INT64_MAX);
  std::vector<std::string> doomed;
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    if (it->second >= oldest) {
      ++it;  // a checkpoint in progress since the release may still name it
      continue;
    }
    if (!users.named || !users.named(it->first)) doomed.push_back(it->first);
    it = deferred_.erase(it);
  }
  Delete(std::move(doomed));
}

void CheckpointCleaner::Delete(std::vector<std::string> paths) {
  if (paths.empty()) return;
  post_io_([storage = storage_, job_id = job_id_, paths = std::move(paths)] {
    for (const std::string& path : paths) {
      if (absl::Status s = storage->Delete(path); !s.ok()) {
        Log()->warn("Job {}: cannot delete {}: {}", job_id, path, s.message());
      }
    }
  });
}

}  // namespace sluice::jobmanager::checkpoint
