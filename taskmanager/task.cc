#include "taskmanager/task.h"

#include <chrono>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/snapshot/metadata.h"
#include "common/thread_name.h"
#include "taskmanager/chain_outputs.h"
#include "taskmanager/checkpointing/barrier_aligner.h"
#include "taskmanager/checkpointing/task_state.h"
#include "taskmanager/eventtime/status_watermark_valve.h"
#include "taskmanager/failure_report.h"
#include "taskmanager/heap_state_ledger.h"
#include "taskmanager/network/local_channel.h"
#include "taskmanager/network/record_writer.h"
#include "taskmanager/network/wait_timer.h"
#include "taskmanager/state/timer_service.h"

namespace sluice::taskmanager {
namespace {

using Clock = std::chrono::steady_clock;

auto Log() { return log::Get("task"); }

class TaskCancelled : public std::runtime_error, public HostInterruption {
 public:
  TaskCancelled() : std::runtime_error("task cancelled") {}
};

//! The job's heap state is over its share of the task heap (HeapStateLedger's message).
class HeapStateOverBudget : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class OperatorContext final : public RuntimeContext {
 public:
  OperatorContext(const proto::TaskDeployment& d, int max_parallelism,
                  const std::atomic<bool>* cancelled, int64_t* timestamp,
                  MailboxProcessor* processor, TaskMailbox* mailbox, TaskMetrics* metrics)
      : job_id_(d.job_id()),
        name_(d.vertex_name()),
        index_(d.subtask_index()),
        parallelism_(d.parallelism()),
        max_parallelism_(max_parallelism),
        attempt_(d.attempt_number()),
        checkpointing_(d.checkpointing().enabled()),
        watermark_interval_ms_(d.auto_watermark_interval_ms()),
        cancelled_(cancelled),
        timestamp_(timestamp),
        processor_(processor),
        mailbox_(mailbox),
        metrics_(metrics) {}
  const std::string& JobId() const override { return job_id_; }
  const std::string& TaskName() const override { return name_; }
  int SubtaskIndex() const override { return index_; }
  int Parallelism() const override { return parallelism_; }
  int MaxParallelism() const override { return max_parallelism_; }
  bool IsCancelled() const override { return cancelled_->load(); }
  int AttemptNumber() const override { return attempt_; }
  bool IsCheckpointingEnabled() const override { return checkpointing_; }
  int64_t CurrentTimestamp() const override { return *timestamp_; }
  void SetCurrentTimestamp(int64_t timestamp) override { *timestamp_ = timestamp; }
  int64_t CurrentProcessingTime() const override { return WallClockMs(); }
  void ScheduleProcessingTime(int64_t time_ms, std::function<void()> fn) override {
    int64_t delay_ms = std::max<int64_t>(0, time_ms - WallClockMs());
    processor_->ScheduleAt(std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms),
                           std::move(fn));
  }
  int64_t AutoWatermarkIntervalMs() const override { return watermark_interval_ms_; }
  void AddLateRecordsDropped(uint64_t n) override {
    metrics_->late_records_dropped.fetch_add(n, std::memory_order_relaxed);
  }
  void ReportWatermarkForAlignment(const std::string& group, int64_t max_drift_ms,
                                   int64_t watermark, int paused_splits) override {
    metrics_->SetAlignment({group, max_drift_ms, watermark, paused_splits});
  }
  int64_t MaxAllowedWatermark() const override {
    return metrics_->alignment_max_allowed.load(std::memory_order_relaxed);
  }
  void ReportSplitWatermarks(int64_t watermark, const std::string& held_by,
                             const std::vector<std::string>& idle) override {
    if (watermark != split_watermark_ || split_watermark_moved_ms_ == 0) {
      split_watermark_ = watermark;
      split_watermark_moved_ms_ = WallClockMs();
    }
    TaskMetrics::WatermarkInputs w;
    if (!held_by.empty()) w.held_by = "split " + held_by;
    w.unchanged_since_ms = split_watermark_moved_ms_;
    for (const std::string& split : idle) w.idle.push_back("split " + split);
    metrics_->SetWatermarkInputs(std::move(w));
  }
  bool PostMail(std::function<void()> mail) override { return mailbox_->Put(std::move(mail)); }

 private:
  std::string job_id_, name_;
  int index_, parallelism_, max_parallelism_, attempt_;
  bool checkpointing_;
  int64_t watermark_interval_ms_;
  const std::atomic<bool>* cancelled_;
  int64_t* timestamp_;
  MailboxProcessor* processor_;
  TaskMailbox* mailbox_;
  TaskMetrics* metrics_;
  int64_t split_watermark_ = INT64_MIN;  // a source's, as ReportSplitWatermarks last saw it
  int64_t split_watermark_moved_ms_ = 0;
};

}  // namespace

