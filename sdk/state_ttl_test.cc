// State time-to-live with a clock the test moves: values, list elements and map entries expire on
// their own; the update types and visibilities; incremental cleanup removing other keys' expired
// state; full-snapshot cleanup; the times surviving a snapshot and restore; the bad configs. On
// the heap and in a backend (sluice/testing/fake_keyed_host.h).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sluice/sluice.h"
#include "sluice/testing/fake_keyed_host.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using testing::FakeInit;
using testing::FakeTimerService;
using testing::MapBackend;
using testing::MemoryWriter;

using Update = StateTtlConfig::UpdateType;
using Visibility = StateTtlConfig::Visibility;

class StateTtlTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) backend_ = std::make_unique<MapBackend>();
    Open(store_, {});
  }
  void Open(KeyedStateStore<int64_t>& store, std::vector<testing::Entry> restored) {
    const bool is_restored = !restored.empty();
    FakeInit init(&timers_, std::move(restored), is_restored, backend_.get());
    store.Initialize(init);
  }
  std::function<int64_t()> Clock() {
    return [this] { return now_; };
  }
  static StateTtlConfig Ttl(Update update = Update::kOnCreateAndWrite,
                            Visibility visibility = Visibility::kNeverReturnExpired) {
    return StateTtlConfig::NewBuilder(milliseconds(100))
        .SetUpdateType(update)
        .SetStateVisibility(visibility)
        .DisableCleanupInBackground()
        .Build();
  }

  int64_t now_ = 1000;
  FakeTimerService timers_;
  std::unique_ptr<MapBackend> backend_;
  KeyedStateStore<int64_t> store_;
};

TEST_P(StateTtlTest, AValueExpiresItsTimeToLiveAfterItsLastWrite) {
  ValueState<int64_t> v = store_.GetValueState<int64_t>("v", Ttl(), Clock());
  store_.SetCurrentKey(1);
  v.Update(7);
  now_ = 1099;
  ASSERT_NE(v.Get(), nullptr);
  EXPECT_EQ(*v.Get(), 7) << "reads do not extend it (kOnCreateAndWrite)";
  v.Update(8);  // a write does: expires at 1199
  now_ = 1198;
  EXPECT_EQ(v.ValueOr(0), 8);
  now_ = 1199;
  EXPECT_EQ(v.Get(), nullptr);
  EXPECT_TRUE(store_.KeysOf("v").empty()) << "read after expiry: removed";
}

TEST_P(StateTtlTest, OnReadAndWriteExtendsOnEveryRead) {
  ValueState<int64_t> v = store_.GetValueState<int64_t>("v", Ttl(Update::kOnReadAndWrite), Clock());
  store_.SetCurrentKey(1);
  v.Update(7);
  for (int i = 0; i < 5; ++i) {
    now_ += 90;
    ASSERT_NE(v.Get(), nullptr) << i;
  }
  now_ += 100;
  EXPECT_EQ(v.Get(), nullptr);
}

TEST_P(StateTtlTest, ReturnExpiredIfNotCleanedUpGivesItOnceMore) {
  ValueState<std::string> v = store_.GetValueState<std::string>(
      "v", Ttl(Update::kOnCreateAndWrite, Visibility::kReturnExpiredIfNotCleanedUp), Clock());
  store_.SetCurrentKey(1);
  v.Update("old");
  now_ += 500;
  const std::string* got = v.Get();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(*got, "old") << "expired, not cleaned up yet: returned";
  EXPECT_EQ(v.Get(), nullptr) << "and cleaned up by that read";
}

TEST_P(StateTtlTest, ListElementsAndMapEntriesExpireOneByOne) {
  ListState<int64_t> list = store_.GetListState<int64_t>("list", Ttl(), Clock());
  MapState<std::string, int64_t> map =
      store_.GetMapState<std::string, int64_t>("map", Ttl(), Clock());
  store_.SetCurrentKey(1);
  list.Add(1);
  map.Put("a", 1);
  now_ += 50;
  list.Add(2);
  map.Put("b", 2);
  now_ += 60;  // the first of each expired
  EXPECT_EQ(list.Get(), (std::vector<int64_t>{2}));
  EXPECT_FALSE(map.Get("a").has_value());
  EXPECT_EQ(map.Get("b").value_or(0), 2);
  std::vector<std::string> keys;
  map.ForEach([&](const std::string& k, const int64_t&) { keys.push_back(k); });
  EXPECT_EQ(keys, std::vector<std::string>{"b"});
  now_ += 60;
  EXPECT_TRUE(list.Get().empty());
  EXPECT_TRUE(map.Entries().empty());
  EXPECT_TRUE(store_.KeysOf("list").empty());
}

