// JobMaster: runs one job. Holds its execution graph (subtasks with states and slots), deploys the
// subtasks, applies state updates from TaskManagers, and drives the job state machine (RUNNING ->
// FINISHED, FAILING -> FAILED, CANCELLING -> CANCELED, RUNNING -> RESTARTING -> RUNNING) through
// its JobStateMachine, which owns every transition of the job and of a rescale. With
// checkpointing on it owns the job's CheckpointCoordinator and, after a failure the restart
// strategy allows, redeploys every subtask from the newest completed checkpoint — that one or
// none: once its sinks may have committed a checkpoint, restoring an older one would duplicate
// output, so a damaged newest checkpoint stops the job (docs/checkpointing.md, "Damaged
// snapshots"). Owned by the Dispatcher; all work runs on its own SerialExecutor, public methods
// may be called from any thread. Calls to TaskManagers go through their gateways (each with its
// own executor); their outcomes come back through a PostBox closed by the destructor, and so do the
// coordinator's answers (savepoints, what a restart restores): the JobMaster never waits for the
// coordinator. Blocking file I/O of its own (creating the coordinator, which reads the checkpoint
// folder; stopping it and removing empty folders at the end) runs on a second executor, never on
// the main one.
//
// The code is spread over job_master.cc (lifecycle, deployment, state updates, views),
// job_master_checkpoints.cc (the coordinator's callbacks), job_master_recovery.cc (failures,
// restarts, what a restart restores) and job_master_snapshots.cc (savepoints, stop, rescale).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/config/config.h"
#include "common/executor.h"
#include "common/snapshot/storage.h"
#include "common/states.h"
#include "jobmanager/checkpoint/coordinator.h"
#include "jobmanager/eventtime/watermark_alignment.h"
#include "jobmanager/execution_plan.h"
#include "jobmanager/job_state_machine.h"
#include "jobmanager/resource_manager.h"
#include "jobmanager/restart_strategy.h"
#include "sluice_proto/client.pb.h"
#include "sluice_proto/cluster.pb.h"

namespace sluice::jobmanager {

struct JobSpec {
  std::string job_id;
  std::string name;
  std::string package_sha256;
  std::map<std::string, std::string> args;
  proto::JobGraph graph;
  ExecutionPlan plan;
  int64_t buffer_timeout_ms = 100;
  int64_t auto_watermark_interval_ms = 200;
  //! The job's configuration: the JobManager's, with the submission's overrides on top.
  config::Configuration config;
  //! Snapshot storage rooted at `<state.checkpoints.dir>/<job-id>` (checkpoints, and the
  //! checkpoints savepoints are copied from).
  std::shared_ptr<snapshot::SnapshotStorage> checkpoint_storage;
  //! Set when the job starts from a savepoint or retained checkpoint (`run --from-savepoint`).
  std::optional<proto::CheckpointMetadata> restore;
  std::string restore_base_dir;  // the folder the snapshot's file paths are relative to
};

//! A checkpoint as the client API shows it (internal to the JobMaster's files).
proto::CheckpointInfo ToInfo(const checkpoint::CompletedCheckpointInfo& c);
proto::CheckpointInfo ToInfo(const checkpoint::CheckpointStats& c);

class JobMaster {
 public:
  //! `on_terminal` runs (on the JobMaster's executor) once the job reached a terminal state.
  JobMaster(JobSpec spec, std::vector<SlotAssignment> slots, ResourceManager* resource_manager,
            std::function<void(const std::string& job_id)> on_terminal);
  ~JobMaster();

  void Start();
  void Cancel();
  void OnTaskStateUpdate(const proto::TaskStateUpdate& update);
  //! Keeps the latest metrics of each subtask attempt, shown by Status().
  void OnMetrics(std::vector<proto::SubtaskMetrics> metrics);
  void OnTaskManagerLost(const std::string& tm_id, const std::string& reason);
  //! Replaces `old_reason` by `new_reason` wherever the job quotes it (failure, restart cause,
  //! exceptions history, subtask failures).
  void CorrectFailureReason(const std::string& old_reason, const std::string& new_reason);
  void OnAcknowledgeCheckpoint(const proto::AcknowledgeCheckpointRequest& ack);
  void OnDeclineCheckpoint(const proto::DeclineCheckpointRequest& decline);

  proto::JobStatus Status();
  proto::JobSummary Summary();
  proto::CheckpointsResponse Checkpoints();
  //! The job graph the job runs now.
  proto::JobGraph Graph();
  // Fixed at submission.
  const std::string& package_sha256() const { return spec_.package_sha256; }
  const std::map<std::string, std::string>& args() const { return spec_.args; }
  const config::Configuration& config() const { return spec_.config; }

