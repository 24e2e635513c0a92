// TaskState with a keyed operator that keeps namespaced state and timers, in both backends: a
// snapshot restored at another parallelism gives every key's state and timers to exactly the
// subtask owning its key group, and the timers fire there with their key and namespace current.
#include "taskmanager/checkpointing/task_state.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sluice/environment.h"
#include "sluice/key_groups.h"
#include "sluice/timers.h"

namespace sluice::taskmanager {
namespace {

EdgeSpec HashEdge(uint32_t source) {
  EdgeSpec e = MainOutputEdge(source);
  e.kind = PartitionKind::kHash;
  return e;
}

struct Window {
  int64_t start = 0;
  int64_t end = 0;
  bool operator==(const Window& o) const { return start == o.start && end == o.end; }
  SLUICE_FIELDS(start, end)
};

constexpr int kMaxParallelism = 128;

//! Counts per key and window; a timer at the window's end reports the count.
class WindowCounter final : public StreamOperator {
 public:
  void InitializeState(InitContext& ctx) override {
    store_.Initialize(ctx);
    count_ = store_.GetValueState<int64_t, Window>("count");
    timers_.Initialize(ctx, "window", &store_, [this](TimeDomain, int64_t t, const Window& w) {
      count_.SetCurrentNamespace(w);
      const int64_t* n = count_.Get();
      fired[store_.CurrentKey()].push_back({t, n ? *n : -1});
      count_.Clear();
    });
  }
  void SnapshotState(SnapshotContext& ctx) override { store_.Snapshot(ctx); }

  void Add(const std::string& key, Window w) {
    store_.SetCurrentKey(key);
    count_.SetCurrentNamespace(w);
    count_.Update(count_.ValueOr(0) + 1);
    timers_.RegisterEventTimeTimer(w.end - 1, w);  // registered once per window, however often
  }

  //! Per key: (timer time, the window's count when it fired).
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> fired;

 private:
  KeyedStateStore<std::string> store_;
  Namespaced<ValueState<int64_t>, Window> count_;
  KeyedTimers<std::string, Window> timers_;
};

class TaskStateTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "task-state-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    node_.id = 1;
    node_.uid = "counter";
    node_.name = "Counter";
    node_.inputs.push_back(HashEdge(0));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  proto::TaskDeployment Deployment(int subtask, int parallelism) {
    return Deployment(subtask, parallelism, GetParam());
  }
  proto::TaskDeployment Deployment(int subtask, int parallelism, const std::string& backend) {
    proto::TaskDeployment d;
    d.set_job_id("job");
    d.set_attempt_id("a" + std::to_string(subtask) + "-" + std::to_string(parallelism));
    d.set_subtask_index(subtask);
    d.set_parallelism(parallelism);
    d.mutable_checkpointing()->set_enabled(true);
    d.mutable_checkpointing()->set_storage_root(dir_ + "/checkpoints");
    d.mutable_checkpointing()->set_state_backend(backend);
    return d;
  }

  std::string dir_;
  NodeSpec node_;
};

TEST_P(TaskStateTest, NamespacedStateAndTimersRestoreByKeyGroupAtAnotherParallelism) {
  constexpr int kKeys = 60;
  // Parallelism 1: each key counts 3 records in window [0, 10) and 1 in [10, 20).
  proto::TaskDeployment one = Deployment(0, 1);
  std::vector<proto::OperatorSubtaskState> snapshot;
  {
    TaskState state(one, dir_ + "/local-one");
    WindowCounter op;
    state.InitializeOperator(node_, kMaxParallelism, op);
    for (int k = 0; k < kKeys; ++k) {
      std::string key = "key" + std::to_string(k);
      for (int i = 0; i < 3; ++i) op.Add(key, Window{0, 10});
      op.Add(key, Window{10, 20});
    }
    auto async = state.Snapshot(1, {&node_}, {&op});
    auto written = async();
    ASSERT_TRUE(written.ok()) << written.status();
    snapshot = *written;
  }
  ASSERT_EQ(snapshot.size(), 1u);

  // Parallelism 2: each subtask gets its key groups' counts and timers, and fires them.
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> all;
  for (int subtask = 0; subtask < 2; ++subtask) {
    proto::TaskDeployment d = Deployment(subtask, 2);
    d.mutable_restore()->set_checkpoint_id(1);
    d.mutable_restore()->set_base_dir(dir_ + "/checkpoints");
    *d.mutable_restore()->add_operators() = snapshot[0];
    TaskState state(d, dir_ + "/local-" + std::to_string(subtask));
    WindowCounter op;
    state.InitializeOperator(node_, kMaxParallelism, op);
    state.AdvanceWatermark(node_, 9);  // the first window's timers
    state.AdvanceWatermark(node_, 100);
    KeyGroupRange range = KeyGroupRangeForOperator(kMaxParallelism, 2, subtask);
    for (const auto& [key, fired] : op.fired) {
      EXPECT_TRUE(range.Contains(KeyGroupFor(key, kMaxParallelism))) << key;
      EXPECT_TRUE(all.emplace(key, fired).second) << key << " fired in two subtasks";
    }
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, fired] : all) {
    EXPECT_EQ(fired, (std::vector<std::pair<int64_t, int64_t>>{{9, 3}, {19, 1}})) << key;
  }
}

