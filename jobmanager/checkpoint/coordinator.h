// CheckpointCoordinator: triggers the checkpoints of one job, collects the subtasks'
// acknowledgements, writes `chk-<n>/_metadata` once all are in, keeps the last `num_retained`
// completed checkpoints (deleting older ones and shared files nobody references any more), counts
// failed checkpoints and fails the job over when there are too many in a row (Flink's
// CheckpointCoordinator, simplified; docs/checkpointing.md).
//
// Its collaborators, each in its own file: CompletedCheckpointStore (what is retained, and what
// retention drops), SharedStateRegistry (which checkpoint names which
// shared file), CheckpointFailureManager (consecutive failures against the tolerable ones) and
// CheckpointStatsTracker (figures of ended checkpoints); the words they share are in
// checkpoint_stats.h.
//
// Owned by the JobMaster of the job, one per job. All state is confined to the coordinator's own
// SerialExecutor; public methods may be called from any thread (they post to it, or wait for it
// where they return something). File writes and deletions run on a second executor, never on the
// coordinator's. Callbacks run on the coordinator's executor: they must not block, and may call
// any method of the coordinator except Drain(). Stop() ends it: after Stop() returns no callback
// runs any more; the destructor drops whatever is still queued.
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

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config/config.h"
#include "common/executor.h"
#include "common/snapshot/storage.h"
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
  //! Time between periodic triggers; 0: no periodic checkpoints (TriggerNow() only). Default 0.
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

struct CoordinatorStats {
  std::vector<CompletedCheckpointInfo> completed;  //!< retained, newest first
  std::vector<CheckpointStats> in_progress;        //!< oldest first
  std::vector<CheckpointStats> history;            //!< ended ones, newest first, bounded
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
  static absl::StatusOr<std::unique_ptr<CheckpointCoordinator>> Create(
      CheckpointConfig config, CheckpointJobInfo job, snapshot::SnapshotStorage* storage,
      CheckpointCallbacks callbacks, CheckpointClock clock = {});
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
  //! failure) and stops triggering until Resume(). Synchronous.
  void Suspend();
  //! Starts periodic triggering again after Suspend().
  void Resume();
  //! Stops triggering and aborts every checkpoint in progress (not counted as failures); waits
  //! for their files to be deleted. No callback runs after it returns.
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

  //! Triggers a checkpoint now (min pause does not apply; max concurrent does). Returns its id,
  //! FailedPrecondition when suspended, stopped or without tasks, ResourceExhausted when too
  //! many checkpoints are in progress.
  absl::StatusOr<int64_t> TriggerNow(TriggerOptions options = {});
  //! Acts on the clock: expires overdue checkpoints, triggers a due periodic one. Timers call it
  //! too; tests that drive the clock call it after moving it.
  void Tick();
  //! Waits until everything posted so far, and the file operations it led to, has run (tests).
  //! Not from a callback.
  void Drain();

  //! The metadata of the newest retained completed checkpoint.
  std::optional<proto::CheckpointMetadata> LatestCompleted();
  //! The metadata of retained completed checkpoint `id` (the coordinator's own copy).
  std::optional<proto::CheckpointMetadata> CompletedMetadata(int64_t id);
  CoordinatorStats Stats();
  //! For a job restart: the checkpoint to restore. Every completed checkpoint has been announced
  //! to the subtasks (sinks commit on it), so only the newest retained one restores exactly once.
  //! Its `_metadata` comes from the coordinator's copy (a damaged or missing file is rewritten from
  //! it, with a WARN line); its files are checked (present, regular, of their recorded size).
  //! When they are damaged: FailedPrecondition naming the checkpoint and the damage — unless
  //! `accept_duplicates`, which drops it (its files stay for inspection) and tries the next older
  //! one, until none is left (FailedPrecondition again: never nothing once one completed).
  //! nullopt when no checkpoint ever completed. Storage errors that are not damage are returned.
  absl::StatusOr<std::optional<proto::CheckpointMetadata>> RecoverLatest(bool accept_duplicates);
  //! A restore of checkpoint `id` found it damaged (a subtask read a bad file) and older ones may
  //! be restored instead (accept-duplicates): it is no longer retained; its files stay.
  void DropDamaged(int64_t id);
  //! Retained checkpoint `id` is being read (its files copied into a savepoint): retention keeps
  //! it, and the shared files it names, beyond `num_retained` until as many Unpin() calls came.
  //! Periodic checkpoints go on meanwhile. False when `id` is not retained (any more).
  bool Pin(int64_t id);
  //! Ends one Pin(); a checkpoint beyond `num_retained` is then deleted as retention says.
  void Unpin(int64_t id);