//! Routes the aligner's requests to the task.
class Task::Aligner final : public BarrierAligner::Actions {
 public:
  explicit Aligner(Task* task) : task_(task) {}
  void Block(int channel) override { task_->gate_->Block(channel); }
  void UnblockAll() override { task_->gate_->UnblockAll(); }
  void Snapshot(const network::CheckpointEvent& barrier, int64_t alignment_ns) override {
    task_->PerformCheckpoint(barrier, alignment_ns);
  }
  void Abort(const network::CheckpointEvent& barrier, const std::string& reason) override {
    task_->AbortCheckpoint(barrier, reason);
  }

 private:
  Task* task_;
};

//! Processing time for the task's timer services, through its mailbox loop.
class MailboxTimeScheduler final : public state::ProcessingTimeScheduler {
 public:
  explicit MailboxTimeScheduler(MailboxProcessor* processor) : processor_(processor) {}
  Id ScheduleAt(int64_t time_ms, std::function<void()> fn) override {
    int64_t delay_ms = std::max<int64_t>(0, time_ms - WallClockMs());
    return processor_->ScheduleAt(Clock::now() + std::chrono::milliseconds(delay_ms),
                                  std::move(fn));
  }
  void Cancel(Id id) override { processor_->Cancel(id); }
  int64_t NowMs() const override { return WallClockMs(); }

 private:
  MailboxProcessor* processor_;
};

//! Everything the task thread builds from the deployment.
struct Task::Chain {
  std::vector<std::unique_ptr<StreamOperator>> ops;
  std::vector<const NodeSpec*> nodes;
  std::vector<StreamOperator*> op_ptrs;
  std::vector<std::unique_ptr<OperatorContext>> contexts;
  std::vector<std::unique_ptr<Output>> outputs;
  std::vector<std::unique_ptr<network::RecordWriter>> writers;
  std::unique_ptr<MailboxProcessor> processor;
  std::unique_ptr<MailboxTimeScheduler> time_scheduler;
  std::unique_ptr<TaskState> state;
  //! The operators keep heap state and the TaskManager counts it (CheckHeapState).
  bool counts_heap = false;
  std::unique_ptr<Aligner> aligner_actions;
  std::unique_ptr<BarrierAligner> aligner;
  //! kFinishing from the moment EndInput ran and the writers finished.
  enum class Phase { kRunning, kFinishing };
  Phase phase = Phase::kRunning;
  std::vector<network::RecordReader> readers;  // one per input channel
  std::vector<uint8_t> second_input;           // per channel: feeds a Connect's second input
  //! The timestamp of the record in flight (RuntimeContext::CurrentTimestamp), one for the chain.
  int64_t timestamp = kNoTimestamp;
  std::unique_ptr<StatusWatermarkValve> valve;  // the input channels' watermarks
  int64_t watermark_moved_ms = 0;               // epoch ms of the input watermark's last move
  int64_t watermark_published_ms = 0;           // last PublishWatermarkInputs
  int ended_inputs = 0;                         // input channels at end of partition
  int ended_data = 0;                           // input channels that sent end of data (drain)
  bool data_ended = false;                      // EndInput ran (EndData)
  bool is_source = false;
  int64_t last_snapshot = 0;     // highest checkpoint id snapshotted here
  int64_t final_checkpoint = 0;  // first checkpoint taken after the end of input
  bool final_committed = false;
  int64_t stop_flags = 0;  // CheckpointEvent::kStop/kDrain once a stop-with-savepoint passed
  network::CheckpointEvent latest_trigger{};  // newest trigger received
  std::chrono::milliseconds timeout{100};
  Clock::time_point next_flush;
};

Task::Task(proto::TaskDeployment deployment, std::shared_ptr<const StreamEnvironment> env,
           NetworkContext network, StateContext state, StateListener listener)
    : deployment_(std::move(deployment)),
      env_(std::move(env)),
      net_(std::move(network)),
      state_ctx_(std::move(state)),
      listener_(std::move(listener)) {}

absl::StatusOr<std::unique_ptr<Task>> Task::Create(proto::TaskDeployment deployment,
                                                   std::shared_ptr<const StreamEnvironment> env,
                                                   NetworkContext network, StateContext state,
                                                   StateListener listener) {
  std::unique_ptr<Task> task(new Task(std::move(deployment), std::move(env), std::move(network),
                                      std::move(state), std::move(listener)));
  absl::Status s = task->SetUpNetwork();
  if (!s.ok()) return s;
  return task;
}

namespace {

//! A pool of `desired` buffers, or at least `required`, or an error naming the owner.
absl::StatusOr<std::shared_ptr<network::LocalBufferPool>> TakeBuffers(
    const std::shared_ptr<network::NetworkBufferPool>& global, int desired, int required,
    const std::string& owner) {
  auto pool = network::LocalBufferPool::Create(global, desired, owner);
  if (pool.ok() || required >= desired) return pool;
  return network::LocalBufferPool::Create(global, required, owner);
}

}  // namespace

