// Task: one subtask on its own thread, driven by its mailbox. These tests run a real Task with a
// source operator built in-process, its output a real local result partition.
#include "taskmanager/task.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "sluice/environment.h"
#include "taskmanager/network/buffer_pool.h"
#include "taskmanager/network/partition_manager.h"
#include "taskmanager/network/remote_channel.h"

namespace sluice::taskmanager {
namespace {

EdgeSpec ForwardEdge(uint32_t source) {
  EdgeSpec e = MainOutputEdge(source);
  e.kind = PartitionKind::kForward;
  return e;
}

//! Emits an endless sequence of numbers; with `idle`, never has anything and asks to wait long.
class CountingSource final : public StreamOperator {
 public:
  CountingSource(std::atomic<int64_t>* emitted, bool idle) : emitted_(emitted), idle_(idle) {}
  SourceStatus PollNext(int64_t* wait_micros) override {
    if (idle_) {
      *wait_micros = int64_t{3600} * 1000 * 1000;
      return SourceStatus::kNothingAvailable;
    }
    int64_t n = emitted_->load();
    out_->Emit(&n);
    emitted_->store(n + 1);
    return SourceStatus::kMoreAvailable;
  }

 private:
  std::atomic<int64_t>* emitted_;
  bool idle_;
};

class TaskTest : public ::testing::Test {
 protected:
  //! A task running the source, its output a forward partition nobody consumes.
  std::unique_ptr<Task> StartSource(bool idle) {
    auto env = std::make_shared<StreamEnvironment>(std::map<std::string, std::string>{}, 1);
    NodeSpec& source = env->AddNode("Source");
    source.is_source = true;
    source.factory = [this, idle] { return std::make_unique<CountingSource>(&emitted_, idle); };
    source.serialize_output = &SerializeErased<int64_t>;
    env->AddNode("Sink").inputs.push_back(ForwardEdge(0));

    proto::TaskDeployment d;
    d.set_job_id("job");
    d.set_attempt_id("attempt");
    d.set_vertex_name("Source");
    d.set_parallelism(1);
    d.set_buffer_timeout_ms(1);
    auto* op = d.add_operators();
    op->set_node_id(0);
    op->add_outputs()->set_partition_index(0);
    auto* p = d.add_partitions();
    p->set_partition_id("job/p0");
    p->set_partitioner(proto::FORWARD);
    p->set_num_subpartitions(1);
    p->set_consumer_node_id(1);
    p->set_input_index(0);

    NetworkContext net;
    net.partitions = &partitions_;
    net.connections = &connections_;
    net.buffers = std::make_shared<network::NetworkBufferPool>(size_t{64} << 10, 4096);
    net.local_taskmanager_id = "tm";
    auto task =
        Task::Create(d, env, net, StateContext{},
                     [this](const proto::TaskDeployment&, SubtaskState s, const Task::Failure&) {
                       absl::MutexLock lock(&mu_);
                       states_.push_back(s);
                     });
    EXPECT_TRUE(task.ok()) << task.status();
    (*task)->Start();
    return std::move(*task);
  }

  bool AwaitState(SubtaskState want) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !states_.empty() && states_.back() == want;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(60));
  }

  std::atomic<int64_t> emitted_{0};
  network::PartitionManager partitions_;
  network::ConnectionManager connections_;
  absl::Mutex mu_;
  std::vector<SubtaskState> states_ ABSL_GUARDED_BY(mu_);
};

TEST_F(TaskTest, CancelWhileBlockedOnBackpressureEndsTheTaskCanceled) {
  std::unique_ptr<Task> task = StartSource(/*idle=*/false);
  ASSERT_TRUE(AwaitState(SubtaskState::kRunning));
  // Nobody consumes the output: the source fills its buffers and blocks in the record writer.
  int64_t seen = -1;
  while (emitted_.load() != seen) {
    seen = emitted_.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_GT(seen, 0);
  task->Cancel();
  ASSERT_TRUE(AwaitState(SubtaskState::kCanceled));
}

TEST_F(TaskTest, CancelWakesATaskWaitingInItsMailbox) {
  std::unique_ptr<Task> task = StartSource(/*idle=*/true);
  ASSERT_TRUE(AwaitState(SubtaskState::kRunning));
  task->Cancel();  // the source asked to be polled again in an hour
  ASSERT_TRUE(AwaitState(SubtaskState::kCanceled));
}

}  // namespace
}  // namespace sluice::taskmanager