  //! Takes a savepoint into `dir` (absolute); with `stop` the job finishes after it. Blocks until
  //! the savepoint is complete; returns its folder.
  absl::StatusOr<std::string> TriggerSavepoint(const std::string& dir, bool stop, bool drain);
  //! Stop-with-savepoint, then the job again from it with `graph`/`plan` (built at the new
  //! parallelism). Blocks until the savepoint is complete; the redeployment follows.
  absl::StatusOr<std::string> Rescale(int parallelism, proto::JobGraph graph, ExecutionPlan plan);

  //! The watermark alignment groups of the job's sources; thread-safe.
  WatermarkAlignment& alignment() { return alignment_; }

  //! Transitions of the job or a rescale that were refused as illegal: a bug; tests expect none.
  int64_t IllegalTransitions();

 private:
  struct Subtask {
    SubtaskState state = SubtaskState::kCreated;
    std::string attempt_id;
    std::string failure;
    std::optional<proto::SubtaskMetrics> metrics;  // latest report of attempt_id
    int64_t start_ms = 0;                          // deployed (epoch ms)
    int64_t end_ms = 0;                            // reached a terminal state
  };
  //! The subtask or TaskManager a failure came from, kept for the exception history.
  struct FailureOrigin {
    std::string task;
    std::string taskmanager;
  };
  struct Vertex {
    TaskVertex plan;
    std::vector<Subtask> subtasks;
  };

  //! A savepoint or a rescale's stop-with-savepoint in progress.
  struct PendingSavepoint {
    std::string dir;  // empty for a rescale (restored from the checkpoint folder directly)
    bool rescale = false;
    bool stop = false;
    bool drain = false;
    std::shared_ptr<std::promise<absl::StatusOr<std::string>>> done;
  };
  //! What a rescale deploys; set while the machine's rescale phase is not IDLE.
  struct RescaleTarget {
    int parallelism = 0;
    proto::JobGraph graph;
    ExecutionPlan plan;
  };

  //! CREATED -> RUNNING and the first deployment, once the coordinator (if any) is set up.
  void StartRunning();
  // Checkpoints (job_master_checkpoints.cc).
  //! I/O executor: the job's coordinator (reads the checkpoint folder); null without storage.
  absl::StatusOr<std::unique_ptr<checkpoint::CheckpointCoordinator>> CreateCoordinator();
  void InstallCoordinator(std::unique_ptr<checkpoint::CheckpointCoordinator> coordinator);
  void SetCoordinatorTasks();
  //! Sends the trigger of checkpoint `id` to every RUNNING subtask; a trigger that fails aborts
  //! the checkpoint at once.
  void TriggerAll(int64_t id, int64_t timestamp_ms, const checkpoint::TriggerOptions& options);
  //! Tells every RUNNING subtask that checkpoint `id` completed or was aborted.
  void NotifyAll(int64_t id, bool complete);
  //! `metadata`: the coordinator's copy of what `_metadata` holds (never read back from the file).
  void OnCoordinatorCompleted(int64_t id, const proto::CheckpointMetadata& metadata);
  //! Asks the coordinator for the snapshot behind a savepoint or a rescale; retries while another
  //! checkpoint is in progress (OnSavepointTriggered).
  void StartSavepoint(PendingSavepoint sp, int tries);
  void OnSavepointTriggered(const PendingSavepoint& sp, int tries,
                            const absl::StatusOr<int64_t>& id);
  //! The coordinator's answer: the savepoint written (or the rescale's checkpoint), or why not.
  void OnSavepointDone(const PendingSavepoint& sp, const checkpoint::SnapshotResult& result);
  void FailSavepoint(const PendingSavepoint& sp, const absl::Status& status);
  //! All subtasks finished after a rescale's stop-with-savepoint: redeploy at the new parallelism.
  void RedeployRescaled();
  absl::Status CheckSlotsFor(const ExecutionPlan& plan);
  //! One Vertex per task of spec_.plan, subtasks not yet attempted.
  void BuildVertices();
  void NewAttempts();
  void DeployAll();
  //! Replaces `old_reason` by `new_reason` wherever a failure was recorded (executor thread).
  void ReplaceFailureText(const std::string& old_reason, const std::string& new_reason);
  bool SetSubtaskState(Vertex& v, int index, SubtaskState to, const std::string& failure = "");
  //! Through the state machine; false (and nothing done) when it refuses the transition.
  bool SetJobState(JobState to);
  // Failures and restarts (job_master_recovery.cc).
  //! A subtask failed or a TaskManager was lost: restart if the strategy allows, else fail.
  void HandleFailure(const std::string& reason);
  void FailJob(const std::string& reason);
  void Restart(const std::string& reason);
  //! Adds the failure the job restarts (or fails) on to the exception history, with the subtask
  //! that failed first (failure_origin_), and forgets that origin.
  void RecordException(const std::string& reason, bool restarted);
  //! Chooses what to restore (the coordinator checks its files and pins it), releases, redeploys.
  void RedeployAfterRestart();
  //! What the next attempt restores: `latest` (the coordinator's RecoverLatest) when a checkpoint
  //! completed, or the snapshot the job started from when none did. False (the job is failing)
  //! when that cannot be restored.
  bool ChooseRestore(const absl::StatusOr<std::optional<proto::CheckpointMetadata>>& latest);
  //! Takes slots for the next attempt (retrying while too few are free), then deploys it.
  void AllocateAndRedeploy(int tries);
  //! A subtask could not restore its state because the snapshot is damaged: stop the job (rule of
  //! docs/checkpointing.md), or with accept-duplicates fall back to an older checkpoint.
  void OnRestoreDamaged(const std::string& detail);
  //! state.checkpoints.recovery.accept-duplicates: fall back to older checkpoints when the newest
  //! is damaged.
  bool AcceptDuplicates() const {
    return spec_.config.GetBool("state.checkpoints.recovery.accept-duplicates");
  }
  //! Why a job whose checkpoint `damaged_id` cannot be restored (`what`) stops, and the ways out.
  std::string DamagedSnapshotReason(int64_t damaged_id, const std::string& what);
  //! ReleaseJob on every TaskManager of the job that is not lost, then `then` (on some thread).
  void ReleaseOnTaskManagers(std::function<void()> then);
  void CancelRemaining();
  void CheckCompletion();
  void MaybeStartCheckpointing();
  //! Runs fn(vertex, subtask index, subtask) for every RUNNING subtask.
  void ForEachRunning(const std::function<void(const Vertex&, int, const Subtask&)>& fn);
  Vertex* FindVertex(uint32_t id);
  //! The TaskManager slot `subtask` runs in; empty while it has none.
  std::string TaskManagerOf(int subtask) const;
  //! The vertex and index of a current attempt; false for unknown or superseded attempts.
  bool FindAttempt(const std::string& attempt_id, Vertex** v, int* index);