absl::Status Task::SetUpNetwork() {
  const int per_channel = net_.buffers_per_channel;
  for (const auto& p : deployment_.partitions()) {
    int n = p.num_subpartitions();
    // Flink's sizing: at least one buffer per subpartition plus one; ideally per-channel +
    // floating.
    auto pool = TakeBuffers(net_.buffers, n * per_channel + net_.floating_per_gate, n + 1,
                            absl::StrCat(DisplayName(), " output ", p.partition_id()));
    if (!pool.ok()) return pool.status();
    partitions_.push_back(std::make_shared<network::ResultPartition>(
        p.partition_id(), n, per_channel + net_.floating_per_gate, *pool));
  }
  int remote = 0;
  for (const auto& in : deployment_.inputs())
    remote += in.producer_taskmanager_id() != net_.local_taskmanager_id;
  std::shared_ptr<network::LocalBufferPool> gate_pool;
  if (remote > 0) {
    int exclusive = remote * per_channel;
    auto pool = TakeBuffers(net_.buffers, exclusive + net_.floating_per_gate, exclusive + 1,
                            absl::StrCat(DisplayName(), " input"));
    if (!pool.ok()) return pool.status();
    gate_pool = *pool;
  }
  gate_ = std::make_shared<network::InputGate>();
  // The gate may outlive the task (its channels hold it): the listener shares the mailbox.
  gate_->SetAvailabilityListener([mailbox = mailbox_] { mailbox->Signal(); });
  for (const auto& in : deployment_.inputs()) {
    if (in.producer_taskmanager_id() == net_.local_taskmanager_id) {
      gate_->AddChannel(std::make_shared<network::LocalInputChannel>(
          net_.partitions, in.partition_id(), in.subpartition()));
    } else {
      gate_->AddChannel(std::make_shared<network::RemoteInputChannel>(
          net_.connections, in.producer_data_address(), in.partition_id(), in.subpartition(),
          gate_pool, per_channel, in.producer_taskmanager_id(), deployment_.job_id()));
    }
  }
  std::vector<std::shared_ptr<network::ResultPartition>> outs = partitions_;
  if (!outs.empty()) {
    metrics_.out_pool_usage = [outs] {
      double used = 0, size = 0;
      for (const auto& p : outs) {
        used += p->pool().in_use();
        size += p->pool().size();
      }
      return size == 0 ? 0.0 : used / size;
    };
  }
  if (gate_pool) metrics_.in_pool_usage = [gate_pool] { return gate_pool->usage(); };
  return absl::OkStatus();
}

Task::~Task() {
  if (!done_) Cancel();  // A finished task's output may be unconsumed yet: ReleaseJob frees it.
  if (thread_.joinable()) thread_.join();
}

std::string Task::NamePackage(const std::string& text) const {
  // The package is stored under its content hash; "job package" tells the author more.
  return absl::StrReplaceAll(text, {{deployment_.package_sha256() + ".so", "job package"}});
}

FailureContext Task::Where(const StreamOperator* op) const {
  FailureContext where{deployment_.job_id(), DisplayName(), "", ""};
  if (chain_ == nullptr) return where;
  for (size_t i = 0; i < chain_->op_ptrs.size() && i < chain_->nodes.size(); ++i) {
    if (chain_->op_ptrs[i] == op) {
      where.operator_name = chain_->nodes[i]->name;
      where.operator_uid = chain_->nodes[i]->uid;
    }
  }
  return where;
}

std::string Task::DisplayName() const {
  return SubtaskDisplayName(deployment_.vertex_name(), deployment_.subtask_index(),
                            deployment_.parallelism());
}

void Task::Start() {
  for (const auto& p : partitions_) net_.partitions->Register(p);
  thread_ = std::thread([this] { Run(); });
  // "t<subtask> <vertex>", cut to 15 bytes: which task a thread in `top -H` or `perf` runs.
  NameThread(thread_,
             absl::StrCat("t", deployment_.subtask_index(), " ", deployment_.vertex_name()));
}

void Task::Cancel() {
  if (cancelled_.exchange(true)) return;
  for (const auto& p : partitions_) p->Release();
  // Null when SetUpNetwork failed before creating the gate (the task is destroyed undeployed).
  if (gate_) gate_->Close();
  mailbox_->Put([] { throw TaskCancelled(); });
}

void Task::TriggerCheckpoint(int64_t id, int64_t timestamp_ms, bool stop, bool drain) {
  mailbox_->Put([this, id, timestamp_ms, stop, drain] {
    Chain& c = *chain_;
    int64_t flags = (stop ? network::CheckpointEvent::kStop : 0) |
                    (stop && drain ? network::CheckpointEvent::kDrain : 0);
    network::CheckpointEvent e{id, timestamp_ms, flags};
    if (id > c.latest_trigger.checkpoint_id) c.latest_trigger = e;
    if (id <= c.last_snapshot) return;
    // A drain ends the data before the stop's barrier, so that everything the end of event time
    // and of input makes is in the savepoint's epoch (Flink's EndOfData).
    if (c.is_source && stop && drain && c.phase == Chain::Phase::kRunning) EndData();
    // Sources start the checkpoint; a task whose input ended gets no more barriers.
    if (c.is_source || c.phase == Chain::Phase::kFinishing) PerformCheckpoint(e, 0);
  });
}

