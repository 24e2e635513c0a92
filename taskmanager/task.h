// Task: one subtask of an operator chain, running on its own thread. The thread instantiates the
// chain's operators from the package, wires chained outputs (records passed as objects) and record
// writers (records serialized into network buffers), then runs its mailbox loop
// (MailboxProcessor): mail first (checkpoint triggers, notifications, cancel), then one step of the
// default action, which moves through the phases below; it reports each state change.
//   kRunning   poll the source once, or read one input buffer;
//   kFinishing input ended (or a stop-with-savepoint passed): EndInput down the chain, writers
//              finished; with checkpointing on, snapshot on trigger until a checkpoint taken after
//              the end of input completes (it commits what the end of input pre-committed).
// Cancel may be called from any thread; it releases the task's partitions, closes its input so a
// thread blocked on a full output or waiting for input wakes, and mails the cancel.
#pragma once

#include <atomic>
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
#include "taskmanager/failure_report.h"
#include "taskmanager/mailbox/mailbox_processor.h"
#include "taskmanager/mailbox/task_mailbox.h"
#include "taskmanager/network/buffer_pool.h"
#include "taskmanager/network/input_gate.h"
#include "taskmanager/network/partition_manager.h"
#include "taskmanager/network/remote_channel.h"
#include "taskmanager/network/wait_timer.h"
#include "taskmanager/task_metrics.h"

namespace sluice::state {
class RocksDbSharedMemory;
}

namespace sluice::taskmanager {

class HeapStateLedger;

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
  //! The TaskManager's RocksDB memory, shared by the RocksDB state of all its tasks; null: each
  //! instance has its own.
  std::shared_ptr<state::RocksDbSharedMemory> rocksdb_memory;
  ThreadPool* io = nullptr;
  CheckpointResponder* responder = nullptr;
  //! Where the task reports its heap keyed state (the TaskManager's budget); null: not counted.
  HeapStateLedger* heap_ledger = nullptr;
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
  //! Where a failure happened: this task, and the chained operator `op` when it is one of ours.
  FailureContext Where(const StreamOperator* op) const;
  //! `text` with the package's stored file name replaced by "job package".
  std::string NamePackage(const std::string& text) const;
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
  //! One turn of the default action, by phase (see the class comment).
  MailboxProcessor::Step DefaultAction();
  MailboxProcessor::Step SourceStep();
  MailboxProcessor::Step InputStep();
  //! Input ended: EndInput, writers finished; then the final checkpoint, if one is awaited.
  MailboxProcessor::Step FinishInput();
  //! No more records: the maximum watermark (sources), EndInput, and end of data downstream.
  void EndData();
  //! Handles one buffer of input channel `channel`.
  void ProcessBuffer(int channel, const network::BufferPtr& buffer);
  //! A watermark or watermark status from input channel `channel`, through the valve.
  void ProcessControlElement(int channel, const uint8_t* data, size_t size);
  //! Operator `op` of the chain reached `watermark`: its timers fire, then it gets the watermark.
  void DeliverWatermark(size_t op, int64_t watermark);
  //! Tells the metrics which input holds the watermark back and which are idle (throttled unless
  //! `now`).
  void PublishWatermarkInputs(bool now);
  //! Idle until the next flush is due (or `until`, if earlier).
  MailboxProcessor::Step IdleUntilFlush(std::chrono::steady_clock::time_point until);
  void FlushIfDue(bool force);
  //! Reports the heap state to the ledger; throws HeapStateOverBudget when the job's is over
  //! its share. Task thread, after the chain is built and after each buffer of records.
  void CheckHeapState();
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

  // Mail for the task thread (checkpoint triggers and notifications, cancel); the gate signals it.
  // Shared with the input gate's availability listener, which may fire after the task is gone.
  std::shared_ptr<TaskMailbox> mailbox_ = std::make_shared<TaskMailbox>();

  // Task thread only, set up by BuildChain.
  struct Chain;
  std::unique_ptr<Chain> chain_;
};

}  // namespace sluice::taskmanager