TEST_P(TaskStateTest, TimersOfAServiceNotAskedForAgainAreKeptInTheNextSnapshot) {
  proto::TaskDeployment one = Deployment(0, 1);
  std::vector<proto::OperatorSubtaskState> first;
  {
    TaskState state(one, dir_ + "/local-a");
    WindowCounter op;
    state.InitializeOperator(node_, kMaxParallelism, op);
    op.Add("k", Window{0, 10});
    auto written = state.Snapshot(1, {&node_}, {&op})();
    ASSERT_TRUE(written.ok()) << written.status();
    first = *written;
  }
  // A restored operator that never asks for its timer service: its timers stay in snapshots.
  class Plain final : public StreamOperator {
   public:
    void InitializeState(InitContext& ctx) override { store.Initialize(ctx); }
    void SnapshotState(SnapshotContext& ctx) override { store.Snapshot(ctx); }
    KeyedStateStore<std::string> store;
  };
  std::vector<proto::OperatorSubtaskState> second;
  {
    proto::TaskDeployment d = Deployment(0, 1);
    d.mutable_restore()->set_base_dir(dir_ + "/checkpoints");
    *d.mutable_restore()->add_operators() = first[0];
    TaskState state(d, dir_ + "/local-b");
    Plain op;
    state.InitializeOperator(node_, kMaxParallelism, op);
    auto written = state.Snapshot(2, {&node_}, {&op})();
    ASSERT_TRUE(written.ok()) << written.status();
    second = *written;
  }
  proto::TaskDeployment d = Deployment(0, 1);
  d.mutable_restore()->set_base_dir(dir_ + "/checkpoints");
  *d.mutable_restore()->add_operators() = second[0];
  TaskState state(d, dir_ + "/local-c");
  WindowCounter op;
  state.InitializeOperator(node_, kMaxParallelism, op);
  state.AdvanceWatermark(node_, 100);
  ASSERT_EQ(op.fired.size(), 1u);
  EXPECT_EQ(op.fired["k"], (std::vector<std::pair<int64_t, int64_t>>{{9, 1}}));
}

TEST_P(TaskStateTest, AHeapSnapshotRestoresIntoEitherBackendWithItsTimers) {
  std::vector<proto::OperatorSubtaskState> snapshot;
  {
    const proto::TaskDeployment heap = Deployment(0, 1, "hashmap");
    TaskState state(heap, dir_ + "/local-heap");
    WindowCounter op;
    state.InitializeOperator(node_, kMaxParallelism, op);
    for (int i = 0; i < 2; ++i) op.Add("k", Window{0, 10});
    auto written = state.Snapshot(1, {&node_}, {&op})();
    ASSERT_TRUE(written.ok()) << written.status();
    snapshot = *written;
  }
  proto::TaskDeployment d = Deployment(0, 1);
  d.mutable_restore()->set_base_dir(dir_ + "/checkpoints");
  *d.mutable_restore()->add_operators() = snapshot[0];
  TaskState state(d, dir_ + "/local-restored");
  WindowCounter op;
  state.InitializeOperator(node_, kMaxParallelism, op);
  state.AdvanceWatermark(node_, 100);
  EXPECT_EQ(op.fired["k"], (std::vector<std::pair<int64_t, int64_t>>{{9, 2}}));
}

INSTANTIATE_TEST_SUITE_P(Backends, TaskStateTest, ::testing::Values("hashmap", "rocksdb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sluice::taskmanager
