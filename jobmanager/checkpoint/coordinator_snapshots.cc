// CheckpointCoordinator: snapshots triggered on demand (savepoints, stop-with-savepoint, a
// rescale's stop), the copy of a savepoint's files while its checkpoint is pinned, and the pin of
// the checkpoint a job restores (docs/savepoints.md).
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/checkpoint/coordinator.h"
#include "jobmanager/checkpoint/coordinator_internal.h"

namespace sluice::jobmanager::checkpoint {

using internal::Log;

void CheckpointCoordinator::TriggerSnapshot(TriggerOptions options, TriggerCallback triggered,
                                            SnapshotCallback done) {
  executor_.Post([this, options = std::move(options), triggered = std::move(triggered),
                  done = std::move(done)]() mutable {
    // A savepoint, stop or rescale waits its turn; a plain checkpoint on demand is refused.
    const bool waits = !options.savepoint_dir.empty() || options.stop || options.restore_after;
    if (waits && (!queued_snapshots_.empty() || absl::IsResourceExhausted(CheckCanTrigger()))) {
      queued_snapshots_.push_back({std::move(options), std::move(triggered), std::move(done)});
      MaybeTriggerQueued();  // nothing to wait for when the limit is not the reason
      ScheduleWakeup();
      return;
    }
    absl::StatusOr<int64_t> id = Trigger(std::move(options), std::move(done));
    if (triggered) triggered(id);
  });
}

void CheckpointCoordinator::MaybeTriggerQueued() {
  while (!queued_snapshots_.empty() && !absl::IsResourceExhausted(CheckCanTrigger())) {
    QueuedSnapshot q = std::move(queued_snapshots_.front());
    queued_snapshots_.pop_front();
    absl::StatusOr<int64_t> id = Trigger(std::move(q.options), std::move(q.done));
    if (q.triggered) q.triggered(id);
  }
}

void CheckpointCoordinator::FailQueued(const absl::Status& why) {
  std::deque<QueuedSnapshot> queued;
  queued.swap(queued_snapshots_);
  for (QueuedSnapshot& q : queued) {
    if (q.triggered) q.triggered(why);
  }
}

// A plain checkpoint is announced at once; a savepoint once its files are copied, off this
// executor (the checkpoint is pinned since Complete). A stop-with-savepoint's subtasks finish
// once told that it completed, so they are told only once its savepoint is written.
void CheckpointCoordinator::Announce(int64_t id, int64_t trigger_time_ms,
                                     const TriggerOptions& options, SnapshotCallback done,
                                     const proto::CheckpointMetadata& metadata) {
  PublishStats();
  if (!options.stop || options.savepoint_dir.empty()) {
    if (callbacks_.notify_complete) callbacks_.notify_complete(id, metadata);
  }
  if (options.savepoint_dir.empty()) {
    if (!done) return;
    SnapshotResult result;
    result.checkpoint_id = id;
    result.metadata = metadata;
    result.path = absl::StrCat(storage_->root(), "/", snapshot::CheckpointFolder(id));
    result.duration_ms = clock_() - trigger_time_ms;
    done(std::move(result));
    return;
  }
  auto md = std::make_shared<const proto::CheckpointMetadata>(metadata);
  auto path = std::make_shared<absl::StatusOr<std::string>>();
  Log()->info("Job {}: copying checkpoint {} into a savepoint (pinned meanwhile)", job_.job_id, id);
  PostIo([this, md, path, dir = options.savepoint_dir] { *path = writer_(*md, *storage_, dir); },
         [this, id, stop = options.stop, md, path, trigger_time_ms, done = std::move(done)] {
           OnSavepointWritten(id, stop, *md, trigger_time_ms, done, *path);
         },
         &savepoint_executor_);
}

// Runs even after Stop() began: Stop() waits for copies under way and delivers their outcome.
void CheckpointCoordinator::OnSavepointWritten(int64_t id, bool stop,
                                               const proto::CheckpointMetadata& metadata,
                                               int64_t trigger_time_ms, SnapshotCallback done,
                                               const absl::StatusOr<std::string>& path) {
  DeleteDropped(store_.Unpin(id));
  cleaner_.CheckpointEnded(Users());
  PublishStats();
  // The owner logs the outcome (with the job's name).
  if (path.ok() && stop && lifecycle_ != Lifecycle::kStopped && callbacks_.notify_complete) {
    callbacks_.notify_complete(id, metadata);  // the subtasks commit and finish
  }
  if (!done) return;
  SnapshotResult result;
  result.checkpoint_id = id;
  result.metadata = metadata;
  result.path = path;
  result.duration_ms = clock_() - trigger_time_ms;
  done(std::move(result));
}

// Pins the new one before the previous one goes: unpinning may let retention drop what is beyond
// `num_retained`, which the new one may be.
bool CheckpointCoordinator::PinForRestore(int64_t id) {
  if (restore_pin_ == id) return true;
  if (!store_.Pin(id)) return false;
  ReleaseRestorePin();
  restore_pin_ = id;
  Log()->debug("Job {}: checkpoint {} pinned for the restore", job_.job_id, id);
  return true;
}

void CheckpointCoordinator::ReleaseRestorePin() {
  if (!restore_pin_) return;
  const int64_t id = *restore_pin_;
  restore_pin_.reset();
  Log()->debug("Job {}: checkpoint {} no longer pinned for the restore", job_.job_id, id);
  DeleteDropped(store_.Unpin(id));
}

}  // namespace sluice::jobmanager::checkpoint
