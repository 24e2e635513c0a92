// Keyed state on the heap: each state type's semantics, and a snapshot (entries per key group)
// restored into a fresh store — whole, and split by key-group range as a rescale would.
#include "sluice/state.h"

#include <gtest/gtest.h>
#include <malloc.h>

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
  void AddHeapState(const HeapStateSizer* sizer) override { heap_states.push_back(sizer); }
  std::vector<const HeapStateSizer*> heap_states;
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

//! Bytes the allocator has handed out and not got back (0 where a sanitizer replaces it).
size_t AllocatedBytes() {
#if defined(__SANITIZE_ADDRESS__)
  return 0;
#else
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
#endif
}

TEST(HeapStateTest, TheHostIsToldOfHeapStateAndItsEstimateFollowsWhatWasAllocated) {
  const size_t before = AllocatedBytes();
  auto store = std::make_unique<KeyedStateStore<int64_t>>();
  FreshInit init;
  store->Initialize(init);
  ASSERT_EQ(init.heap_states.size(), 1u);
  EXPECT_EQ(init.heap_states[0], store.get());
  EXPECT_LT(store->EstimateHeapBytes(), 1024u);

  auto value = store->GetValueState<std::string>("value");
  auto list = store->GetListState<int64_t>("list");
  auto map = store->GetMapState<int32_t, std::string>("map");
  constexpr int kKeys = 20000;
  for (int64_t k = 0; k < kKeys; ++k) {
    store->SetCurrentKey(k);
    value.Update(std::string(500, 'v'));
    for (int i = 0; i < 8; ++i) list.Add(i);
    map.Put(1, std::string(100, 'm'));
    map.Put(2, "short");
  }
  const size_t estimate = store->EstimateHeapBytes();
  const size_t allocated = AllocatedBytes() - before;
  // At least the payload: 500 + 8 × 8 + 100 bytes per key.
  EXPECT_GT(estimate, size_t{kKeys} * 664);
  if (allocated > 0) {
    EXPECT_GT(estimate, allocated * 3 / 4) << "allocated " << allocated;
    EXPECT_LT(estimate, allocated * 5 / 4) << "allocated " << allocated;
  }
  // Cleared state is counted out.
  for (int64_t k = 0; k < kKeys; ++k) {
    store->SetCurrentKey(k);
    value.Clear();
    list.Clear();
    map.Clear();
  }
  EXPECT_LT(store->EstimateHeapBytes(), estimate / 4);
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
  // Each state keeps one map per key group and writes them in key-group order.
  for (size_t i = 1; i < snapshot.entries.size(); ++i) {
    const Entry& a = snapshot.entries[i - 1];
    const Entry& b = snapshot.entries[i];
    if (a.state == b.state) {
      EXPECT_LE(a.key_group, b.key_group) << a.state << " entry " << i;
    }
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

//! The entries of a snapshot of a fresh store Fill()ed with n keys.
std::vector<Entry> FilledSnapshot(int n) {
  KeyedStateStore<int64_t> store;
  FreshInit fresh;
  store.Initialize(fresh);
  Fill(store, n);
  MemoryWriter snapshot;
  store.Snapshot(snapshot);
  return snapshot.Finish().entries;
}

TEST(HeapStateTest, RestoredStatesNotAskedForAreKeptInTheNextSnapshot) {
  MemoryWriter first;
  first.entries = FilledSnapshot(20);

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

TEST(HeapStateTest, RestoredKeyGroupsAreBuiltOnFirstAccessAndSnapshotsTakeTheRestAsItIs) {
  constexpr int kKeys = 600;
  KeyedStateStore<int64_t> restored;
  MemoryInit init(FilledSnapshot(kKeys), KeyGroupRange{0, 127});
  restored.Initialize(init);
  auto value = restored.GetValueState<std::string>("value");
  auto list = restored.GetListState<int32_t>("list");
  auto map = restored.GetMapState<std::string, double>("map");
  // Nothing is built yet: the estimate is the restored bytes, not hash-map nodes.
  const size_t pending = restored.EstimateHeapBytes();
  EXPECT_GT(pending, 0u);
  // Keys 0..9 are read, written, cleared: their key groups are built first.
  for (int64_t k = 0; k < 10; ++k) ExpectKey(restored, k);
  restored.SetCurrentKey(3);
  value.Update("three");
  restored.SetCurrentKey(4);
  value.Clear();
  list.Add(-4);
  map.Remove("a");

  // A snapshot while most key groups are still pending; then writes to pending ones (into the
  // copy-on-write delta) before it is written out.
  MemoryWriter second;
  restored.Snapshot(second);
  restored.SetCurrentKey(kKeys - 1);
  value.Update("after the freeze");
  restored.SetCurrentKey(kKeys + 5);
  value.Update("new after the freeze");
  second.Finish();

  auto check_at_freeze = [&](KeyedStateStore<int64_t>& s) {
    auto v = s.GetValueState<std::string>("value");
    auto l = s.GetListState<int32_t>("list");
    auto m = s.GetMapState<std::string, double>("map");
    for (int64_t k = 0; k < kKeys; ++k) {
      if (k == 3 || k == 4) continue;
      ExpectKey(s, k);
    }
    s.SetCurrentKey(3);
    EXPECT_EQ(*v.Get(), "three");
    s.SetCurrentKey(4);
    EXPECT_EQ(v.Get(), nullptr);
    EXPECT_EQ(l.Get().back(), -4);
    EXPECT_FALSE(m.Contains("a"));
    s.SetCurrentKey(kKeys + 5);
    EXPECT_EQ(v.Get(), nullptr);
  };
  KeyedStateStore<int64_t> from_second;
  MemoryInit init2(second.entries, KeyGroupRange{0, 127});
  from_second.Initialize(init2);
  check_at_freeze(from_second);
  EXPECT_EQ(from_second.Keys().size(), static_cast<size_t>(kKeys));

  // The live store has every key, its writes after the freeze included.
  restored.SetCurrentKey(kKeys - 1);
  EXPECT_EQ(*value.Get(), "after the freeze");
  restored.SetCurrentKey(kKeys - 2);
  EXPECT_EQ(*value.Get(), "v" + std::to_string(kKeys - 2));
  EXPECT_EQ(restored.Keys().size(), static_cast<size_t>(kKeys + 1));
  // Every key group built: the estimate now counts the maps' nodes.
  EXPECT_GT(restored.EstimateHeapBytes(), pending);
}

TEST(HeapStateTest, RestoredEntriesOfAKeyGroupInSeveralRunsAreAllBuilt) {
  // Two old subtasks' files may both hold a key group's entries of one state (written by
  // different states' snapshots, or out of order): every run of the group is taken at once.
  internal::RestoredEntries entries;
  entries.Add(5, "a", "", "1");
  entries.Add(7, "b", "", "2");
  entries.Add(5, "c", "", "3");
  ASSERT_EQ(entries.runs(), 3u);
  internal::PendingKeyGroups pending(std::move(entries));
  std::vector<std::string> taken;
  auto collect = [&taken](int kg, std::string_view key, std::string_view, std::string_view value) {
    taken.push_back(std::to_string(kg) + std::string(key) + std::string(value));
  };
  pending.Take(6, collect);
  EXPECT_TRUE(taken.empty());
  pending.Take(5, collect);
  EXPECT_EQ(taken, (std::vector<std::string>{"5a1", "5c3"}));
  pending.Take(5, collect);  // once only
  EXPECT_EQ(taken.size(), 2u);
  std::vector<std::string> frozen;
  pending.Freeze().ForEach(
      [&frozen](int kg, std::string_view key, std::string_view, std::string_view) {
        frozen.push_back(std::to_string(kg) + std::string(key));
      });
  EXPECT_EQ(frozen, (std::vector<std::string>{"7b"}));
  EXPECT_FALSE(pending.empty());
  pending.TakeAll(collect);
  EXPECT_TRUE(pending.empty());
  EXPECT_EQ(pending.Bytes(), 0u);
  EXPECT_EQ(taken.back(), "7b2");
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

//! A window-like namespace.
struct Window {
  int64_t start = 0;
  int64_t end = 0;
  bool operator==(const Window& o) const { return start == o.start && end == o.end; }
  SLUICE_FIELDS(start, end)
};

//! Fills namespaced state: for keys 0..n-1, windows [0,10) and [10,20) each hold their own entries.
void FillWindows(KeyedStateStore<std::string>& store, int n) {
  auto count = store.GetValueState<int64_t, Window>("count");
  auto items = store.GetListState<int32_t, Window>("items");
  auto seen = store.GetMapState<std::string, int32_t, Window>("seen");
  for (int k = 0; k < n; ++k) {
    store.SetCurrentKey("k" + std::to_string(k));
    for (Window w : {Window{0, 10}, Window{10, 20}}) {
      count.SetCurrentNamespace(w);
      items.SetCurrentNamespace(w);
      seen.SetCurrentNamespace(w);
      count.Update(k * 100 + w.start);
      items.Add(k);
      items.Add(static_cast<int32_t>(w.end));
      seen.Put("w" + std::to_string(w.start), k);
    }
  }
}

void ExpectWindows(KeyedStateStore<std::string>& store, int k) {
  auto count = store.GetValueState<int64_t, Window>("count");
  auto items = store.GetListState<int32_t, Window>("items");
  auto seen = store.GetMapState<std::string, int32_t, Window>("seen");
  store.SetCurrentKey("k" + std::to_string(k));
  for (Window w : {Window{0, 10}, Window{10, 20}}) {
    count.SetCurrentNamespace(w);
    items.SetCurrentNamespace(w);
    seen.SetCurrentNamespace(w);
    ASSERT_NE(count.Get(), nullptr) << k;
    EXPECT_EQ(*count.Get(), k * 100 + w.start);
    EXPECT_EQ(items.Get(), (std::vector<int32_t>{k, static_cast<int32_t>(w.end)}));
    auto entries = seen.Entries();
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].first, "w" + std::to_string(w.start));
  }
}

TEST(KeyedStateStore, NamespacesScopeEachStateWithinTheKey) {
  KeyedStateStore<std::string> store;
  FreshInit init;
  store.Initialize(init);
  FillWindows(store, 5);
  for (int k = 0; k < 5; ++k) ExpectWindows(store, k);
  // Clearing one window leaves the other.
  auto count = store.GetValueState<int64_t, Window>("count");
  auto seen = store.GetMapState<std::string, int32_t, Window>("seen");
  store.SetCurrentKey("k1");
  count.SetCurrentNamespace(Window{0, 10});
  seen.SetCurrentNamespace(Window{0, 10});
  count.Clear();
  seen.Clear();
  EXPECT_EQ(count.Get(), nullptr);
  EXPECT_TRUE(seen.IsEmpty());
  count.SetCurrentNamespace(Window{10, 20});
  seen.SetCurrentNamespace(Window{10, 20});
  EXPECT_EQ(*count.Get(), 110);
  EXPECT_EQ(seen.Entries().size(), 1u);
  // Each key once, whatever the number of namespaces.
  EXPECT_EQ(store.Keys().size(), 5u);
}

TEST(KeyedStateStore, NamespacedStateSnapshotsAndRescalesByKeyGroup) {
  constexpr int kKeys = 200;
  KeyedStateStore<std::string> store;
  FreshInit fresh;
  store.Initialize(fresh);
  FillWindows(store, kKeys);
  MemoryWriter snapshot;
  store.Snapshot(snapshot);
  snapshot.Finish();
  for (const Entry& e : snapshot.entries) {
    // The key's bytes as the key, the namespace's first in the user key, as the host backend
    // stores them: the key group is the key's alone.
    ByteReader r(reinterpret_cast<const uint8_t*>(e.key.data()), e.key.size());
    std::string key;
    Serializer<std::string>::Read(r, key);
    EXPECT_EQ(r.remaining(), 0u);
    EXPECT_EQ(e.key_group, KeyGroupFor(key, 128));
    ByteReader u(reinterpret_cast<const uint8_t*>(e.user_key.data()), e.user_key.size());
    Window w;
    Serializer<Window>::Read(u, w);
    EXPECT_TRUE(w == (Window{0, 10}) || w == (Window{10, 20}));
  }
  std::map<std::string, int> owners;
  for (int part = 0; part < 2; ++part) {
    KeyGroupRange range = KeyGroupRangeForOperator(128, 2, part);
    KeyedStateStore<std::string> piece;
    MemoryInit init(snapshot.entries, range);
    piece.Initialize(init);
    piece.GetValueState<int64_t, Window>("count");
    piece.GetListState<int32_t, Window>("items");
    piece.GetMapState<std::string, int32_t, Window>("seen");
    for (const std::string& k : piece.Keys()) {
      ++owners[k];
      EXPECT_TRUE(range.Contains(KeyGroupFor(k, 128)));
      ExpectWindows(piece, std::stoi(k.substr(1)));
    }
  }
  EXPECT_EQ(owners.size(), static_cast<size_t>(kKeys));
}

TEST(KeyedStateStore, AStateWithoutANamespaceKeepsItsSnapshotFormat) {
  // Entries of state without a namespace are the key's bytes alone, as before namespaces.
  KeyedStateStore<int64_t> store;
  FreshInit fresh;
  store.Initialize(fresh);
  Fill(store, 3);
  MemoryWriter snapshot;
  store.Snapshot(snapshot);
  snapshot.Finish();
  for (const Entry& e : snapshot.entries) EXPECT_EQ(e.key.size(), sizeof(int64_t));
}

TEST(KeyedStateStore, ANameAskedForWithAnotherNamespaceOrAReservedNameThrows) {
  KeyedStateStore<int64_t> store;
  FreshInit fresh;
  store.Initialize(fresh);
  store.GetValueState<int64_t>("count");
  EXPECT_THROW((store.GetValueState<int64_t, Window>("count")), std::logic_error);
  EXPECT_THROW(store.GetValueState<int64_t>("_timers/x"), std::invalid_argument);
}

}  // namespace
}  // namespace sluice
