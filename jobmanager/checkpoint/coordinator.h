// CheckpointCoordinator: triggers every snapshot of one job — periodic checkpoints, savepoints,
// stop-with-savepoint (with or without drain) and a rescale's stop — collects the subtasks'
// acknowledgements, writes `chk-<n>/_metadata` once all are in, copies a savepoint's files into its
// folder, keeps the last `num_retained` completed checkpoints (deleting older ones and shared files
// nobody references any more), counts failed checkpoints and fails the job over when there are too
// many in a row (Flink's CheckpointCoordinator, simplified; docs/checkpointing.md). A checkpoint
// whose files are being read — copied into a savepoint, or restored by the job — is pinned:
// retention keeps it (periodic checkpoints go on meanwhile).
//
// Its collaborators, each in its own file: CompletedCheckpointStore (what is retained and pinned,
// and what retention drops), SharedStateRegistry (which checkpoint names which shared file),
// CheckpointCleaner (deletes what is discarded, on the I/O executor), CheckpointFailureManager
// (consecutive failures against the tolerable ones) and CheckpointStatsTracker (figures of ended
// checkpoints); the words they share are in checkpoint_stats.h.
//
// Owned by the JobMaster of the job, one per job. All state is confined to the coordinator's own
// SerialExecutor; public methods may be called from any thread and post to it — the owner never
// waits for it: results come back through callbacks, and Stats() reads a copy published after
// each change. Only Stop() and the methods for tests (Tick, Drain, LatestCompleted,
// CompletedMetadata) wait. File writes and deletions run on a second executor (`chkio-`), savepoint
// copies on a third (`chksp-`, so that a long copy does not hold up the next checkpoint's
// `_metadata`), never on the coordinator's. Callbacks run on the coordinator's executor: they must
// not block, and may call any method of the coordinator except those that wait. Stop() ends it:
// after Stop() returns no callback runs any more; the destructor drops whatever is still queued.
#pragma once

#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/config/config.h"
#include "common/executor.h"
#include "common/snapshot/storage.h"
#include "jobmanager/checkpoint/checkpoint_cleaner.h"
#include "jobmanager/checkpoint/checkpoint_stats.h"
#include "jobmanager/checkpoint/completed_store.h"
#include "jobmanager/checkpoint/failure_manager.h"
#include "jobmanager/checkpoint/shared_state_registry.h"
#include "jobmanager/checkpoint/stats_tracker.h"
#include "sluice_proto/checkpoint.pb.h"

namespace sluice::jobmanager::checkpoint {

//! An operator of the job, as `_metadata` lists it.
struct OperatorInfo {
  std::string uid;
  uint32_t node_id = 0;
  int parallelism = 1;
  int max_parallelism = 128;
};

struct CheckpointConfig {
  //! Time between periodic triggers; 0: no periodic checkpoints (TriggerSnapshot() only).
  //! Default 0.
  int64_t interval_ms = 0;
  //! A checkpoint not complete this long after its trigger expires. Default 10 min.
  int64_t timeout_ms = 600'000;
  //! Least time from the end of one checkpoint to the next periodic trigger; when > 0 at most
  //! one checkpoint is in progress, whatever max_concurrent says (as in Flink). Default 0.
  int64_t min_pause_ms = 0;
  //! Checkpoints in progress at once. Default 1.
  int max_concurrent = 1;
  //! Consecutive failed checkpoints tolerated; one more fails the job over. Default 0.
  int tolerable_failures = 0;
  //! Completed checkpoints kept; older ones and their files are deleted. Default 1.
  int num_retained = 1;

