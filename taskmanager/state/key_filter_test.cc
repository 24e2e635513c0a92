// The key filter of RocksDB keyed state: the filter itself (no added key ever missed, a bounded
// share of wrong "maybe"s as the chain grows), and a real RocksDB instance behind it — opened
// empty, restored (reads before and after the walk over the restored keys), with every write path
// (write-back cache flushes, direct puts and merges, key-groups files inserted after the open).
#include "taskmanager/state/key_filter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/snapshot/key_groups_format.h"
#include "common/snapshot/storage.h"
#include "taskmanager/state/rocksdb_backend.h"
#include "taskmanager/state/rocksdb_key_filter.h"
#include "taskmanager/state/rocksdb_test_support.h"

namespace sluice::state {
namespace {

TEST(KeyFilterTest, NoAddedKeyIsEverMissedAsTheChainGrows) {
  KeyFilter filter(1024);
  EXPECT_FALSE(filter.MayContain("anything"));
  for (int i = 0; i < 300000; ++i) filter.Add("key-" + std::to_string(i));
  EXPECT_GT(filter.keys(), 280000u);  // a few were "maybe" already (a wrong "maybe")
  const size_t bytes = filter.bytes();
  EXPECT_GT(bytes, 300000u * 10 / 8);  // at least 10 bits per key
  EXPECT_LT(bytes, 300000u * 10 / 8 * 4);
  for (int i = 0; i < 300000; ++i) ASSERT_TRUE(filter.MayContain("key-" + std::to_string(i))) << i;
  int wrong = 0;
  for (int i = 0; i < 100000; ++i) wrong += filter.MayContain("absent-" + std::to_string(i));
  // Each filter of the chain errs for ~1-2 % of absent keys; a chain of five for well under 10 %.
  EXPECT_LT(wrong, 10000);

  // Adding keys it holds changes nothing.
  const size_t keys = filter.keys();
  for (int i = 0; i < 1000; ++i) filter.Add("key-" + std::to_string(i));
  EXPECT_EQ(filter.keys(), keys);
  EXPECT_EQ(filter.bytes(), bytes);
}

TEST(KeyFilterTest, AbsorbHoldsBothSets) {
  KeyFilter a(512), b(512);
  for (int i = 0; i < 5000; ++i) a.Add("a" + std::to_string(i));
  for (int i = 0; i < 5000; ++i) b.Add("b" + std::to_string(i));
  const size_t bytes = a.bytes() + b.bytes();
  a.Absorb(std::move(b));
  EXPECT_EQ(a.bytes(), bytes);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(a.MayContain("a" + std::to_string(i)));
    ASSERT_TRUE(a.MayContain("b" + std::to_string(i)));
  }
  a.Add("c");  // still takes keys
  EXPECT_TRUE(a.MayContain("c"));
}

// ---- behind a RocksDB instance ----

using testing::Range;

std::string Key(int n) { return "k" + std::to_string(n); }

void SetKey(RocksDbKeyedBackend& b, int n) {
  const std::string key = Key(n);
  b.SetCurrentKey(reinterpret_cast<const uint8_t*>(key.data()), key.size(), n % 4);
}

//! Runs with the write-back cache (flushes add keys), without one (puts and merges go straight to
//! RocksDB) and with one that evicts at nearly every access.
class RocksDbKeyFilterTest : public ::testing::TestWithParam<size_t> {
 protected:
  std::unique_ptr<RocksDbKeyedBackend> Open(const std::string& dir,
                                            const std::vector<proto::KeyedStateHandle>& restore,
                                            bool key_filter = true) {
    RocksDbBackendOptions o;
    o.local_dir = root_ + "/local/" + dir;
    o.range = Range(0, 3);
    o.max_parallelism = 4;
    o.name = "op-" + dir;
    o.write_cache_bytes = GetParam();
    o.key_filter = key_filter;
    o.shared_memory = memory_;
    auto b = RocksDbKeyedBackend::Open(o, storage_, restore);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? *std::move(b) : nullptr;
  }

  //! Even keys in [0, 2n) get a value, a list of two elements and a map entry.
  static void Fill(RocksDbKeyedBackend& b, int n) {
    const int value = b.RegisterState("value");
    const int list = b.RegisterState("list");
    const int map = b.RegisterState("map");
    for (int i = 0; i < 2 * n; i += 2) {
      SetKey(b, i);
      b.Put(value, "", "v" + std::to_string(i));
      b.Append(list, "", "a");
      b.Append(list, "", "b");
      b.Put(map, "uk", "m" + std::to_string(i));
    }
  }

  //! What Fill wrote is there; the odd keys are not.
  static void Check(RocksDbKeyedBackend& b, int n) {
    const int value = b.RegisterState("value");
    const int list = b.RegisterState("list");
    const int map = b.RegisterState("map");
    std::string v;
    for (int i = 0; i < 2 * n; ++i) {
      SetKey(b, i);
      const bool expected = i % 2 == 0;
      ASSERT_EQ(b.Get(value, "", &v), expected) << i;
      if (expected) {
        ASSERT_EQ(v, "v" + std::to_string(i));
      }
      ASSERT_EQ(b.Get(list, "", &v), expected) << i;
      if (expected) {
        ASSERT_EQ(v, "ab");
      }
      ASSERT_EQ(b.Get(map, "uk", &v), expected) << i;
      ASSERT_FALSE(b.Get(map, "other", &v)) << i;
    }
  }

  proto::KeyedStateHandle Checkpoint(RocksDbKeyedBackend& b, int64_t id) {
    return temp_.Checkpoint(b, id);
  }