TEST_P(StateTtlTest, IncrementalCleanupRemovesOtherKeysWhileOneIsUsed) {
  StateTtlConfig ttl =
      StateTtlConfig::NewBuilder(milliseconds(100)).CleanupIncrementally(3, false).Build();
  ValueState<int64_t> v = store_.GetValueState<int64_t>("v", ttl, Clock());
  for (int64_t k = 0; k < 10; ++k) {
    store_.SetCurrentKey(k);
    v.Update(k);
  }
  now_ += 200;
  store_.SetCurrentKey(100);
  for (int i = 0; i < 5; ++i) v.Update(i);  // each access cleans 3 other keys
  EXPECT_EQ(store_.KeysOf("v"), std::vector<int64_t>{100});
  EXPECT_EQ(store_.CurrentKey(), 100) << "the current key is back after each step";
  EXPECT_EQ(v.ValueOr(-1), 4);
}

TEST_P(StateTtlTest, EveryRecordCleanupRunsWhenTheKeyChanges) {
  StateTtlConfig ttl =
      StateTtlConfig::NewBuilder(milliseconds(100)).CleanupIncrementally(4, true).Build();
  ValueState<int64_t> v = store_.GetValueState<int64_t>("v", ttl, Clock());
  for (int64_t k = 0; k < 8; ++k) {
    store_.SetCurrentKey(k);
    v.Update(k);
  }
  now_ += 200;
  store_.SetCurrentKey(50);  // records whose function does not touch the state
  store_.SetCurrentKey(51);
  store_.SetCurrentKey(52);
  EXPECT_TRUE(store_.KeysOf("v").empty());
}

// Found on a cluster: before the first record there is no current key to go back to after a
// cleanup step, and K{} may belong to another subtask's key groups.
TEST(StateTtlCleanup, ACleanupStepBeforeTheFirstKeyDoesNotTouchAnotherSubtasksKeyGroup) {
  MapBackend backend;
  const int zero_group = KeyGroupFor(int64_t{0}, 128);
  backend.first_key_group = zero_group < 64 ? 64 : 0;  // the half without key 0's group
  backend.last_key_group = backend.first_key_group + 63;
  int64_t mine = 1;
  while (KeyGroupFor(mine, 128) < backend.first_key_group ||
         KeyGroupFor(mine, 128) > backend.last_key_group) {
    ++mine;
  }
  FakeTimerService timers;
  FakeInit init(&timers, {}, false, &backend);
  KeyedStateStore<int64_t> store;
  store.Initialize(init);
  int64_t now = 0;
  ValueState<int64_t> v = store.GetValueState<int64_t>(
      "v", StateTtlConfig::NewBuilder(milliseconds(10)).CleanupIncrementally(2, true).Build(),
      [&now] { return now; });
  EXPECT_NO_THROW(store.SetCurrentKey(mine));
  v.Update(1);
  now = 100;
  EXPECT_NO_THROW(store.SetCurrentKey(mine));
  EXPECT_EQ(v.Get(), nullptr);
}

TEST_P(StateTtlTest, BadConfigsAndMixedUseAreRefused) {
  EXPECT_THROW(StateTtlConfig::NewBuilder(milliseconds(-1)).Build(), JobDefinitionError);
  EXPECT_THROW(StateTtlConfig::NewBuilder(milliseconds(0)).Build(), JobDefinitionError);
  EXPECT_THROW(StateTtlConfig::NewBuilder(milliseconds(10)).CleanupIncrementally(-1, false).Build(),
               JobDefinitionError);
  store_.GetValueState<int64_t>("v", Ttl(), Clock());
  EXPECT_THROW(store_.GetValueState<int64_t>("v"), std::logic_error)
      << "one name with and without a time-to-live";
}

INSTANTIATE_TEST_SUITE_P(Backends, StateTtlTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "backend" : "heap"; });

// Heap state only: RocksDB's snapshots are the host's, and full-snapshot cleanup does not apply.
class StateTtlHeapTest : public StateTtlTest {};

TEST_P(StateTtlHeapTest, TimesSurviveASnapshotAndFullSnapshotCleanupDropsTheExpired) {
  StateTtlConfig ttl = StateTtlConfig::NewBuilder(milliseconds(100))
                           .CleanupFullSnapshot()
                           .DisableCleanupInBackground()
                           .Build();
  ValueState<int64_t> v = store_.GetValueState<int64_t>("v", ttl, Clock());
  store_.SetCurrentKey(1);
  v.Update(1);  // written at 1000: expires at 1100
  now_ = 1060;
  store_.SetCurrentKey(2);
  v.Update(2);  // expires at 1160
  now_ = 1120;
  MemoryWriter w;
  store_.Snapshot(w);
  EXPECT_EQ(w.entries.size(), 1u) << "key 1 expired before the snapshot";

  KeyedStateStore<int64_t> restored;
  Open(restored, w.entries);
  ValueState<int64_t> r = restored.GetValueState<int64_t>("v", ttl, Clock());
  restored.SetCurrentKey(2);
  EXPECT_EQ(r.ValueOr(0), 2);
  now_ = 1160;
  EXPECT_EQ(r.Get(), nullptr) << "the write time came with the value";
}

INSTANTIATE_TEST_SUITE_P(Heap, StateTtlHeapTest, ::testing::Values(false),
                         [](const auto&) { return std::string("heap"); });

}  // namespace
}  // namespace sluice