  //! From `execution.checkpointing.*` and `state.checkpoints.num-retained`.
  static CheckpointConfig FromConfiguration(const config::Configuration& c);
  //! InvalidArgument naming the field when a value is out of range.
  absl::Status Validate() const;
};

//! What `_metadata` says about the job.
struct CheckpointJobInfo {
  std::string job_id;
  std::string job_name;
  std::string package_sha256;
  std::string state_backend;  //!< "hashmap" | "rocksdb"
};

//! How the coordinator reaches the job's subtasks and its owner. All run on the coordinator's
//! executor and must not block (post RPCs elsewhere). Empty functions are skipped.
struct CheckpointCallbacks {
  //! Send the trigger to every running subtask, with the checkpoint's `options` (stop, drain).
  std::function<void(int64_t checkpoint_id, int64_t timestamp_ms, const TriggerOptions& options)>
      trigger;
  //! Tell every subtask that the checkpoint completed (transactional sinks commit). `metadata`
  //! is what `_metadata` holds (the coordinator's copy: no need to read the file back).
  std::function<void(int64_t checkpoint_id, const proto::CheckpointMetadata& metadata)>
      notify_complete;
  //! Tell every subtask that the checkpoint was aborted (cancel marker).
  std::function<void(int64_t checkpoint_id, std::string reason)> notify_aborted;
  //! More consecutive checkpoint failures than tolerable: fail the job over.
  std::function<void(std::string reason)> fail_job;
};

//! Milliseconds since the epoch. Injected so that tests drive time (then call Tick()).
using CheckpointClock = std::function<int64_t()>;
//! Writes the savepoint of a completed checkpoint into a folder under `dir` and returns it (as
//! WriteSavepoint does). Runs on the savepoint executor.
using SavepointWriter = std::function<absl::StatusOr<std::string>(
    const proto::CheckpointMetadata& checkpoint, snapshot::SnapshotStorage& source,
    const std::string& dir)>;

//! How a snapshot triggered by TriggerSnapshot() ended.
struct SnapshotResult {
  int64_t checkpoint_id = 0;
  //! What the checkpoint's `_metadata` holds, once it completed (the coordinator's own copy).
  std::optional<proto::CheckpointMetadata> metadata;
  //! The savepoint folder (`savepoint_dir` set) or the checkpoint's folder (`<root>/chk-<n>`) —
  //! or why there is none: the checkpoint was aborted (Aborted with the reason; `metadata` unset),
  //! or its savepoint could not be written (`metadata` set).
  absl::StatusOr<std::string> path;
  //! From the trigger to the end (the savepoint written).
  int64_t duration_ms = 0;
};

//! The id of a snapshot triggered on demand, or why none was: FailedPrecondition when suspended,
//! stopped, stopping or without tasks, ResourceExhausted when too many checkpoints are in progress.
using TriggerCallback = std::function<void(absl::StatusOr<int64_t> checkpoint_id)>;
//! Runs once on the coordinator's executor when a snapshot triggered on demand ended.
using SnapshotCallback = std::function<void(SnapshotResult result)>;
//! What a job restart restores: see CheckpointCoordinator::RecoverLatest().
using RecoverCallback =
    std::function<void(absl::StatusOr<std::optional<proto::CheckpointMetadata>> restore)>;

struct CoordinatorStats {
  std::vector<CompletedCheckpointInfo> completed;  //!< retained, newest first
  //! Retained checkpoints pinned (a savepoint being copied, what the job restores), oldest first.
  std::vector<int64_t> pinned;
  std::vector<CheckpointStats> in_progress;  //!< oldest first
  std::vector<CheckpointStats> history;      //!< ended ones, newest first, bounded
  int64_t completed_count = 0;
  int64_t failed_count = 0;
  int consecutive_failures = 0;
};

//! A `chk-<n>` folder found on storage.
struct StoredCheckpoint {
  int64_t id = 0;
  absl::StatusOr<proto::CheckpointMetadata> metadata;  //!< error: unreadable
};

class CheckpointCoordinator {
 public:
  //! Ended checkpoints kept in the statistics.
  static constexpr size_t kHistorySize = 20;

  //! A coordinator for the job whose checkpoint folder `storage` is rooted at (not owned, must
  //! outlive the coordinator). Completed checkpoints already on storage (newest num_retained with
  //! readable metadata) are retained, and ids continue after the highest `chk-<n>` found.
  //! `writer` copies savepoints (default WriteSavepoint; tests inject one they can hold up).
  static absl::StatusOr<std::unique_ptr<CheckpointCoordinator>> Create(
      CheckpointConfig config, CheckpointJobInfo job, snapshot::SnapshotStorage* storage,
      CheckpointCallbacks callbacks, CheckpointClock clock = {}, SavepointWriter writer = {});
  ~CheckpointCoordinator();
  CheckpointCoordinator(const CheckpointCoordinator&) = delete;
  CheckpointCoordinator& operator=(const CheckpointCoordinator&) = delete;