  JobSpec spec_;
  std::vector<SlotAssignment> slots_;
  ResourceManager* resource_manager_;
  std::function<void(const std::string&)> on_terminal_;

  // Executor-confined state.
  std::vector<Vertex> vertices_;
  std::map<std::string, std::pair<uint32_t, int>> attempts_;  // attempt id -> (vertex, subtask)
  JobStateMachine machine_;
  std::string failure_;        // why the job fails (FAILING, FAILED)
  std::string restart_cause_;  // why it restarted last
  //! The first failure of the current attempt (what the job failed or restarted for).
  std::string attempt_failure_;
  std::string waiting_for_;  // while RESTARTING: what the restart waits for, for `sluice status`
  std::set<std::string> lost_taskmanagers_;  // no more RPCs to these
  WatermarkAlignment alignment_;             // its own lock: the metrics RPC answers from it
  int64_t start_ms_ = 0;
  int64_t end_ms_ = 0;
  std::map<std::string, int64_t> state_timestamps_;  // job state -> epoch ms last entered
  std::deque<proto::JobException> exceptions_;       // newest first, bounded
  std::optional<FailureOrigin> failure_origin_;      // the subtask that failed last
  int attempt_number_ = 0;
  int64_t num_restarts_ = 0;
  bool checkpointing_started_ = false;
  std::unique_ptr<RestartStrategy> restart_strategy_;
  std::unique_ptr<checkpoint::CheckpointCoordinator> coordinator_;
  std::optional<proto::CheckpointMetadata> restore_;    // what the current attempt restores
  std::string restore_base_dir_;                        // what restore_'s paths are relative to
  std::vector<proto::CheckpointInfo> savepoint_infos_;  // completed savepoints, oldest first
  RescaleTarget rescale_;                               // while machine_.rescale() is not IDLE

  absl::Mutex summary_mu_;
  proto::JobSummary summary_ ABSL_GUARDED_BY(summary_mu_);

  SerialExecutor executor_;
  //! How outcomes of calls to TaskManagers (each gateway has its own executor) come back.
  std::shared_ptr<PostBox> inbox_;
  // Blocking file I/O, never on executor_. Shut down first by the destructor.
  SerialExecutor io_executor_;

  friend class JobMasterTestPeer;
};

}  // namespace sluice::jobmanager
