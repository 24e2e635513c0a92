#include "taskmanager/task.h"

#include <chrono>
#include <condition_variable>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "taskmanager/network/local_channel.h"
#include "taskmanager/network/record_writer.h"
#include "taskmanager/network/wait_timer.h"

namespace sluice::taskmanager {
namespace {

using Clock = std::chrono::steady_clock;

auto Log() { return log::Get("task"); }

class TaskCancelled : public std::runtime_error {
 public:
  TaskCancelled() : std::runtime_error("task cancelled") {}
};

//! Passes records to the next operator of the chain as objects.
class ChainedOutput final : public Output {
 public:
  explicit ChainedOutput(StreamOperator* next) : next_(next) {}
  void Emit(const void* record) override { next_->ProcessRecord(record); }

 private:
  StreamOperator* next_;
};

class FanOutOutput final : public Output {
 public:
  explicit FanOutOutput(std::vector<Output*> targets) : targets_(std::move(targets)) {}
  void Emit(const void* record) override {
    for (Output* t : targets_) t->Emit(record);
  }

 private:
  std::vector<Output*> targets_;
};

class NullOutput final : public Output {
 public:
  void Emit(const void*) override {}
};

class OperatorContext final : public RuntimeContext {
 public:
  OperatorContext(const proto::TaskDeployment& d, int max_parallelism,
                  const std::atomic<bool>* cancelled)
      : job_id_(d.job_id()),
        name_(d.vertex_name()),
        index_(d.subtask_index()),
        parallelism_(d.parallelism()),
        max_parallelism_(max_parallelism),
        cancelled_(cancelled) {}
  const std::string& JobId() const override { return job_id_; }
  const std::string& TaskName() const override { return name_; }
  int SubtaskIndex() const override { return index_; }
  int Parallelism() const override { return parallelism_; }
  int MaxParallelism() const override { return max_parallelism_; }
  bool IsCancelled() const override { return cancelled_->load(); }