  //! The subtasks that must acknowledge, and the operators whose states `_metadata` groups.
  //! Applies to checkpoints triggered afterwards; forgets finished tasks.
  void SetTasks(std::vector<TaskKey> tasks, std::vector<OperatorInfo> operators);
  //! `task` finished (its input ended) and acknowledges no more checkpoints: those in progress
  //! stop waiting for it, later ones do not include it. Suspend() forgets finished tasks, as a
  //! restart redeploys every subtask.
  void TaskFinished(TaskKey task);
  //! Starts periodic triggering: the first checkpoint `interval` from now.
  void Start();
  //! For a job restart: aborts every checkpoint in progress ("job restarting", not counted as a
  //! failure) and stops triggering until Resume().
  void Suspend();
  //! Starts periodic triggering again after Suspend() (or after a stop's trigger).
  void Resume();
  //! Stops triggering and aborts every checkpoint in progress (not counted as failures); waits
  //! for savepoint copies under way to end (their callbacks run) and for the files of the aborted
  //! checkpoints to be deleted. No callback runs after it returns. Not from a callback.
  void Stop();
  //! Ids of later checkpoints are greater than `checkpoint_id` (a restored snapshot's id).
  void RestoreFrom(int64_t checkpoint_id);

  void Acknowledge(TaskKey task, int64_t checkpoint_id,
                   std::vector<proto::OperatorSubtaskState> states,
                   proto::SubtaskCheckpointStats stats);
  void Decline(TaskKey task, int64_t checkpoint_id, std::string reason);
  //! The trigger of `checkpoint_id` did not reach `task` (its TaskManager did not answer): the
  //! checkpoint is aborted at once — it could only expire — and, as in Flink, not counted as a
  //! failed checkpoint (the TaskManager's heartbeat decides whether it is gone).
  void TriggerFailed(TaskKey task, int64_t checkpoint_id, std::string reason);

  //! Triggers a snapshot now, as `options` say (min pause does not apply; max concurrent does).
  //! `triggered` gets its id or why none was triggered; `done` (may be empty) how it ended: with a
  //! savepoint directory the checkpoint stays pinned from its completion until its files are
  //! copied, and `done` runs after that. A stop-with-savepoint's subtasks are told that it
  //! completed only once its savepoint is written (a savepoint that cannot be written leaves the
  //! job able to fail over to the checkpoint instead of finishing without it). Both callbacks run
  //! on the coordinator's executor; `done` runs once `triggered` ran with an id, also when Stop()
  //! aborts. While as many checkpoints as allowed are in progress a savepoint, stop or rescale
  //! (a plain checkpoint is refused with ResourceExhausted) waits in a queue
  //! and goes before the next periodic checkpoint (so that a savepoint is not starved by periodic
  //! checkpoints that each end just in time for the next); Suspend() and Stop() fail what waits.
  void TriggerSnapshot(TriggerOptions options, TriggerCallback triggered,
                       SnapshotCallback done = {});
  //! Acts on the clock: expires overdue checkpoints, triggers a due periodic one. Timers call it
  //! too; tests that drive the clock call it after moving it. Waits (tests).
  void Tick();
  //! Waits until everything posted so far, and the file operations it led to, has run (tests) —
  //! not savepoint copies: wait for their callback. Not from a callback.
  void Drain();

