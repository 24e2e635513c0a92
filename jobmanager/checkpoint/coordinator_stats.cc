// CheckpointCoordinator: its configuration, the figures it publishes for Stats(), and what a
// scan of the checkpoint folder finds.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/checkpoint/coordinator.h"
#include "jobmanager/checkpoint/coordinator_internal.h"

namespace sluice::jobmanager::checkpoint {

using internal::FileTally;
using internal::kKindCheckpoint;
using internal::Log;
using snapshot::MetadataPath;

namespace {

//! The id of a "chk-<n>" folder name (exactly as CheckpointFolder spells it).
std::optional<int64_t> ParseCheckpointFolder(const std::string& name) {
  absl::string_view digits = name;
  int64_t id = 0;
  if (!absl::ConsumePrefix(&digits, "chk-") || !absl::SimpleAtoi(digits, &id) || id <= 0 ||
      snapshot::CheckpointFolder(id) != name) {
    return std::nullopt;
  }
  return id;
}

//! SnapshotStorage::List does not take the root itself (""), so a file-system root is listed as
//! an entry of its parent folder.
absl::StatusOr<std::vector<std::string>> ListRoot(snapshot::SnapshotStorage& storage) {
  return storage.List("");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Configuration, status names.

CheckpointConfig CheckpointConfig::FromConfiguration(const config::Configuration& c) {
  CheckpointConfig r;
  r.interval_ms = c.GetDurationMs("execution.checkpointing.interval");
  r.timeout_ms = c.GetDurationMs("execution.checkpointing.timeout");
  r.min_pause_ms = c.GetDurationMs("execution.checkpointing.min-pause");
  r.max_concurrent =
      static_cast<int>(c.GetInt("execution.checkpointing.max-concurrent-checkpoints"));
  r.tolerable_failures =
      static_cast<int>(c.GetInt("execution.checkpointing.tolerable-failed-checkpoints"));
  r.num_retained = static_cast<int>(c.GetInt("state.checkpoints.num-retained"));
  return r;
}

absl::Status CheckpointConfig::Validate() const {
  auto bad = [](const char* field, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint config ", field, ": ", what));
  };
  if (interval_ms < 0) return bad("interval_ms", "must be at least 0");
  if (timeout_ms < 1) return bad("timeout_ms", "must be at least 1");
  if (min_pause_ms < 0) return bad("min_pause_ms", "must be at least 0");
  if (max_concurrent < 1) return bad("max_concurrent", "must be at least 1");
  if (tolerable_failures < 0) return bad("tolerable_failures", "must be at least 0");
  if (num_retained < 1) return bad("num_retained", "must be at least 1");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Statistics (what restarts restore: coordinator_recovery.cc).

CoordinatorStats CheckpointCoordinator::Stats() const {
  std::shared_ptr<const CoordinatorStats> published;
  {
    absl::MutexLock lock(&published_mu_);
    published = published_;
  }
  CoordinatorStats s = published ? *published : CoordinatorStats();
  const int64_t now = clock_();
  for (CheckpointStats& c : s.in_progress) c.duration_ms = now - c.trigger_time_ms;
  return s;
}

// Acknowledgements come in bursts (one per subtask): the figures are published once the burst
// has been taken, not once per acknowledgement — and at once before a callback, so that an owner
// that reads them when told of a change sees it.
void CheckpointCoordinator::StatsChanged() {
  stats_dirty_ = true;
  if (publish_posted_) return;
  publish_posted_ = true;
  executor_.Post([this] {
    publish_posted_ = false;
    if (stats_dirty_) PublishStats();
  });
}

void CheckpointCoordinator::PublishStats() {
  stats_dirty_ = false;
  const int64_t now = clock_();
  auto s = std::make_shared<CoordinatorStats>();
  for (const CompletedCheckpointStore::Entry* e : store_.NewestFirst()) {
    s->completed.push_back(e->info);
  }
  s->pinned = store_.Pinned();
  for (const auto& [id, p] : pending_) s->in_progress.push_back(StatsOf(*p, now));
  s->history = stats_.History();
  s->completed_count = stats_.completed_count();
  s->failed_count = stats_.failed_count();
  s->consecutive_failures = failures_.consecutive_failures();
  absl::MutexLock lock(&published_mu_);
  published_ = std::move(s);
}

CheckpointStats CheckpointCoordinator::StatsOf(const Pending& pending, int64_t now) const {
  CheckpointStats s;
  s.id = pending.id;
  s.kind = kKindCheckpoint;
  s.status = pending.status;
  s.trigger_time_ms = pending.trigger_time_ms;
  s.duration_ms = now - pending.trigger_time_ms;
  s.state_size_bytes = pending.files.TotalBytes();
  s.acknowledged = static_cast<int>(pending.acks.size());
  s.total_subtasks = pending.total_subtasks;
  for (const auto& [task, ack] : pending.acks) s.subtasks[task] = ack.stats;
  return s;
}

CompletedCheckpointInfo CheckpointCoordinator::InfoOf(
    const proto::CheckpointMetadata& metadata) const {
  FileTally files;
  files.Add(metadata);
  CompletedCheckpointInfo info;
  info.id = metadata.checkpoint_id();
  info.kind = metadata.kind();
  info.path = absl::StrCat(storage_->root(), "/", snapshot::CheckpointFolder(info.id));
  info.trigger_time_ms = metadata.timestamp_ms();
  info.size_bytes = files.TotalBytes();
  return info;
}

absl::StatusOr<std::vector<StoredCheckpoint>> CheckpointCoordinator::ScanStorage(
    snapshot::SnapshotStorage& storage) {
  absl::StatusOr<std::vector<std::string>> names = ListRoot(storage);
  if (!names.ok()) {
    return absl::Status(names.status().code(),
                        absl::StrCat("cannot list checkpoints in ", storage.root(), ": ",
                                     names.status().message()));
  }
  std::vector<StoredCheckpoint> found;
  for (const std::string& name : *names) {
    std::optional<int64_t> id = ParseCheckpointFolder(name);
    if (!id) continue;
    StoredCheckpoint s{*id, snapshot::ReadMetadata(storage, MetadataPath(*id))};
    if (s.metadata.ok() && s.metadata->checkpoint_id() != *id) {
      s.metadata = absl::DataLossError(
          absl::StrCat("its metadata names checkpoint ", s.metadata->checkpoint_id()));
    }
    found.push_back(std::move(s));
  }
  std::sort(found.begin(), found.end(),
            [](const StoredCheckpoint& a, const StoredCheckpoint& b) { return a.id < b.id; });
  return found;
}

}  // namespace sluice::jobmanager::checkpoint