  //! Every `chk-<n>` folder in `storage`'s root, oldest first, with its metadata read back.
  static absl::StatusOr<std::vector<StoredCheckpoint>> ScanStorage(
      snapshot::SnapshotStorage& storage);

 private:
  struct Pending;
  enum class Lifecycle { kCreated, kRunning, kSuspended, kStopped };

  CheckpointCoordinator(CheckpointConfig config, CheckpointJobInfo job,
                        snapshot::SnapshotStorage* storage, CheckpointCallbacks callbacks,
                        CheckpointClock clock);
  void Adopt(std::vector<StoredCheckpoint> stored);
  //! Runs `fn` on the executor (directly when already there) and returns its result.
  template <typename F>
  auto RunSync(F fn) -> decltype(fn()) {
    if (executor_.IsCurrentThread()) return fn();
    return executor_.Call(std::move(fn));
  }
  bool SetLifecycle(Lifecycle to);

  // Triggering and time.
  absl::StatusOr<int64_t> Trigger(TriggerOptions options = {});
  absl::Status CheckCanTrigger() const;
  void OnTick();
  void MaybeTriggerPeriodic(int64_t now);
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
  void DeleteIfUnreferenced(const std::vector<std::string>& shared_paths);
  void DeleteDeferred();
  bool NamedByPending(const std::string& path) const;
  void DeleteFiles(std::vector<std::string> paths);
  void PostIo(std::function<void()> io, std::function<void()> then = {});

  // Statistics.
  CheckpointStats StatsOf(const Pending& pending, int64_t now) const;
  CompletedCheckpointInfo InfoOf(const proto::CheckpointMetadata& metadata) const;

  const CheckpointConfig config_;
  const CheckpointJobInfo job_;
  snapshot::SnapshotStorage* const storage_;
  const CheckpointCallbacks callbacks_;
  const CheckpointClock clock_;

  // Executor-confined state.
  Lifecycle lifecycle_ = Lifecycle::kCreated;
  std::vector<TaskKey> tasks_;
  std::set<TaskKey> finished_;  // of tasks_, acknowledge no more
  std::vector<OperatorInfo> operators_;
  int64_t next_id_ = 1;
  std::map<int64_t, std::unique_ptr<Pending>> pending_;
  CompletedCheckpointStore store_;
  SharedStateRegistry shared_;
  // Unreferenced shared files kept until the checkpoints up to this id, in progress when they
  // were released, ended.
  std::map<std::string, int64_t> deferred_;
  CheckpointStatsTracker stats_{kHistorySize};  // counts in this coordinator's life
  CheckpointFailureManager failures_;
  bool ever_completed_ = false;              // by this coordinator, or found on storage at Create
  std::optional<int64_t> last_end_ms_;       // end of the last completed or failed checkpoint
  std::optional<int64_t> next_periodic_ms_;  // when the next periodic trigger is due
  std::optional<int64_t> wakeup_ms_;         // earliest timer posted and not yet run
  int io_in_flight_ = 0;                     // file operations posted, continuation not yet run

  SerialExecutor executor_;
  // Metadata writes and deletions, in order: a deletion posted after a write runs after it.
  SerialExecutor io_executor_;
};

}  // namespace sluice::jobmanager::checkpoint