 private:
  std::string job_id_, name_;
  int index_, parallelism_, max_parallelism_;
  const std::atomic<bool>* cancelled_;
};

}  // namespace

Task::Task(proto::TaskDeployment deployment, std::shared_ptr<const StreamEnvironment> env,
           NetworkContext network, StateListener listener)
    : deployment_(std::move(deployment)),
      env_(std::move(env)),
      net_(std::move(network)),
      listener_(std::move(listener)) {}

absl::StatusOr<std::unique_ptr<Task>> Task::Create(proto::TaskDeployment deployment,
                                                   std::shared_ptr<const StreamEnvironment> env,
                                                   NetworkContext network, StateListener listener) {
  std::unique_ptr<Task> task(
      new Task(std::move(deployment), std::move(env), std::move(network), std::move(listener)));
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
  for (const auto& in : deployment_.inputs()) {
    if (in.producer_taskmanager_id() == net_.local_taskmanager_id) {
      gate_->AddChannel(std::make_shared<network::LocalInputChannel>(
          net_.partitions, in.partition_id(), in.subpartition()));
    } else {
      gate_->AddChannel(std::make_shared<network::RemoteInputChannel>(
          net_.connections, in.producer_data_address(), in.partition_id(), in.subpartition(),
          gate_pool, per_channel, in.producer_taskmanager_id()));
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

std::string Task::DisplayName() const {
  return absl::StrCat(deployment_.vertex_name(), " (", deployment_.subtask_index() + 1, "/",
                      deployment_.parallelism(), ")");
}

void Task::Start() {
  for (const auto& p : partitions_) net_.partitions->Register(p);
  thread_ = std::thread([this] { Run(); });
}

void Task::Cancel() {
  if (cancelled_.exchange(true)) return;
  for (const auto& p : partitions_) p->Release();
  // Null when SetUpNetwork failed before creating the gate (the task is destroyed undeployed).
  if (gate_) gate_->Close();
}

void Task::SetState(SubtaskState to, const std::string& failure) {
  if (state_ == to) return;
  Log()->info("{} switched from {} to {}.{}", DisplayName(), SubtaskStateName(state_),
              SubtaskStateName(to), failure.empty() ? "" : " " + failure);
  state_ = to;
  listener_(deployment_, to, failure);
}

void Task::Run() {
  std::vector<std::unique_ptr<StreamOperator>> ops;
  std::vector<std::unique_ptr<OperatorContext>> contexts;
  std::vector<std::unique_ptr<Output>> outputs;
  std::vector<std::unique_ptr<network::RecordWriter>> writers;
  bool opened = false;
  std::string failure;
  SetState(SubtaskState::kInitializing);
  try {
    const auto& nodes = env_->nodes();
    auto node = [&](uint32_t id) -> const NodeSpec& {
      if (id >= nodes.size())
        throw std::runtime_error(absl::StrCat("package has no operator ", id));
      return nodes[id];
    };
    std::map<uint32_t, size_t> op_index;
    for (const auto& op : deployment_.operators()) {
      op_index[op.node_id()] = ops.size();
      ops.push_back(node(op.node_id()).factory());
      contexts.push_back(std::make_unique<OperatorContext>(
          deployment_, node(op.node_id()).max_parallelism, &cancelled_));
    }
    // Network outputs: one RecordWriter per produced partition.
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
        if (!producer.serialize_output) {
          throw std::runtime_error(absl::StrCat("operator '", producer.name, "' has no output"));
        }
        network::WriterCounters counters{&metrics_.records_out, &metrics_.bytes_out,
                                         &metrics_.backpressured_ns,
                                         &metrics_.backpressured_since_ns};
        writers.push_back(std::make_unique<network::RecordWriter>(
            partitions_[out.partition_index()], static_cast<PartitionKind>(spec.partitioner()),
            spec.max_parallelism(), edge.key_hash, producer.serialize_output,
            deployment_.subtask_index(), counters));
        writers.back()->set_flush_always(deployment_.buffer_timeout_ms() == 0);
      }
    }
    // Wire each operator's output, last operator first.
    std::vector<Output*> op_output(ops.size(), nullptr);
    size_t writer_i = 0;
    for (size_t i = 0; i < ops.size(); ++i) {
      std::vector<Output*> targets;
      for (const auto& out : deployment_.operators(static_cast<int>(i)).outputs()) {
        if (out.target_case() == proto::OperatorOutput::kChainedNodeId) {
          auto it = op_index.find(out.chained_node_id());
          if (it == op_index.end()) throw std::runtime_error("chained operator missing");
          outputs.push_back(std::make_unique<ChainedOutput>(ops[it->second].get()));
          targets.push_back(outputs.back().get());
        } else {
          targets.push_back(writers[writer_i++].get());
        }
      }
      if (targets.empty()) {
        outputs.push_back(std::make_unique<NullOutput>());
      } else if (targets.size() == 1) {
        op_output[i] = targets[0];
        continue;
      } else {
        outputs.push_back(std::make_unique<FanOutOutput>(targets));
      }
      op_output[i] = outputs.back().get();
    }
    for (size_t i = ops.size(); i-- > 0;) ops[i]->Open(*contexts[i], *op_output[i]);
    opened = true;
    gate_->Start();
    SetState(SubtaskState::kRunning);

    const auto timeout = std::chrono::milliseconds(deployment_.buffer_timeout_ms());
    auto next_flush = Clock::now() + timeout;
    auto flush_if_due = [&](bool force) {
      auto now = Clock::now();
      if (force || now >= next_flush) {
        for (auto& w : writers) w->Flush();
        next_flush = now + timeout;
      }
    };

    const NodeSpec& head = node(deployment_.operators(0).node_id());
    if (head.is_source) {
      std::mutex sleep_mu;
      std::condition_variable never;
      while (true) {
        if (cancelled_) throw TaskCancelled();
        int64_t wait_us = 0;
        SourceStatus s = ops[0]->PollNext(&wait_us);
        flush_if_due(timeout.count() == 0);
        if (s == SourceStatus::kEndOfInput) break;
        if (s == SourceStatus::kNothingAvailable) {
          auto until = Clock::now() + std::chrono::microseconds(std::max<int64_t>(wait_us, 10));
          if (timeout.count() > 0 && !writers.empty()) until = std::min(until, next_flush);
          until = std::min(until, Clock::now() + std::chrono::milliseconds(100));
          network::WaitTimer idle(&metrics_.idle_since_ns, &metrics_.idle_ns);
          std::unique_lock<std::mutex> lock(sleep_mu);
          never.wait_until(lock, until, [&] { return cancelled_.load(); });
        }
      }
    } else {
      std::vector<network::RecordReader> readers(static_cast<size_t>(gate_->size()));
      int ended = 0;
      StreamOperator* first = ops[0].get();
      while (ended < gate_->size()) {
        int channel = 0;
        network::BufferPtr buffer;
        std::string error;
        auto wait =
            timeout.count() > 0 ? next_flush - Clock::now() : std::chrono::milliseconds(100);
        network::InputGate::Result r;
        {
          network::WaitTimer idle(&metrics_.idle_since_ns, &metrics_.idle_ns);
          r = gate_->Next(absl::FromChrono(std::max<Clock::duration>(wait, Clock::duration(0))),
                          &channel, &buffer, &error);
        }
        switch (r) {
          case network::InputGate::Result::kClosed:
            throw TaskCancelled();
          case network::InputGate::Result::kError:
            throw std::runtime_error(error);
          case network::InputGate::Result::kTimeout:
            flush_if_due(true);
            continue;
          case network::InputGate::Result::kBuffer:
            break;
        }
        auto& reader = readers[static_cast<size_t>(channel)];
        if (buffer->kind == network::BufferKind::kEndOfPartition) {
          if (reader.has_partial()) throw std::runtime_error("input channel ended inside a record");
          ++ended;
        } else {
          // Counted per record, not per buffer: a slow operator may take seconds over one buffer,
          // and numRecordsInPerSecond must not jump between 0 and a buffer's worth of records.
          std::atomic<uint64_t>& records_in = metrics_.records_in;
          reader.Read(buffer->data, buffer->size,
                      [first, &records_in](const uint8_t* data, size_t size) {
                        first->ProcessSerialized(data, size);
                        // Only this thread writes: a plain store, no locked instruction.
                        records_in.store(records_in.load(std::memory_order_relaxed) + 1,
                                         std::memory_order_relaxed);
                      });
          metrics_.bytes_in.fetch_add(buffer->size, std::memory_order_relaxed);
        }
        flush_if_due(timeout.count() == 0);
      }
    }
    if (cancelled_) throw TaskCancelled();
    for (auto& op : ops) op->EndInput();
    for (auto& w : writers) w->Finish();
    for (auto& op : ops) op->Close();
    opened = false;
  } catch (const TaskCancelled&) {
  } catch (const network::PartitionReleasedError&) {
    if (!cancelled_) failure = "output partition released";
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (opened) {
    for (auto& op : ops) {
      try {
        op->Close();
      } catch (const std::exception& e) {
        Log()->warn("{}: close failed: {}", DisplayName(), e.what());
      }
    }
  }
  gate_->Close();
  ops.clear();
  if (!failure.empty() && !cancelled_) {
    for (const auto& p : partitions_) p->Release();
    SetState(SubtaskState::kFailed, failure);
  } else if (cancelled_) {
    SetState(SubtaskState::kCanceled);
  } else {
    SetState(SubtaskState::kFinished);
  }
  done_ = true;
}

}  // namespace sluice::taskmanager
