// Keyed state on the heap: each state type's semantics, and a snapshot (entries per key group)
// restored into a fresh store — whole, and split by key-group range as a rescale would.
#include "sluice/state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace sluice {
namespace {

struct Entry {
  int key_group;
  std::string state, key, user_key, value;
};

//! Test double of the host's snapshot side: keeps the entries in memory. Deferred (copy-on-write)
//! writes run when the test calls Finish(), as the host's asynchronous part would.
class MemoryWriter final : public KeyedStateWriter, public SnapshotContext {
 public:
  void Write(int key_group, const std::string& state, std::string_view key,
             std::string_view user_key, std::string_view value) override {
    entries.push_back(
        {key_group, state, std::string(key), std::string(user_key), std::string(value)});
  }
  int64_t CheckpointId() const override { return 1; }
  void AddOperatorState(const std::string&, OperatorStateMode, std::string) override {}
  KeyedStateWriter& Keyed() override { return *this; }
  void AddKeyedSnapshot(std::function<void(KeyedStateWriter&)> write) override {
    deferred.push_back(std::move(write));
  }
  MemoryWriter& Finish() {
    for (auto& w : deferred) w(*this);
    deferred.clear();
    return *this;
  }
  std::vector<Entry> entries;
  std::vector<std::function<void(KeyedStateWriter&)>> deferred;
};

//! Test double of the host's restore side: hands out the entries of one key-group range.
class MemoryInit final : public InitContext {
 public:
  MemoryInit(std::vector<Entry> entries, KeyGroupRange range, int max_parallelism = 128)
      : entries_(std::move(entries)), range_(range), max_parallelism_(max_parallelism) {}
  bool IsRestored() const override { return true; }
  int MaxParallelism() const override { return max_parallelism_; }
  std::vector<std::string> OperatorState(const std::string&) const override { return {}; }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>& fn) const override {
    for (const Entry& e : entries_) {
      if (range_.Contains(e.key_group)) fn(e.key_group, e.state, e.key, e.user_key, e.value);
    }
  }
  KeyedStateBackend* KeyedBackend() override { return nullptr; }

 private:
  std::vector<Entry> entries_;
  KeyGroupRange range_;
  int max_parallelism_;
};

class FreshInit final : public InitContext {
 public:
  bool IsRestored() const override { return false; }
  int MaxParallelism() const override { return 128; }
  std::vector<std::string> OperatorState(const std::string&) const override { return {}; }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>&) const override {}
  KeyedStateBackend* KeyedBackend() override { return nullptr; }
};

//! Fills a store with every kind of state for keys 0..n-1.
void Fill(KeyedStateStore<int64_t>& store, int n) {
  auto value = store.GetValueState<std::string>("value");
  auto list = store.GetListState<int32_t>("list");
  auto map = store.GetMapState<std::string, double>("map");
  auto sum = store.GetReducingState<int64_t>(
      "sum", [](const int64_t& a, const int64_t& b) { return a + b; });
  for (int64_t k = 0; k < n; ++k) {
    store.SetCurrentKey(k);
    value.Update("v" + std::to_string(k));
    for (int i = 0; i <= k % 3; ++i) list.Add(static_cast<int32_t>(k * 10 + i));
    map.Put("a", static_cast<double>(k));
    map.Put("b", 0.5);
    sum.Add(k);
    sum.Add(1);
  }
}

void ExpectKey(KeyedStateStore<int64_t>& store, int64_t k) {
  auto value = store.GetValueState<std::string>("value");
  auto list = store.GetListState<int32_t>("list");
  auto map = store.GetMapState<std::string, double>("map");
  auto sum = store.GetReducingState<int64_t>(
      "sum", [](const int64_t& a, const int64_t& b) { return a + b; });
  store.SetCurrentKey(k);
  ASSERT_NE(value.Get(), nullptr) << k;
  EXPECT_EQ(*value.Get(), "v" + std::to_string(k));
  std::vector<int32_t> want;
  for (int i = 0; i <= k % 3; ++i) want.push_back(static_cast<int32_t>(k * 10 + i));
  EXPECT_EQ(list.Get(), want);
  EXPECT_EQ(map.Get("a"), std::optional<double>(static_cast<double>(k)));
  EXPECT_EQ(map.Get("b"), std::optional<double>(0.5));
  EXPECT_FALSE(map.Contains("c"));
  EXPECT_EQ(sum.Get(), std::optional<int64_t>(k + 1));
}

TEST(HeapStateTest, EachStateTypeIsScopedToTheCurrentKey) {
  KeyedStateStore<int64_t> store;
  FreshInit init;
  store.Initialize(init);
  Fill(store, 10);
  for (int64_t k = 0; k < 10; ++k) ExpectKey(store, k);
  auto list = store.GetListState<int32_t>("list");
  auto map = store.GetMapState<std::string, double>("map");
  store.SetCurrentKey(3);
  list.Update({});
  EXPECT_TRUE(list.Get().empty());
  map.Remove("a");
  EXPECT_EQ(map.Entries().size(), 1u);
  map.Clear();
  EXPECT_TRUE(map.IsEmpty());
  store.SetCurrentKey(42);
  EXPECT_TRUE(list.Get().empty());
  EXPECT_EQ(store.Keys().size(), 10u);
}