void Task::NotifyCheckpoint(int64_t id, bool complete) {
  mailbox_->Put([this, id, complete] {
    Chain& c = *chain_;
    if (!complete) {
      if (c.aligner) c.aligner->AbortPending(id, "aborted by the checkpoint coordinator");
      return;
    }
    if (c.state) c.state->NotifyComplete(id);
    for (StreamOperator* op : c.op_ptrs) op->NotifyCheckpointComplete(id);
    if (c.final_checkpoint != 0 && id >= c.final_checkpoint) c.final_committed = true;
  });
}

void Task::SetState(SubtaskState to, const Failure& failure) {
  if (state_ == to) return;
  // A failure quotes user code (an exception's text): escaped, it cannot forge log lines.
  Log()->info("{} switched from {} to {}.{}", DisplayName(), SubtaskStateName(state_),
              SubtaskStateName(to),
              failure.message.empty() ? "" : " " + log::Untrusted(failure.message, 4096));
  state_ = to;
  listener_(deployment_, to, failure);
}

void Task::BuildChain() {
  Chain& c = *chain_;
  const auto& nodes = env_->nodes();
  auto node = [&](uint32_t id) -> const NodeSpec& {
    if (id >= nodes.size()) throw std::runtime_error(absl::StrCat("package has no operator ", id));
    return nodes[id];
  };
  std::map<uint32_t, size_t> op_index;
  c.processor = std::make_unique<MailboxProcessor>(mailbox_.get(), IdleCounters());
  for (const auto& op : deployment_.operators()) {
    op_index[op.node_id()] = c.ops.size();
    c.ops.push_back(node(op.node_id()).factory());
    c.op_ptrs.push_back(c.ops.back().get());
    c.nodes.push_back(&node(op.node_id()));
    int max_parallelism =
        op.max_parallelism() > 0 ? op.max_parallelism() : node(op.node_id()).max_parallelism;
    c.contexts.push_back(
        std::make_unique<OperatorContext>(deployment_, max_parallelism, &cancelled_, &c.timestamp,
                                          c.processor.get(), mailbox_.get(), &metrics_));
  }
  // Network outputs: one RecordWriter per produced partition; the side output it carries, if any.
  std::vector<std::string> writer_side;
  for (const auto& op : deployment_.operators()) {
    for (const auto& out : op.outputs()) {
      if (out.target_case() != proto::OperatorOutput::kPartitionIndex) continue;
      const auto& spec = deployment_.partitions(static_cast<int>(out.partition_index()));
      const NodeSpec& consumer = node(spec.consumer_node_id());
      if (spec.input_index() < 0 ||
          spec.input_index() >= static_cast<int>(consumer.inputs.size())) {
        throw std::runtime_error("deployment names an unknown job edge");
      }
      const EdgeSpec& edge = consumer.inputs[static_cast<size_t>(spec.input_index())];
      const NodeSpec& producer = node(op.node_id());
      auto serialize =
          edge.side_output.empty() ? producer.serialize_output : edge.serialize_side_output;
      if (!serialize) {
        throw std::runtime_error(absl::StrCat("operator '", producer.name, "' has no output"));
      }
      writer_side.push_back(edge.side_output);
      network::WriterCounters counters{
          &metrics_.records_out,
          &metrics_.bytes_out,
          {.since = &metrics_.backpressured_since_ns, .total = &metrics_.backpressured_ns},
          &metrics_.output_watermark};
      c.writers.push_back(std::make_unique<network::RecordWriter>(
          partitions_[out.partition_index()], static_cast<PartitionKind>(spec.partitioner()),
          spec.max_parallelism(), edge.key_hash, serialize, deployment_.subtask_index(), counters));
      c.writers.back()->set_flush_always(deployment_.buffer_timeout_ms() == 0);
      c.writers.back()->set_timestamp_slot(&c.timestamp);
    }
  }
  // Wire each operator's output.
  std::vector<Output*> op_output(c.ops.size(), nullptr);
  size_t writer_i = 0;
  for (size_t i = 0; i < c.ops.size(); ++i) {
    std::vector<Output*> targets;
    std::map<std::string, std::vector<Output*>> sides;
    for (const auto& out : deployment_.operators(static_cast<int>(i)).outputs()) {
      if (out.target_case() == proto::OperatorOutput::kChainedNodeId) {
        auto it = op_index.find(out.chained_node_id());
        if (it == op_index.end()) throw std::runtime_error("chained operator missing");
        const size_t next = it->second;
        c.outputs.push_back(std::make_unique<ChainedOutput>(
            c.ops[next].get(), [this, next](int64_t wm) { DeliverWatermark(next, wm); }));
        targets.push_back(c.outputs.back().get());
      } else if (const std::string& side = writer_side[writer_i]; !side.empty()) {
        sides[side].push_back(c.writers[writer_i++].get());
      } else {
        targets.push_back(c.writers[writer_i++].get());
      }
    }
    Output* main = nullptr;
    if (targets.empty()) {
      c.outputs.push_back(std::make_unique<NullOutput>());
      main = c.outputs.back().get();
    } else if (targets.size() == 1) {
      main = targets[0];
    } else {
      c.outputs.push_back(std::make_unique<FanOutOutput>(targets));
      main = c.outputs.back().get();
    }
    if (!sides.empty()) {
      c.outputs.push_back(std::make_unique<SideOutputRouter>(main, std::move(sides)));
      main = c.outputs.back().get();
    }
    op_output[i] = main;
  }
  // State first (Flink's order: initializeState, then open).
  std::string local_dir;
  if (!state_ctx_.local_dir.empty()) {
    local_dir = absl::StrCat(state_ctx_.local_dir, "/", deployment_.attempt_id());
  }
  c.time_scheduler = std::make_unique<MailboxTimeScheduler>(c.processor.get());
  c.state = std::make_unique<TaskState>(deployment_, local_dir, c.time_scheduler.get());
  c.state->SetRocksDbMemory(state_ctx_.rocksdb_memory);
  for (size_t i = 0; i < c.ops.size(); ++i) {
    c.state->InitializeOperator(*c.nodes[i], c.contexts[i]->MaxParallelism(), *c.ops[i]);
  }
  const auto opening = Clock::now();
  for (size_t i = c.ops.size(); i-- > 0;) c.ops[i]->Open(*c.contexts[i], *op_output[i]);
  if (const auto open_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - opening).count();
      open_ms >= 100) {
    // Heap state restored in InitializeState becomes the operator's tables in Open.
    Log()->info("{}: opened its operators in {} ms", DisplayName(), open_ms);
  }
  c.counts_heap = state_ctx_.heap_ledger != nullptr && c.state->HasHeapState();
  if (c.counts_heap) CheckHeapState();  // restored state counts before the first record
  c.is_source = c.nodes[0]->is_source;
  c.timeout = std::chrono::milliseconds(deployment_.buffer_timeout_ms());
  c.next_flush = Clock::now() + c.timeout;
  c.readers.resize(static_cast<size_t>(gate_->size()));
  c.second_input.resize(static_cast<size_t>(gate_->size()));
  for (int i = 0; i < gate_->size(); ++i) {
    c.second_input[static_cast<size_t>(i)] = deployment_.inputs(i).operator_input() == 1;
  }
  c.valve = std::make_unique<StatusWatermarkValve>(gate_->size());
  c.aligner_actions = std::make_unique<Aligner>(this);
  c.aligner = std::make_unique<BarrierAligner>(gate_->size(), c.aligner_actions.get());
}

