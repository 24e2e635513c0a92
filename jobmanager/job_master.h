// JobMaster: runs one job. Holds its execution graph (subtasks with states and slots), deploys the
// subtasks, applies state updates from TaskManagers, and drives the job state machine (RUNNING ->
// FINISHED, FAILING -> FAILED, CANCELLING -> CANCELED). Owned by the Dispatcher; all work runs on
// its own SerialExecutor, public methods may be called from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/executor.h"
#include "common/states.h"
#include "jobmanager/execution_plan.h"
#include "jobmanager/resource_manager.h"
#include "sluice_proto/client.pb.h"

namespace sluice::jobmanager {

struct JobSpec {
  std::string job_id;
  std::string name;
  std::string package_sha256;
  std::map<std::string, std::string> args;
  proto::JobGraph graph;
  ExecutionPlan plan;
  int64_t buffer_timeout_ms = 100;
};

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

  proto::JobStatus Status();
  proto::JobSummary Summary();

 private:
  struct Subtask {
    SubtaskState state = SubtaskState::kCreated;
    std::string attempt_id;
    std::string failure;
    std::optional<proto::SubtaskMetrics> metrics;  // latest report of attempt_id
  };
  struct Vertex {
    TaskVertex plan;
    std::vector<Subtask> subtasks;
  };

  void DeployAll();
  void SetSubtaskState(Vertex& v, int index, SubtaskState to, const std::string& failure = "");
  void SetJobState(JobState to);
  void FailJob(const std::string& reason);
  void CancelRemaining();
  void CheckCompletion();
  Vertex* FindVertex(uint32_t id);

  JobSpec spec_;
  std::vector<SlotAssignment> slots_;
  ResourceManager* resource_manager_;
  std::function<void(const std::string&)> on_terminal_;

  // Executor-confined state.
  std::vector<Vertex> vertices_;
  std::map<std::string, std::pair<uint32_t, int>> attempts_;  // attempt id -> (vertex, subtask)
  JobState state_ = JobState::kCreated;
  std::string failure_;
  std::set<std::string> lost_taskmanagers_;  // no more RPCs to these
  int64_t start_ms_ = 0;
  int64_t end_ms_ = 0;

  absl::Mutex summary_mu_;
  proto::JobSummary summary_ ABSL_GUARDED_BY(summary_mu_);

  SerialExecutor executor_;
  // Outgoing RPCs to TaskManagers (deploy, cancel, release) run here, never on executor_, so that a
  // TaskManager that does not answer cannot stall status queries or state updates.
  SerialExecutor rpc_executor_;
};

}  // namespace sluice::jobmanager