  //! The metadata of the newest retained completed checkpoint. Waits (tests).
  std::optional<proto::CheckpointMetadata> LatestCompleted();
  //! The metadata of retained completed checkpoint `id` (the coordinator's own copy). Waits
  //! (tests).
  std::optional<proto::CheckpointMetadata> CompletedMetadata(int64_t id);
  //! The figures as last published (after every change, and before any callback that follows
  //! it); durations of checkpoints in progress are as of now. Never waits for the executor.
  CoordinatorStats Stats() const;
  //! For a job restart: the checkpoint to restore, handed to `done` (on the coordinator's
  //! executor). Every completed checkpoint has been announced to the subtasks (sinks commit on
  //! it), so only the newest retained one restores exactly once. Its `_metadata` comes from the
  //! coordinator's copy (a damaged or missing file is rewritten from it, with a WARN line); its
  //! files are checked (present, regular, of their recorded size) on the I/O executor. When they
  //! are damaged: FailedPrecondition naming the checkpoint and the damage — unless
  //! `accept_duplicates`, which drops it (its files stay for inspection) and tries the next older
  //! one, until none is left (FailedPrecondition again: never nothing once one completed).
  //! nullopt when no checkpoint ever completed. Storage errors that are not damage are returned.
  //! The checkpoint returned is pinned for the restore: retention keeps it until the restored
  //! job's first checkpoint completes (or the coordinator stops, or another restore is chosen).
  void RecoverLatest(bool accept_duplicates, RecoverCallback done);
  //! A restore of checkpoint `id` found it damaged (a subtask read a bad file) and older ones may
  //! be restored instead (accept-duplicates): it is no longer retained; its files stay.
  void DropDamaged(int64_t id);

  //! Every `chk-<n>` folder in `storage`'s root, oldest first, with its metadata read back.
  static absl::StatusOr<std::vector<StoredCheckpoint>> ScanStorage(
      snapshot::SnapshotStorage& storage);

 private:
  struct Pending;
  struct Recovery;
  enum class Lifecycle { kCreated, kRunning, kSuspended, kStopped };

  CheckpointCoordinator(CheckpointConfig config, CheckpointJobInfo job,
                        snapshot::SnapshotStorage* storage, CheckpointCallbacks callbacks,
                        CheckpointClock clock, SavepointWriter writer);
  void Adopt(std::vector<StoredCheckpoint> stored);
  //! Runs `fn` on the executor (directly when already there) and returns its result.
  template <typename F>
  auto RunSync(F fn) -> decltype(fn()) {
    if (executor_.IsCurrentThread()) return fn();
    return executor_.Call(std::move(fn));
  }
  bool SetLifecycle(Lifecycle to);

  // Triggering and time.
  absl::StatusOr<int64_t> Trigger(TriggerOptions options = {}, SnapshotCallback done = {});
  absl::Status CheckCanTrigger() const;
  void OnTick();
  void MaybeTriggerPeriodic(int64_t now);
  //! Triggers the snapshots waiting in queued_snapshots_ while the limit allows.
  void MaybeTriggerQueued();
  //! Fails every waiting snapshot with `why` (suspend, stop).
  void FailQueued(const absl::Status& why);
  void ExpireOverdue(int64_t now);
  std::optional<int64_t> NextDeadline() const;
  void ScheduleWakeup();
  size_t MaxConcurrent() const;

  // Acknowledgements and completion.
  void OnAcknowledge(TaskKey task, int64_t id, std::vector<proto::OperatorSubtaskState> states,
                     proto::SubtaskCheckpointStats stats);
  void OnDecline(TaskKey task, int64_t id, const std::string& reason);
  void OnTaskFinished(TaskKey task);
  void Finalize(Pending& pending);
  void OnMetadataWritten(int64_t id, std::shared_ptr<const proto::CheckpointMetadata> metadata,
                         const absl::Status& written);
  void Complete(std::unique_ptr<Pending> pending, const proto::CheckpointMetadata& metadata);
  proto::CheckpointMetadata BuildMetadata(const Pending& pending) const;
  void SubsumeOlderThan(int64_t id);
  //! Deletes the files of the checkpoints retention dropped (and their unreferenced shared ones).
  void DeleteDropped(const std::vector<int64_t>& ids);

  // Snapshots on demand, savepoint copies and pins (coordinator_snapshots.cc).
  //! A checkpoint completed: tells the owner and whoever triggered it, after copying its
  //! savepoint (pinned meanwhile) if it is one.
  void Announce(int64_t id, int64_t trigger_time_ms, const TriggerOptions& options,
                SnapshotCallback done, const proto::CheckpointMetadata& metadata);
  void OnSavepointWritten(int64_t id, bool stop, const proto::CheckpointMetadata& metadata,
                          int64_t trigger_time_ms, SnapshotCallback done,
                          const absl::StatusOr<std::string>& path);
  //! Pins `id` for a restore, in place of the previous restore pin; false when not retained.
  bool PinForRestore(int64_t id);
  void ReleaseRestorePin();
  void RecoverNext(std::shared_ptr<Recovery> recovery);

