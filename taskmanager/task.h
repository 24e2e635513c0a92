// Task: one subtask of an operator chain, running on its own thread. The thread instantiates the
// chain's operators from the package, wires chained outputs (records passed as objects) and record
// writers (records serialized into network buffers), then runs the source loop or the input loop,
// calls EndInput down the chain at end of input, and reports each state change. Cancel may be
// called from any thread; it releases the task's partitions and closes its input so a blocked
// thread wakes.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/states.h"
#include "sluice/environment.h"
#include "sluice_proto/cluster.pb.h"
#include "taskmanager/network/buffer_pool.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/partition_manager.h"
#include "taskmanager/network/remote_channel.h"
#include "taskmanager/task_metrics.h"

namespace sluice::taskmanager {

struct NetworkContext {
  network::PartitionManager* partitions = nullptr;
  network::ConnectionManager* connections = nullptr;
  std::shared_ptr<network::NetworkBufferPool> buffers;
  std::string local_taskmanager_id;
  int buffers_per_channel = 2;  // exclusive buffers per remote input channel
  int floating_per_gate = 8;    // floating buffers per input gate (and per output partition)
};

class Task {
 public:
  using StateListener =
      std::function<void(const proto::TaskDeployment&, SubtaskState, const std::string& failure)>;

  //! Takes the task's network buffers; fails (ResourceExhausted) when the network memory is short.
  static absl::StatusOr<std::unique_ptr<Task>> Create(proto::TaskDeployment deployment,
                                                      std::shared_ptr<const StreamEnvironment> env,
                                                      NetworkContext network,
                                                      StateListener listener);
  ~Task();

  void Start();
  void Cancel();
  bool Done() const { return done_.load(); }
  const proto::TaskDeployment& deployment() const { return deployment_; }
  std::string DisplayName() const;
  TaskMetrics& metrics() { return metrics_; }

 private:
  Task(proto::TaskDeployment deployment, std::shared_ptr<const StreamEnvironment> env,
       NetworkContext network, StateListener listener);
  absl::Status SetUpNetwork();
  void Run();
  void SetState(SubtaskState to, const std::string& failure = "");

  proto::TaskDeployment deployment_;
  std::shared_ptr<const StreamEnvironment> env_;
  NetworkContext net_;
  StateListener listener_;
  SubtaskState state_ = SubtaskState::kDeploying;  // task thread only (and before Start)
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> done_{false};
  TaskMetrics metrics_;
  std::vector<std::shared_ptr<network::ResultPartition>> partitions_;  // fixed before Start
  std::shared_ptr<network::InputGate> gate_;                           // fixed before Start
  std::thread thread_;
};

}  // namespace sluice::taskmanager