  std::shared_ptr<RocksDbSharedMemory> memory_ =
      RocksDbSharedMemory::Create(size_t{16} << 20, 0.5, 0.1);
  testing::TempStateRoot temp_{"sluice-key-filter-test"};
  const std::string root_ = temp_.path();
  snapshot::SnapshotStorage* const storage_ = temp_.storage();
};

TEST_P(RocksDbKeyFilterTest, AnEmptyInstanceAnswersFromItsFilterAtOnce) {
  auto b = Open("a", {});
  ASSERT_NE(b, nullptr);
  ASSERT_NE(b->key_filter(), nullptr);
  EXPECT_TRUE(b->key_filter()->complete());
  const size_t cache_before = memory_->usage();
  Fill(*b, 20000);
  b->FlushCache(/*clear=*/true);
  Check(*b, 20000);
  // Every stored key is in the filter: the value's and the list's (the same) and the map entry's.
  EXPECT_GE(b->key_filter()->filter().keys(), 2u * 20000 * 9 / 10);
  EXPECT_LE(b->key_filter()->filter().keys(), 2u * 20000);
  // Its bytes are charged to the shared cache.
  EXPECT_GE(memory_->usage(), cache_before + b->key_filter()->filter().bytes());
}

TEST_P(RocksDbKeyFilterTest, ARestoredInstanceReadsFromRocksDbUntilItsKeysAreWalked) {
  auto a = Open("a", {});
  ASSERT_NE(a, nullptr);
  Fill(*a, 20000);
  const proto::KeyedStateHandle handle = Checkpoint(*a, 1);
  a.reset();

  auto b = Open("b", {handle});
  ASSERT_NE(b, nullptr);
  // Right away, whether or not the walk is done.
  Check(*b, 20000);
  // Keys written now, while the walk may still run, are found after it too.
  const int extra = b->RegisterState("extra");
  for (int i = 1; i < 2000; i += 2) {
    SetKey(*b, i);
    b->Put(extra, "", "e");
  }
  b->FlushCache(/*clear=*/true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string v;
  while (!b->key_filter()->complete() && std::chrono::steady_clock::now() < deadline) {
    SetKey(*b, 1);
    ASSERT_FALSE(b->Get(b->RegisterState("value"), "", &v));  // a read completes the filter
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(b->key_filter()->complete());
  EXPECT_GE(b->key_filter()->filter().keys(), 2u * 20000 * 9 / 10);
  Check(*b, 20000);
  for (int i = 1; i < 2000; i += 2) {
    SetKey(*b, i);
    ASSERT_TRUE(b->Get(extra, "", &v)) << i;
  }
}

TEST_P(RocksDbKeyFilterTest, AClosedInstanceStopsItsWalk) {
  auto a = Open("a", {});
  ASSERT_NE(a, nullptr);
  Fill(*a, 50000);
  const proto::KeyedStateHandle handle = Checkpoint(*a, 1);
  a.reset();
  for (int i = 0; i < 3; ++i) {
    auto b = Open("b" + std::to_string(i), {handle});
    ASSERT_NE(b, nullptr);
    b.reset();  // at once, the walk most likely still running
  }
}

TEST_P(RocksDbKeyFilterTest, KeysFromAKeyGroupsFileAfterTheOpenAreAdded) {
  auto b = Open("a", {});
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->key_filter()->complete());
  snapshot::KeyGroupsFileBuilder builder(Range(0, 3));
  for (int i = 0; i < 100; ++i) builder.Add(i % 4, "value", Key(i), "", "f" + std::to_string(i));
  proto::KeyGroupsStateHandle handle;
  const std::string bytes = builder.Finish(&handle);
  ASSERT_TRUE(b->InsertKeyGroups(bytes, handle).ok());
  const int value = b->RegisterState("value");
  std::string v;
  for (int i = 0; i < 100; ++i) {
    SetKey(*b, i);
    ASSERT_TRUE(b->Get(value, "", &v)) << i;
    EXPECT_EQ(v, "f" + std::to_string(i));
  }
}

TEST_P(RocksDbKeyFilterTest, AFilterBeyondItsShareOfManagedMemoryIsDroppedAndReadsStayRight) {
  memory_ = RocksDbSharedMemory::Create(size_t{1} << 20, 0.5, 0.1);  // filters: 256 KiB at most
  auto small = Open("small", {});
  ASSERT_NE(small, nullptr);
  Fill(*small, 1000);
  small->FlushCache(/*clear=*/true);
  auto b = Open("a", {});
  ASSERT_NE(b, nullptr);
  Fill(*b, 40000);  // 80,000 stored keys: a chain of 80 + 320 KiB
  b->FlushCache(/*clear=*/true);
  EXPECT_TRUE(b->key_filter()->dropped());
  EXPECT_FALSE(b->key_filter()->complete());
  EXPECT_EQ(b->key_filter()->filter().bytes(), 0u);
  Check(*b, 40000);
  // The other instance's filter stays within the share and keeps answering.
  EXPECT_FALSE(small->key_filter()->dropped());
  EXPECT_TRUE(small->key_filter()->complete());
  Check(*small, 1000);
}

TEST_P(RocksDbKeyFilterTest, OffMeansNoFilter) {
  auto b = Open("a", {}, /*key_filter=*/false);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->key_filter(), nullptr);
  Fill(*b, 1000);
  Check(*b, 1000);
}

INSTANTIATE_TEST_SUITE_P(WriteBackCache, RocksDbKeyFilterTest,
                         ::testing::Values(size_t{8} << 20, size_t{0}, size_t{256}),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return info.param == 0     ? std::string("NoCache")
                                  : info.param == 256 ? std::string("TinyCache")
                                                      : std::string("Cache8MiB");
                         });

}  // namespace
}  // namespace sluice::state