  // Failures and file cleanup.
  void Abort(int64_t id, const std::string& reason, bool counts_as_failure);
  void AbortAll(const std::string& reason);
  void CountFailure(int64_t id, const std::string& reason);
  void DiscardLateAcknowledge(TaskKey task, int64_t id,
                              const std::vector<proto::OperatorSubtaskState>& states);
  //! I/O executor: writes `metadata` as `_metadata` of checkpoint `id`, reads it back and checks
  //! the files it names, so that a checkpoint is declared complete only once it can be restored.
  absl::Status WriteAndVerify(int64_t id, const proto::CheckpointMetadata& metadata);
  //! I/O executor: whether retained checkpoint `metadata` can be restored; repairs its `_metadata`.
  absl::Status CheckRestorable(const proto::CheckpointMetadata& metadata);
  void DropDamagedNow(int64_t id);
  //! Who may still need a shared file: retained checkpoints and those in progress.
  SharedFileUsers Users() const;
  bool NamedByPending(const std::string& path) const;
  //! Runs `io` on `on` (default: the I/O executor), then `then` on the coordinator's executor.
  //! Drain() waits for both, except for savepoint copies (tests wait for their callback).
  void PostIo(std::function<void()> io, std::function<void()> then = {},
              SerialExecutor* on = nullptr);

  // Statistics.
  //! Marks the figures changed: they are published once the executor is idle or before the next
  //! callback (PublishStats), whichever comes first.
  void StatsChanged();
  void PublishStats();
  CheckpointStats StatsOf(const Pending& pending, int64_t now) const;
  CompletedCheckpointInfo InfoOf(const proto::CheckpointMetadata& metadata) const;

  const CheckpointConfig config_;
  const CheckpointJobInfo job_;
  snapshot::SnapshotStorage* const storage_;
  const CheckpointCallbacks callbacks_;
  const CheckpointClock clock_;
  const SavepointWriter writer_;

  // Executor-confined state.
  Lifecycle lifecycle_ = Lifecycle::kCreated;
  std::vector<TaskKey> tasks_;
  std::set<TaskKey> finished_;  // of tasks_, acknowledge no more
  std::vector<OperatorInfo> operators_;
  int64_t next_id_ = 1;
  std::map<int64_t, std::unique_ptr<Pending>> pending_;
  //! On-demand snapshots waiting for a checkpoint in progress to end, oldest first.
  struct QueuedSnapshot {
    TriggerOptions options;
    TriggerCallback triggered;
    SnapshotCallback done;
  };
  std::deque<QueuedSnapshot> queued_snapshots_;
  CompletedCheckpointStore store_;
  SharedStateRegistry shared_;
  CheckpointCleaner cleaner_;
  CheckpointStatsTracker stats_{kHistorySize};  // counts in this coordinator's life
  std::optional<int64_t> stopping_after_;       // a stop's checkpoint: no trigger after it
  std::optional<int64_t> restore_pin_;          // the checkpoint the job restores, pinned
  // Savepoints being copied: their callbacks, run by Stop() if it comes first.
  std::map<int64_t, SnapshotCallback> copying_;
  bool stats_dirty_ = false;
  bool publish_posted_ = false;
  CheckpointFailureManager failures_;
  bool ever_completed_ = false;              // by this coordinator, or found on storage at Create
  std::optional<int64_t> last_end_ms_;       // end of the last completed or failed checkpoint
  std::optional<int64_t> next_periodic_ms_;  // when the next periodic trigger is due
  std::optional<int64_t> wakeup_ms_;         // earliest timer posted and not yet run
  int io_in_flight_ = 0;                     // file operations posted, continuation not yet run

  // What Stats() returns, published from the executor.
  mutable absl::Mutex published_mu_;
  std::shared_ptr<const CoordinatorStats> published_ ABSL_GUARDED_BY(published_mu_);

  SerialExecutor executor_;
  // Metadata writes and deletions, in order: a deletion posted after a write runs after it.
  SerialExecutor io_executor_;
  // Savepoint copies: long, and independent of the checkpoints that go on meanwhile.
  SerialExecutor savepoint_executor_;
};

}  // namespace sluice::jobmanager::checkpoint
