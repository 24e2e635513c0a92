// Task: one subtask of an operator chain, running on its own thread. The thread instantiates the
// chain's operators from the package, wires chained outputs (records passed as objects) and record
// writers (records serialized into network buffers), then runs the source loop or the input loop,
// calls EndInput down the chain at end of input, and reports each state change. Cancel may be
// called from any thread; it releases the task's partitions and closes its input so a blocked
// thread wakes.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/states.h"
#include "common/thread_pool.h"
#include "sluice/environment.h"
#include "sluice_proto/checkpoint.pb.h"
#include "sluice_proto/cluster.pb.h"
#include "taskmanager/network/buffer_pool.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/partition_manager.h"
#include "taskmanager/network/remote_channel.h"
#include "taskmanager/network/wait_timer.h"
#include "taskmanager/task_metrics.h"

namespace sluice::taskmanager {

//! Where a task sends the outcome of its part of a checkpoint. Called from I/O threads.
class CheckpointResponder {
 public:
  virtual ~CheckpointResponder() = default;
  virtual void Acknowledge(const proto::TaskDeployment& task, int64_t checkpoint_id,
                           std::vector<proto::OperatorSubtaskState> state,
                           const proto::SubtaskCheckpointStats& stats) = 0;
  virtual void Decline(const proto::TaskDeployment& task, int64_t checkpoint_id,
                       const std::string& reason) = 0;
};

//! Services for a task's state: its local working folder, the I/O pool for uploads, the responder.
struct StateContext {
  std::string local_dir;
  ThreadPool* io = nullptr;
  CheckpointResponder* responder = nullptr;
};

struct NetworkContext {
  network::PartitionManager* partitions = nullptr;
  network::ConnectionManager* connections = nullptr;
  std::shared_ptr<network::NetworkBufferPool> buffers;
  std::string local_taskmanager_id;
  int buffers_per_channel = 2;  // exclusive buffers per remote input channel
  int floating_per_gate = 8;    // floating buffers per input gate (and per output partition)
};

//! Why a task FAILED; `snapshot_damaged`: its restore found the snapshot damaged.
struct TaskFailure {
  std::string message;
  bool snapshot_damaged = false;
};

class Task {
 public:
  using Failure = TaskFailure;
  using StateListener =
      std::function<void(const proto::TaskDeployment&, SubtaskState, const Failure& failure)>;

  //! Takes the task's network buffers; fails (ResourceExhausted) when the network memory is short.
  static absl::StatusOr<std::unique_ptr<Task>> Create(proto::TaskDeployment deployment,
                                                      std::shared_ptr<const StreamEnvironment> env,
                                                      NetworkContext network, StateContext state,
                                                      StateListener listener);
  ~Task();

  void Start();
  void Cancel();
  //! From the coordinator (any thread): sources start checkpoint `id`; a task whose input has
  //! ended snapshots directly; others wait for the barriers.
  void TriggerCheckpoint(int64_t id, int64_t timestamp_ms, bool stop = false, bool drain = false);
  //! From the coordinator (any thread): checkpoint `id` completed or was aborted.
  void NotifyCheckpoint(int64_t id, bool complete);
  bool Done() const { return done_.load(); }
  const proto::TaskDeployment& deployment() const { return deployment_; }
  std::string DisplayName() const;
  TaskMetrics& metrics() { return metrics_; }

 private:
  //! Where the task's waits for input (or for a source's rate limit) are booked.
  network::WaitCounters IdleCounters() { return {&metrics_.idle_since_ns, &metrics_.idle_ns}; }
  class Aligner;

  Task(proto::TaskDeployment deployment, std::shared_ptr<const StreamEnvironment> env,
       NetworkContext network, StateContext state, StateListener listener);
  absl::Status SetUpNetwork();
  void Run();
  void SetState(SubtaskState to, const Failure& failure = {});

  // Task thread only.
  void BuildChain();
  void RunSource();
  void RunInputs();
  //! After end of input with checkpointing on: snapshot on trigger until a checkpoint taken
  //! after the end of input completes (it commits what the end of input pre-committed).
  void AwaitFinalCheckpoint();
  void Post(std::function<void()> mail);
  void ProcessMail();
  void FlushIfDue(bool force);
  //! The synchronous part of checkpoint `barrier`; forwards the barrier unless input has ended.
  void PerformCheckpoint(const network::CheckpointEvent& barrier, int64_t alignment_ns);
  void AbortCheckpoint(const network::CheckpointEvent& barrier, const std::string& reason);

  proto::TaskDeployment deployment_;
  std::shared_ptr<const StreamEnvironment> env_;
  NetworkContext net_;
  StateContext state_ctx_;
  StateListener listener_;
  SubtaskState state_ = SubtaskState::kDeploying;  // task thread only (and before Start)
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> done_{false};
  TaskMetrics metrics_;
  std::vector<std::shared_ptr<network::ResultPartition>> partitions_;  // fixed before Start
  std::shared_ptr<network::InputGate> gate_;                           // fixed before Start
  std::thread thread_;

  // Mail for the task thread (checkpoint triggers and notifications).
  absl::Mutex mail_mu_;
  std::deque<std::function<void()>> mail_ ABSL_GUARDED_BY(mail_mu_);
  absl::CondVar mail_cv_;  // wakes a sleeping source loop
  std::atomic<bool> has_mail_{false};

  // Task thread only, set up by BuildChain.
  struct Chain;
  std::unique_ptr<Chain> chain_;
};

}  // namespace sluice::taskmanager
