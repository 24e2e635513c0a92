// CheckpointCoordinator: checkpoints that fail or are aborted, late acknowledgements, and the
// hand-over of what they leave to the CheckpointCleaner and the I/O executor.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/checkpoint/coordinator.h"
#include "jobmanager/checkpoint/coordinator_internal.h"

namespace sluice::jobmanager::checkpoint {

using internal::FileTally;
using internal::Log;
using internal::TaskName;

void CheckpointCoordinator::Abort(int64_t id, const std::string& reason, bool counts_as_failure) {
  log::ScopedContext checkpoint_context("checkpoint_id", std::to_string(id));
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  std::unique_ptr<Pending> p = std::move(it->second);
  pending_.erase(it);
  p->SetStatus(CheckpointStatus::kFailed);
  const int64_t now = clock_();
  last_end_ms_ = now;
  CheckpointStats stats = StatsOf(*p, now);
  stats.failure_reason = reason;
  stats_.RecordFailed(std::move(stats));
  StatsChanged();
  if (counts_as_failure) {
    Log()->warn("Checkpoint {} of job {} failed: {}", id, job_.job_id, reason);
  } else {
    Log()->info("Checkpoint {} of job {} aborted: {}", id, job_.job_id, reason);
  }
  // Its folder, and the shared files it uploaded that no other checkpoint names.
  cleaner_.DiscardCheckpoint(id);
  cleaner_.DiscardShared(p->files.SharedPaths(), Users());
  cleaner_.CheckpointEnded(Users());
  PublishStats();
  if (callbacks_.notify_aborted) callbacks_.notify_aborted(id, reason);
  if (p->done) {
    SnapshotResult result;
    result.checkpoint_id = id;
    result.path = absl::AbortedError(reason);
    result.duration_ms = now - p->trigger_time_ms;
    p->done(std::move(result));
  }
  if (counts_as_failure) CountFailure(id, reason);
}

void CheckpointCoordinator::AbortAll(const std::string& reason) {
  while (!pending_.empty()) Abort(pending_.begin()->first, reason, false);
}

void CheckpointCoordinator::CountFailure(int64_t id, const std::string& reason) {
  const int before = failures_.consecutive_failures();
  const bool exceeded = failures_.OnFailure(id);
  StatsChanged();
  if (!exceeded) {
    if (failures_.consecutive_failures() > before) {
      Log()->info("Job {}: {} consecutive checkpoint failure(s), {} tolerated", job_.job_id,
                  failures_.consecutive_failures(), failures_.tolerable_failures());
    }
    return;
  }
  std::string message = absl::StrCat("exceeded checkpoint tolerable failure threshold: ", reason);
  Log()->error("Job {}: {}", job_.job_id, message);
  PublishStats();
  if (callbacks_.fail_job) callbacks_.fail_job(std::move(message));
}

// The acknowledgement of a checkpoint that is no longer in progress. Unless the checkpoint is
// retained, its files are orphans: the folder (recreated by a late upload) and the shared files
// nobody references go.
void CheckpointCoordinator::DiscardLateAcknowledge(
    TaskKey task, int64_t id, const std::vector<proto::OperatorSubtaskState>& states) {
  if (id >= next_id_) {
    Log()->warn("Ignoring acknowledgement by {} of checkpoint {}, which was never triggered",
                TaskName(task), id);
    return;
  }
  if (store_.Find(id) != nullptr) {
    Log()->debug("Checkpoint {}: ignoring duplicate acknowledgement of {}", id, TaskName(task));
    return;
  }
  Log()->info("Job {}: discarding late acknowledgement by {} of checkpoint {}", job_.job_id,
              TaskName(task), id);
  FileTally files;
  files.Add(states);
  cleaner_.DiscardCheckpoint(id);
  cleaner_.DiscardShared(files.SharedPaths(), Users());
}

SharedFileUsers CheckpointCoordinator::Users() const {
  SharedFileUsers users;
  users.named = [this](const std::string& path) {
    return shared_.IsReferenced(path) || NamedByPending(path);
  };
  if (!pending_.empty()) {
    users.oldest_in_progress = pending_.begin()->first;
    users.newest_in_progress = pending_.rbegin()->first;
  }
  return users;
}

bool CheckpointCoordinator::NamedByPending(const std::string& path) const {
  for (const auto& [id, p] : pending_) {
    if (p->files.shared.count(path)) return true;
  }
  return false;
}

void CheckpointCoordinator::PostIo(std::function<void()> io, std::function<void()> then,
                                   SerialExecutor* on) {
  // Savepoint copies are not counted: a test holding one up still drains everything else.
  const bool counted = on == nullptr;
  if (counted) ++io_in_flight_;
  (counted ? &io_executor_ : on)->Post([this, io = std::move(io), then = std::move(then), counted] {
    io();
    executor_.Post([this, then, counted] {
      if (counted) --io_in_flight_;
      if (then) then();
    });
  });
}

}  // namespace sluice::jobmanager::checkpoint