TEST(HeapStateTest, SnapshotRestoresWholeAndByKeyGroupRange) {
  constexpr int kKeys = 500;
  KeyedStateStore<int64_t> store;
  FreshInit fresh;
  store.Initialize(fresh);
  Fill(store, kKeys);
  MemoryWriter snapshot;
  store.Snapshot(snapshot);
  snapshot.Finish();
  for (const Entry& e : snapshot.entries) {
    int64_t key = 0;
    internal::DeserializeFrom(e.key, key);
    ASSERT_EQ(e.key_group, KeyGroupFor(key, 128));
  }

  // Whole: every key comes back.
  KeyedStateStore<int64_t> restored;
  MemoryInit all(snapshot.entries, KeyGroupRange{0, 127});
  restored.Initialize(all);
  for (int64_t k = 0; k < kKeys; ++k) ExpectKey(restored, k);

  // Split in three by key groups (a rescale to parallelism 3): each key lands in exactly one part.
  std::map<int64_t, int> owners;
  for (int part = 0; part < 3; ++part) {
    KeyGroupRange range = KeyGroupRangeForOperator(128, 3, part);
    KeyedStateStore<int64_t> piece;
    MemoryInit init(snapshot.entries, range);
    piece.Initialize(init);
    // Keys() before any Get*State still sees restored keys once the states are asked for.
    piece.GetValueState<std::string>("value");
    piece.GetListState<int32_t>("list");
    piece.GetMapState<std::string, double>("map");
    piece.GetReducingState<int64_t>("sum",
                                    [](const int64_t& a, const int64_t& b) { return a + b; });
    for (int64_t k : piece.Keys()) {
      ++owners[k];
      EXPECT_TRUE(range.Contains(KeyGroupFor(k, 128)));
      ExpectKey(piece, k);
    }
  }
  EXPECT_EQ(owners.size(), static_cast<size_t>(kKeys));
  for (const auto& [k, n] : owners) EXPECT_EQ(n, 1) << k;
}

TEST(HeapStateTest, RestoredStatesNotAskedForAreKeptInTheNextSnapshot) {
  KeyedStateStore<int64_t> store;
  FreshInit fresh;
  store.Initialize(fresh);
  Fill(store, 20);
  MemoryWriter first;
  store.Snapshot(first);
  first.Finish();

  KeyedStateStore<int64_t> restored;
  MemoryInit init(first.entries, KeyGroupRange{0, 127});
  restored.Initialize(init);
  restored.GetValueState<std::string>("value");  // the others are not asked for
  MemoryWriter second;
  restored.Snapshot(second);
  second.Finish();
  auto key = [](const Entry& e) { return std::tie(e.state, e.key, e.user_key, e.value); };
  auto sorted = [&](std::vector<Entry> v) {
    std::sort(v.begin(), v.end(), [&](const Entry& a, const Entry& b) { return key(a) < key(b); });
    return v;
  };
  auto a = sorted(first.entries), b = sorted(second.entries);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(key(a[i]), key(b[i]));
}

TEST(HeapStateTest, SnapshotIsCopyOnWriteWhileTheTaskGoesOnWriting) {
  KeyedStateStore<int64_t> store;
  FreshInit fresh;
  store.Initialize(fresh);
  Fill(store, 100);
  MemoryWriter first;
  store.Snapshot(first);  // synchronous part: freezes, serializes nothing yet
  EXPECT_TRUE(first.entries.empty());
  // The task goes on: change, add and remove keys of every state type before the upload runs.
  auto value = store.GetValueState<std::string>("value");
  auto list = store.GetListState<int32_t>("list");
  auto map = store.GetMapState<std::string, double>("map");
  for (int64_t k = 0; k < 100; ++k) {
    store.SetCurrentKey(k);
    value.Update("changed");
    list.Add(-1);
    map.Put("a", -1.0);
  }
  store.SetCurrentKey(7);
  value.Clear();
  map.Clear();
  store.SetCurrentKey(1000);
  value.Update("new");
  // Asynchronous part: the snapshot still holds the state as it was at the freeze.
  KeyedStateStore<int64_t> restored;
  MemoryInit init(first.Finish().entries, KeyGroupRange{0, 127});
  restored.Initialize(init);
  for (int64_t k = 0; k < 100; ++k) ExpectKey(restored, k);
  restored.SetCurrentKey(1000);
  EXPECT_EQ(restored.GetValueState<std::string>("value").Get(), nullptr);
  // The live store sees its own writes, and the next snapshot has them.
  store.SetCurrentKey(7);
  EXPECT_EQ(value.Get(), nullptr);
  EXPECT_TRUE(map.IsEmpty());
  store.SetCurrentKey(8);
  EXPECT_EQ(*value.Get(), "changed");
  EXPECT_EQ(list.Get().back(), -1);
  MemoryWriter second;
  store.Snapshot(second);
  KeyedStateStore<int64_t> again;
  MemoryInit init2(second.Finish().entries, KeyGroupRange{0, 127});
  again.Initialize(init2);
  auto value2 = again.GetValueState<std::string>("value");
  again.SetCurrentKey(1000);
  EXPECT_EQ(*value2.Get(), "new");
  again.SetCurrentKey(7);
  EXPECT_EQ(value2.Get(), nullptr);
  again.SetCurrentKey(8);
  EXPECT_EQ(*value2.Get(), "changed");
  EXPECT_EQ(store.Keys().size(), 101u);
}

}  // namespace
}  // namespace sluice