void Task::CheckHeapState() {
  Chain& c = *chain_;
  const auto bytes = static_cast<int64_t>(c.state->HeapStateBytes());
  absl::Status s =
      state_ctx_.heap_ledger->Report(deployment_.job_id(), deployment_.attempt_id(), bytes);
  if (!s.ok()) throw HeapStateOverBudget(std::string(s.message()));
}

void Task::FlushIfDue(bool force) {
  Chain& c = *chain_;
  auto now = Clock::now();
  if (force || now >= c.next_flush) {
    for (auto& w : c.writers) w->Flush();
    c.next_flush = now + c.timeout;
  }
}

void Task::PerformCheckpoint(const network::CheckpointEvent& barrier, int64_t alignment_ns) {
  Chain& c = *chain_;
  if (barrier.checkpoint_id <= c.last_snapshot) return;
  if (deployment_.checkpointing().storage_root().empty()) return;
  auto start = Clock::now();
  int64_t start_delay_ms = std::max<int64_t>(0, WallClockMs() - barrier.timestamp_ms);
  AsyncSnapshot async;
  try {
    async = c.state->Snapshot(barrier.checkpoint_id, c.nodes, c.op_ptrs);
  } catch (const std::exception& e) {
    AbortCheckpoint(barrier, absl::StrCat("snapshot failed: ", e.what()));
    return;
  }
  c.last_snapshot = barrier.checkpoint_id;
  if (barrier.flags & network::CheckpointEvent::kStop) {
    // Stop-with-savepoint: no record after this snapshot; finish once it is complete.
    c.stop_flags = barrier.flags;
    if (c.final_checkpoint == 0) c.final_checkpoint = barrier.checkpoint_id;
  }
  if (c.phase == Chain::Phase::kRunning) {
    for (auto& w : c.writers) {
      w->BroadcastCheckpointEvent(network::BufferKind::kCheckpointBarrier, barrier);
    }
  } else if (c.final_checkpoint == 0) {
    c.final_checkpoint = barrier.checkpoint_id;
  }
  proto::SubtaskCheckpointStats stats;
  stats.set_sync_duration_ms(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  stats.set_alignment_duration_ms(alignment_ns / 1000000);
  stats.set_start_delay_ms(start_delay_ms);
  CheckpointResponder* responder = state_ctx_.responder;
  if (!state_ctx_.io || !responder) return;
  int64_t id = barrier.checkpoint_id;
  // The deployment outlives the upload: TaskExecutor keeps finished tasks until ReleaseJob.
  auto deployment = std::make_shared<proto::TaskDeployment>(deployment_);
  state_ctx_.io->Post([async = std::move(async), responder, deployment, id, stats]() mutable {
    auto start = Clock::now();
    auto result = async();
    if (!result.ok()) {
      responder->Decline(*deployment, id,
                         absl::StrCat("upload failed: ", result.status().message()));
      return;
    }
    stats.set_async_duration_ms(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
    uint64_t size = 0;
    for (const auto& op : *result) {
      size += snapshot::FileBytes(op);
      for (const auto& l : op.operator_state()) {
        for (const auto& item : l.items()) size += item.size();
      }
    }
    stats.set_state_size_bytes(size);
    responder->Acknowledge(*deployment, id, std::move(*result), stats);
  });
}

void Task::AbortCheckpoint(const network::CheckpointEvent& barrier, const std::string& reason) {
  Chain& c = *chain_;
  Log()->info("{}: checkpoint {} aborted: {}", DisplayName(), barrier.checkpoint_id, reason);
  if (c.phase == Chain::Phase::kRunning) {
    for (auto& w : c.writers) {
      w->BroadcastCheckpointEvent(network::BufferKind::kCancelCheckpoint, barrier);
    }
  }
  if (state_ctx_.responder && state_ctx_.io) {
    auto deployment = std::make_shared<proto::TaskDeployment>(deployment_);
    CheckpointResponder* responder = state_ctx_.responder;
    int64_t id = barrier.checkpoint_id;
    state_ctx_.io->Post(
        [responder, deployment, id, reason] { responder->Decline(*deployment, id, reason); });
  }
}

MailboxProcessor::Step Task::DefaultAction() {
  Chain& c = *chain_;
  switch (c.phase) {
    case Chain::Phase::kRunning: {
      MailboxProcessor::Step step = c.is_source ? SourceStep() : InputStep();
      return step.kind == MailboxProcessor::Step::Kind::kDone ? FinishInput() : step;
    }
    case Chain::Phase::kFinishing:
      if (c.final_committed) return MailboxProcessor::Step::Done();
      return MailboxProcessor::Step::Idle(Clock::now() + std::chrono::milliseconds(200));
  }
  return MailboxProcessor::Step::Done();
}

MailboxProcessor::Step Task::IdleUntilFlush(Clock::time_point until) {
  Chain& c = *chain_;
  if (c.timeout.count() > 0 && !c.writers.empty()) until = std::min(until, c.next_flush);
  return MailboxProcessor::Step::Idle(
      std::min(until, Clock::now() + std::chrono::milliseconds(100)));
}

MailboxProcessor::Step Task::SourceStep() {
  Chain& c = *chain_;
  if (c.stop_flags != 0) return MailboxProcessor::Step::Done();  // a stop-with-savepoint passed
  int64_t wait_us = 0;
  c.timestamp = kNoTimestamp;  // a source's records have none unless it assigns them
  SourceStatus s = c.ops[0]->PollNext(&wait_us);
  FlushIfDue(c.timeout.count() == 0);
  if (s == SourceStatus::kEndOfInput) return MailboxProcessor::Step::Done();
  if (s == SourceStatus::kMoreAvailable) return MailboxProcessor::Step::Progress();
  return IdleUntilFlush(Clock::now() + std::chrono::microseconds(std::max<int64_t>(wait_us, 10)));
}

MailboxProcessor::Step Task::InputStep() {
  Chain& c = *chain_;
  int channel = 0;
  network::BufferPtr buffer;
  std::string error;
  switch (gate_->Poll(&channel, &buffer, &error)) {
    case network::InputGate::Result::kClosed:
      throw TaskCancelled();
    case network::InputGate::Result::kError:
      throw std::runtime_error(error);
    case network::InputGate::Result::kBuffer:
      ProcessBuffer(channel, buffer);
      FlushIfDue(c.timeout.count() == 0);
      return c.ended_inputs == gate_->size() ? MailboxProcessor::Step::Done()
                                             : MailboxProcessor::Step::Progress();
    case network::InputGate::Result::kNone:
    case network::InputGate::Result::kTimeout:
      break;
  }
  if (c.ended_inputs == gate_->size()) return MailboxProcessor::Step::Done();  // no channels
  FlushIfDue(false);
  // Armed, the gate signals the mailbox when data comes; not armed, data came meanwhile.
  if (!gate_->PrepareToWait()) return MailboxProcessor::Step::Progress();
  return IdleUntilFlush(Clock::now() + std::chrono::milliseconds(100));
}

void Task::ProcessBuffer(int channel, const network::BufferPtr& buffer) {
  Chain& c = *chain_;
  auto& reader = c.readers[static_cast<size_t>(channel)];
  network::CheckpointEvent event;
  switch (buffer->kind) {
    case network::BufferKind::kEndOfPartition:
      if (reader.has_partial()) throw std::runtime_error("input channel ended inside a record");
      ++c.ended_inputs;
      c.aligner->OnEndOfPartition(channel);
      break;
    case network::BufferKind::kCheckpointBarrier:
    case network::BufferKind::kCancelCheckpoint:
      if (reader.has_partial()) throw std::runtime_error("checkpoint event inside a record");
      if (!network::ParseCheckpointEvent(*buffer, &event)) {
        throw std::runtime_error("malformed checkpoint event on an input channel");
      }
      if (buffer->kind == network::BufferKind::kCheckpointBarrier) {
        c.aligner->OnBarrier(channel, event);
      } else {
        c.aligner->OnCancelMarker(channel, event);
      }
      break;
    case network::BufferKind::kData: {
      // Counted per record, not per buffer: a slow operator may take seconds over one buffer,
      // and numRecordsInPerSecond must not jump between 0 and a buffer's worth of records.
      StreamOperator* first = c.ops[0].get();
      std::atomic<uint64_t>& records_in = metrics_.records_in;
      const bool second = c.second_input[static_cast<size_t>(channel)] != 0;
      reader.Read(buffer->data, buffer->size,
                  [this, channel, first, second, &records_in, &c](const uint8_t* data, size_t size,
                                                                  uint32_t head) {
                    if (head & network::kElementControl) {
                      ProcessControlElement(channel, data, size);
                      return;
                    }
                    c.timestamp = kNoTimestamp;
                    if (head & network::kElementHasTimestamp) {
                      if (size < 8) throw std::runtime_error("malformed record timestamp");
                      c.timestamp = network::ReadInt64(data);
                      data += 8;
                      size -= 8;
                    }
                    if (second) {
                      first->ProcessSerialized2(data, size);
                    } else {
                      first->ProcessSerialized(data, size);
                    }
                    // Only this thread writes: a plain store, no locked instruction.
                    records_in.store(records_in.load(std::memory_order_relaxed) + 1,
                                     std::memory_order_relaxed);
                  });
      metrics_.bytes_in.fetch_add(buffer->size, std::memory_order_relaxed);
      // Heap state grows with records: counted after every buffer of them (a few hundred ns),
      // so that a job is stopped within a buffer of passing its share.
      if (c.counts_heap) CheckHeapState();
      break;
    }
  }
}

void Task::ProcessControlElement(int channel, const uint8_t* data, size_t size) {
  Chain& c = *chain_;
  StatusWatermarkValve::Output out;
  if (size == 9 && data[0] == static_cast<uint8_t>(network::ControlKind::kWatermark)) {
    out = c.valve->InputWatermark(channel, network::ReadInt64(data + 1));
  } else if (size == 2 && data[0] == static_cast<uint8_t>(network::ControlKind::kWatermarkStatus)) {
    out = c.valve->InputWatermarkStatus(channel, data[1] != 0);
  } else if (size == 1 && data[0] == static_cast<uint8_t>(network::ControlKind::kEndOfData)) {
    if (++c.ended_data == gate_->size()) EndData();
    return;
  } else {
    throw std::runtime_error(absl::StrCat("malformed control element on input channel ", channel));
  }
  if (out.watermark) {
    c.watermark_moved_ms = WallClockMs();
    DeliverWatermark(0, *out.watermark);
  }
  if (out.idle) c.ops[0]->ProcessWatermarkStatus(*out.idle);
  PublishWatermarkInputs(out.idle.has_value());
}

void Task::PublishWatermarkInputs(bool now) {
  Chain& c = *chain_;
  // Several times a second at most: a watermark may come with every record.
  const int64_t ms = WallClockMs();
  if (!now && ms - c.watermark_published_ms < 200) return;
  c.watermark_published_ms = ms;
  TaskMetrics::WatermarkInputs w;
  if (int holder = c.valve->HoldingChannel(); holder >= 0) {
    w.held_by = deployment_.inputs(holder).producer_name();
  }
  w.unchanged_since_ms = c.watermark_moved_ms;
  for (int i = 0; i < gate_->size(); ++i) {
    if (c.valve->channel_idle(i)) w.idle.push_back(deployment_.inputs(i).producer_name());
  }
  metrics_.SetWatermarkInputs(std::move(w));
}

void Task::DeliverWatermark(size_t op, int64_t watermark) {
  Chain& c = *chain_;
  if (op == 0) metrics_.input_watermark.store(watermark, std::memory_order_relaxed);
  if (op + 1 == c.ops.size() && c.writers.empty()) {
    metrics_.output_watermark.store(watermark, std::memory_order_relaxed);
  }
  // Flink's order: the operator's event-time timers up to the watermark fire first, then the
  // operator sees (and normally forwards) the watermark.
  c.state->AdvanceWatermark(*c.nodes[op], watermark);
  c.ops[op]->ProcessWatermark(watermark);
}

void Task::EndData() {
  Chain& c = *chain_;
  if (c.data_ended) return;
  c.data_ended = true;
  // Event time ends: every window and timer fires. Other tasks got this watermark from their
  // inputs before the end of data.
  if (c.is_source) DeliverWatermark(0, kMaxWatermark);
  c.timestamp = kNoTimestamp;
  for (auto& op : c.ops) op->EndInput();
  for (auto& w : c.writers) w->EmitEndOfData();
}

MailboxProcessor::Step Task::FinishInput() {
  Chain& c = *chain_;
  if (c.aligner->aligning()) {
    c.aligner->AbortPending(c.aligner->pending_checkpoint(), "input ended during alignment");
  }
  // A stop without drain finishes the operators without end of input (Flink's stop).
  bool stopped = (c.stop_flags & network::CheckpointEvent::kStop) != 0;
  // The end of a bounded input; a drain normally ended the data already, ahead of its barrier.
  if (!stopped || (c.stop_flags & network::CheckpointEvent::kDrain)) EndData();
  for (auto& w : c.writers) w->Finish();
  c.phase = Chain::Phase::kFinishing;
  if (!deployment_.checkpointing().enabled() && !stopped) return MailboxProcessor::Step::Done();
  // A trigger that arrived while barriers were still expected is answered now: every record of
  // the ended inputs precedes it.
  if (c.latest_trigger.checkpoint_id > c.last_snapshot) PerformCheckpoint(c.latest_trigger, 0);
  return MailboxProcessor::Step::Progress();
}

void Task::Run() {
  // Every record this thread logs names the subtask (log.format: json).
  log::SetThreadContext("job_id", deployment_.job_id());
  log::SetThreadContext("vertex", deployment_.vertex_name());
  log::SetThreadContext("subtask", std::to_string(deployment_.subtask_index()));
  log::SetThreadContext("attempt_id", deployment_.attempt_id());
  SetCrashContext(DisplayName());
  chain_ = std::make_unique<Chain>();
  Chain& c = *chain_;
  bool opened = false;
  Failure failure;
  SetState(SubtaskState::kInitializing);
  try {
    BuildChain();
    opened = true;
    gate_->Start();
    SetState(SubtaskState::kRunning);
    c.processor->Run([this] { return DefaultAction(); });
    if (cancelled_) throw TaskCancelled();
    for (auto& op : c.ops) op->Close();
    opened = false;
  } catch (const TaskCancelled&) {
  } catch (const network::PartitionReleasedError&) {
    if (!cancelled_) failure.message = "output partition released";
  } catch (const SnapshotDamagedError& e) {
    failure = Failure{e.what(), /*snapshot_damaged=*/true};
  } catch (const HeapStateOverBudget& e) {
    failure.message = absl::StrCat(e.what(), "\n  in task '", DisplayName(), "'");
  } catch (const UserCodeError& e) {
    failure.message = NamePackage(DescribeUserCodeError(e, Where(e.op())));
  } catch (const std::exception& e) {
    failure.message = NamePackage(DescribeException(typeid(e), e.what(), Where(nullptr)));
  } catch (...) {
    failure.message =
        absl::StrCat("an exception that is not a std::exception\n  in task '", DisplayName(), "'");
  }
  SetCrashContext("");
  if (opened) {
    for (auto& op : c.ops) {
      try {
        op->Close();
      } catch (const std::exception& e) {
        Log()->warn("{}: close failed: {}", DisplayName(), e.what());
      }
    }
  }
  gate_->Close();
  mailbox_->Close();  // later triggers and notifications are dropped
  // A task that finished (a stop with a savepoint, as in a rescale, or the end of its input) is
  // reported before its operators and state are torn down: freeing millions of heap-state
  // entries takes seconds, and the next attempt need not wait for it. A failed or cancelled task
  // tears down first, so that its next attempt never meets its connections or files.
  const bool finished = failure.message.empty() && !cancelled_;
  // Out of the heap-state ledger first: the next attempt's state must not count against this one.
  if (state_ctx_.heap_ledger != nullptr) state_ctx_.heap_ledger->Remove(deployment_.attempt_id());
  if (finished) SetState(SubtaskState::kFinished);
  c.ops.clear();
  c.op_ptrs.clear();
  c.state.reset();  // closes RocksDB, removes the local working folder
  if (!failure.message.empty() && !cancelled_) {
    for (const auto& p : partitions_) p->Release();
    SetState(SubtaskState::kFailed, failure);
  } else if (cancelled_ && !finished) {  // not after kFinished: a late Cancel()
    SetState(SubtaskState::kCanceled);
  }
  done_ = true;
}

}  // namespace sluice::taskmanager
