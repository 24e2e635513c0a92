// Tests of the RocksDB keyed state backend against real RocksDB instances and a real file-system
// snapshot storage, all under a temporary folder.
#include "taskmanager/state/rocksdb_backend.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/snapshot/key_groups_format.h"
#include "common/snapshot/storage.h"
#include "sluice/state.h"
#include "taskmanager/state/rocksdb_test_support.h"

namespace sluice::state {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxParallelism = 10;

//! Test keys name their key group: "g<group>/<n>".
std::string Key(int key_group, int n) {
  return "g" + std::to_string(key_group) + "/" + std::to_string(n);
}

int GroupOf(std::string_view key) {
  return std::stoi(std::string(key.substr(1, key.find('/') - 1)));
}

using testing::Range;

void SetKey(RocksDbKeyedBackend& b, const std::string& key) {
  b.SetCurrentKey(reinterpret_cast<const uint8_t*>(key.data()), key.size(), GroupOf(key));
}

//! Every entry as "state|key|user key" -> value.
using Dump = std::map<std::string, std::string>;

Dump DumpAll(RocksDbKeyedBackend& b) {
  Dump out;
  const std::vector<std::string> names = b.state_names();
  for (size_t id = 0; id < names.size(); ++id) {
    std::vector<std::string> keys;
    b.ForEachKey(static_cast<int>(id), [&](std::string_view k) { keys.emplace_back(k); });
    for (const std::string& key : keys) {
      SetKey(b, key);
      b.ForEachUserKey(static_cast<int>(id), [&](std::string_view uk, std::string_view v) {
        out[names[id] + "|" + key + "|" + std::string(uk)] = std::string(v);
      });
    }
  }
  return out;
}

//! Writes a value, a list and two map entries per key, for `keys` keys in each key group of
//! `range`; `round` changes the values.
void Fill(RocksDbKeyedBackend& b, proto::KeyGroupRange range, int keys, int round) {
  const int value = b.RegisterState("value");
  const int list = b.RegisterState("list");
  const int map = b.RegisterState("map");
  for (int g = range.start(); g <= range.end(); ++g) {
    for (int n = 0; n < keys; ++n) {
      SetKey(b, Key(g, n));
      const std::string r = std::to_string(round);
      b.Put(value, "", "v" + r);
      b.Append(list, "", "[" + r + "]");
      b.Put(map, "a" + r, "x" + r);
      b.Put(map, "b", "y" + r);
    }
  }
}

std::set<std::string> Paths(const google::protobuf::RepeatedPtrField<proto::RocksDbFile>& files) {
  std::set<std::string> out;
  for (const proto::RocksDbFile& f : files) out.insert(f.file().path());
  return out;
}

size_t CountIn(const std::set<std::string>& paths, const std::set<std::string>& in) {
  size_t n = 0;
  for (const std::string& p : paths) n += in.count(p);
  return n;
}

//! Every test runs with the write-back cache at its default size, without one, and with one so
//! small that nearly every access evicts it.
class RocksDbBackendTest : public ::testing::TestWithParam<size_t> {
 protected:
  RocksDbBackendOptions Options(const std::string& dir, proto::KeyGroupRange range,
                                bool incremental = false) {
    RocksDbBackendOptions o;
    o.local_dir = root_ + "/local/" + dir;
    o.range = range;
    o.max_parallelism = kMaxParallelism;
    o.incremental = incremental;
    o.name = "op-" + dir;
    o.restored_files_in_checkpoint_storage = true;  // one storage for everything here
    o.write_cache_bytes = GetParam();
    return o;
  }

  std::unique_ptr<RocksDbKeyedBackend> Open(
      const std::string& dir, proto::KeyGroupRange range, bool incremental = false,
      const std::vector<proto::KeyedStateHandle>& restore = {}) {
    auto b = RocksDbKeyedBackend::Open(Options(dir, range, incremental), storage_, restore);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? *std::move(b) : nullptr;
  }

  proto::KeyedStateHandle Checkpoint(RocksDbKeyedBackend& b, int64_t id) {
    return temp_.Checkpoint(b, id);
  }

  testing::TempStateRoot temp_{"sluice-rocksdb-test"};
  const std::string root_ = temp_.path();
  snapshot::SnapshotStorage* const storage_ = temp_.storage();
};

TEST_P(RocksDbBackendTest, ValueState) {
  auto b = Open("a", Range(0, 9));
  const int s = b->RegisterState("value");
  EXPECT_EQ(b->RegisterState("value"), s);
  std::string v;
  SetKey(*b, Key(3, 1));
  EXPECT_FALSE(b->Get(s, "", &v));
  b->Put(s, "", "one");
  b->Put(s, "", "two");
  ASSERT_TRUE(b->Get(s, "", &v));
  EXPECT_EQ(v, "two");
  SetKey(*b, Key(3, 2));
  EXPECT_FALSE(b->Get(s, "", &v));
  SetKey(*b, Key(3, 1));
  b->Delete(s, "");
  EXPECT_FALSE(b->Get(s, "", &v));
}

TEST_P(RocksDbBackendTest, ListStateAppendsAcrossFlushes) {
  auto b = Open("a", Range(0, 9));
  const int s = b->RegisterState("list");
  std::string v;
  for (int k = 0; k < 3; ++k) {
    SetKey(*b, Key(k, 0));
    b->Append(s, "", "a");
    b->Append(s, "", "b");
  }
  // Flushes: later operands merge with a value in an SST file. Regression: the merge operator
  // appended to a reused output buffer without clearing it ("abcabc").
  ASSERT_TRUE(b->SnapshotSync(1).ok());
  for (int k = 0; k < 3; ++k) {
    SetKey(*b, Key(k, 0));
    b->Append(s, "", "c");
    ASSERT_TRUE(b->Get(s, "", &v));
    EXPECT_EQ(v, "abc");
  }
  SetKey(*b, Key(0, 0));
  b->Put(s, "", "x");
  b->Append(s, "", "y");
  ASSERT_TRUE(b->Get(s, "", &v));
  EXPECT_EQ(v, "xy");
}

TEST_P(RocksDbBackendTest, MapStateOrderAndDeleteAll) {
  auto b = Open("a", Range(0, 9));
  const int m = b->RegisterState("map");
  const int other = b->RegisterState("other");
  // "g1/1" is a prefix of "g1/10": the key length keeps their entries apart.
  SetKey(*b, "g1/10");
  b->Put(m, "a", "10a");
  SetKey(*b, "g1/1");
  for (std::string uk : {"c", "a", "b", ""}) b->Put(m, uk, "v" + uk);
  b->Put(other, "a", "other");
  std::vector<std::string> seen;
  b->ForEachUserKey(m, [&](std::string_view uk, std::string_view v) {
    seen.push_back(std::string(uk) + "=" + std::string(v));
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"=v", "a=va", "b=vb", "c=vc"}));

  b->Delete(m, "b");
  b->DeleteAll(m);
  seen.clear();
  b->ForEachUserKey(m, [&](std::string_view uk, std::string_view) { seen.emplace_back(uk); });
  EXPECT_TRUE(seen.empty());
  std::string v;
  EXPECT_TRUE(b->Get(other, "a", &v));  // other states keep their entries
  SetKey(*b, "g1/10");
  ASSERT_TRUE(b->Get(m, "a", &v));  // other keys too
  EXPECT_EQ(v, "10a");
}

TEST_P(RocksDbBackendTest, ForEachUserKeyMayChangeTheCurrentKey) {
  auto b = Open("a", Range(0, 9));
  const int m = b->RegisterState("map");
  SetKey(*b, Key(2, 0));
  b->Put(m, "a", "1");
  b->Put(m, "b", "2");
  std::vector<std::string> seen;
  b->ForEachUserKey(m, [&](std::string_view uk, std::string_view) {
    seen.emplace_back(uk);
    SetKey(*b, Key(5, 0));
    b->Put(m, std::string(uk), "copied");
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
  std::string v;
  ASSERT_TRUE(b->Get(m, "b", &v));
  EXPECT_EQ(v, "copied");
}

TEST_P(RocksDbBackendTest, ForEachKeyReportsEachKeyOnce) {
  auto b = Open("a", Range(0, 9));
  Fill(*b, Range(0, 9), 3, 1);
  const int map = b->RegisterState("map");
  const int empty = b->RegisterState("empty");
  std::vector<std::string> keys;
  b->ForEachKey(map, [&](std::string_view k) { keys.emplace_back(k); });
  std::set<std::string> distinct(keys.begin(), keys.end());
  EXPECT_EQ(keys.size(), 30u);
  EXPECT_EQ(distinct.size(), 30u);
  EXPECT_TRUE(distinct.count(Key(9, 2)));
  int calls = 0;
  b->ForEachKey(empty, [&](std::string_view) { ++calls; });
  EXPECT_EQ(calls, 0);
}

TEST_P(RocksDbBackendTest, MisuseThrows) {
  auto b = Open("a", Range(0, 4));
  const int s = b->RegisterState("value");
  std::string v;
  EXPECT_THROW(b->Get(s, "", &v), std::logic_error);  // no current key yet
  const std::string key = Key(7, 0);
  EXPECT_THROW(b->SetCurrentKey(reinterpret_cast<const uint8_t*>(key.data()), key.size(), 7),
               std::out_of_range);
  SetKey(*b, Key(1, 0));
  EXPECT_THROW(b->Put(s + 1, "", "x"), std::out_of_range);
  b->Close();
  EXPECT_THROW(b->Put(s, "", "x"), std::logic_error);
}

TEST_P(RocksDbBackendTest, OpenRejectsBadOptions) {
  auto o = Options("a", Range(0, 10));  // end beyond max parallelism
  EXPECT_EQ(RocksDbKeyedBackend::Open(o, nullptr, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  o = Options("a", Range(0, 9));
  o.name = "../x";
  EXPECT_EQ(RocksDbKeyedBackend::Open(o, nullptr, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(RocksDbBackendTest, CloseRemovesTheWorkingFolder) {
  auto b = Open("a", Range(0, 9));
  Fill(*b, Range(0, 1), 1, 1);
  const std::string dir = b->options().local_dir;
  EXPECT_TRUE(fs::exists(dir));
  b->Close();
  EXPECT_FALSE(fs::exists(dir));
  b.reset();  // a second Close is harmless
}

TEST_P(RocksDbBackendTest, FullSnapshotRestoresTheSameState) {
  auto b = Open("a", Range(0, 9));
  Fill(*b, Range(0, 9), 4, 1);
  const Dump before = DumpAll(*b);
  ASSERT_EQ(before.size(), 10u * 4 * 4);

  auto snap = b->SnapshotSync(1);
  ASSERT_TRUE(snap.ok()) << snap.status();
  const std::string local = (*snap)->local_dir();
  EXPECT_TRUE(fs::exists(local + "/CURRENT"));
  EXPECT_EQ(local.find(b->options().local_dir + "/"), std::string::npos);  // not inside the DB
  Fill(*b, Range(0, 9), 4, 2);  // writes after the sync part are not in the snapshot
  auto handle = (*snap)->Upload(*storage_, "chk-1");
  ASSERT_TRUE(handle.ok()) << handle.status();
  EXPECT_FALSE(fs::exists(local));
  EXPECT_FALSE((*snap)->Upload(*storage_, "chk-1").ok());  // only once

  const proto::RocksDbStateHandle& h = handle->rocksdb();
  EXPECT_FALSE(h.incremental());
  EXPECT_EQ(h.shared_files_size(), 0);
  EXPECT_GT(h.private_files_size(), 0);
  for (const proto::RocksDbFile& f : h.private_files()) {
    EXPECT_EQ(f.file().path(), "chk-1/op-a/" + f.local_name());
    EXPECT_TRUE(storage_->Exists(f.file().path()));
  }
  EXPECT_EQ(std::set<std::string>(h.state_names().begin(), h.state_names().end()),
            (std::set<std::string>{"value", "list", "map"}));

  auto restored = Open("b", Range(0, 9), false, {*handle});
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(DumpAll(*restored), before);
}

TEST_P(RocksDbBackendTest, DroppedSnapshotRemovesItsFolder) {
  auto b = Open("a", Range(0, 9));
  Fill(*b, Range(0, 1), 1, 1);
  std::string local;
  {
    auto snap = b->SnapshotSync(1);
    ASSERT_TRUE(snap.ok()) << snap.status();
    local = (*snap)->local_dir();
    EXPECT_TRUE(fs::exists(local));
  }
  EXPECT_FALSE(fs::exists(local));
}

TEST_P(RocksDbBackendTest, SnapshotOutlivesTheBackend) {
  auto b = Open("a", Range(0, 9));
  Fill(*b, Range(0, 9), 2, 1);
  const Dump before = DumpAll(*b);
  auto snap = b->SnapshotSync(1);
  ASSERT_TRUE(snap.ok()) << snap.status();
  b.reset();
  auto handle = (*snap)->Upload(*storage_, "chk-1");
  ASSERT_TRUE(handle.ok()) << handle.status();
  auto restored = Open("b", Range(0, 9), false, {*handle});
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(DumpAll(*restored), before);
}

TEST_P(RocksDbBackendTest, UploadRunsWhileTheTaskKeepsWriting) {
  auto b = Open("a", Range(0, 9), /*incremental=*/true);
  Fill(*b, Range(0, 9), 5, 1);
  const Dump at_sync = DumpAll(*b);
  auto snap = b->SnapshotSync(1);
  ASSERT_TRUE(snap.ok()) << snap.status();
  absl::StatusOr<proto::KeyedStateHandle> handle;
  std::thread io([&] { handle = (*snap)->Upload(*storage_, "chk-1"); });
  // Flushes and compactions (dropped snapshots) meanwhile remove SST files from the instance.
  for (int round = 2; round < 8; ++round) {
    Fill(*b, Range(0, 9), 5, round);
    EXPECT_TRUE(b->SnapshotSync(round).ok());
  }
  io.join();
  ASSERT_TRUE(handle.ok()) << handle.status();
  auto restored = Open("b", Range(0, 9), true, {*handle});
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(DumpAll(*restored), at_sync);
}

TEST_P(RocksDbBackendTest, IncrementalUploadsOnlyNewSstFiles) {
  auto b = Open("a", Range(0, 9), /*incremental=*/true);
  Fill(*b, Range(0, 9), 2, 1);
  const proto::KeyedStateHandle first = Checkpoint(*b, 1);
  const std::set<std::string> shared1 = Paths(first.rocksdb().shared_files());
  EXPECT_TRUE(first.rocksdb().incremental());
  EXPECT_EQ(shared1.size(), 3u);  // one SST per state after one flush
  for (const std::string& p : shared1) EXPECT_EQ(p.rfind("shared/op-a-", 0), 0u) << p;
  for (const proto::RocksDbFile& f : first.rocksdb().private_files()) {
    EXPECT_EQ(f.local_name().find(".sst"), std::string::npos);
    EXPECT_EQ(f.file().path(), "chk-1/op-a/" + f.local_name());
  }
  b->NotifyCheckpointComplete(1);

  Fill(*b, Range(0, 4), 2, 2);  // touches "value", "list" and "map" again
  const proto::KeyedStateHandle second = Checkpoint(*b, 2);
  const std::set<std::string> shared2 = Paths(second.rocksdb().shared_files());
  EXPECT_EQ(shared2.size(), 6u);
  EXPECT_EQ(CountIn(shared2, shared1), 3u);  // referred to, not uploaded again

  const Dump expected = DumpAll(*b);
  auto restored = Open("b", Range(0, 9), true, {second});
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(DumpAll(*restored), expected);
}

TEST_P(RocksDbBackendTest, UnconfirmedCheckpointIsNotReused) {
  auto b = Open("a", Range(0, 9), /*incremental=*/true);
  Fill(*b, Range(0, 9), 2, 1);
  const std::set<std::string> shared1 = Paths(Checkpoint(*b, 1).rocksdb().shared_files());
  ASSERT_EQ(shared1.size(), 3u);
  // No NotifyCheckpointComplete(1): checkpoint 1 may be discarded with its files.
  Fill(*b, Range(0, 9), 2, 2);
  const std::set<std::string> shared2 = Paths(Checkpoint(*b, 2).rocksdb().shared_files());
  EXPECT_EQ(shared2.size(), 6u);
  EXPECT_EQ(CountIn(shared2, shared1), 0u);

  b->NotifyCheckpointComplete(2);
  b->NotifyCheckpointComplete(1);  // late and older: ignored
  Fill(*b, Range(0, 9), 2, 3);
  const std::set<std::string> shared3 = Paths(Checkpoint(*b, 3).rocksdb().shared_files());
  EXPECT_EQ(shared3.size(), 9u);
  EXPECT_EQ(CountIn(shared3, shared2), 6u);
  EXPECT_EQ(CountIn(shared3, shared1), 0u);
}

TEST_P(RocksDbBackendTest, RestoredIncrementalSnapshotIsReused) {
  auto b = Open("a", Range(0, 9), /*incremental=*/true);
  Fill(*b, Range(0, 9), 2, 1);
  const proto::KeyedStateHandle first = Checkpoint(*b, 1);
  const std::set<std::string> shared1 = Paths(first.rocksdb().shared_files());
  b.reset();

  auto restored = Open("b", Range(0, 9), true, {first});
  ASSERT_NE(restored, nullptr);
  Fill(*restored, Range(0, 9), 2, 2);
  const std::set<std::string> shared2 = Paths(Checkpoint(*restored, 2).rocksdb().shared_files());
  EXPECT_EQ(shared2.size(), 6u);
  EXPECT_EQ(CountIn(shared2, shared1), 3u);
}

TEST_P(RocksDbBackendTest, FilesOfASnapshotElsewhereAreUploadedAgain) {
  // A savepoint's files do not live in the job's checkpoint storage: never refer to them.
  auto b = Open("a", Range(0, 9), /*incremental=*/true);
  Fill(*b, Range(0, 9), 2, 1);
  const proto::KeyedStateHandle first = Checkpoint(*b, 1);
  const std::set<std::string> shared1 = Paths(first.rocksdb().shared_files());
  b.reset();
  RocksDbBackendOptions options = Options("b", Range(0, 9), true);
  options.restored_files_in_checkpoint_storage = false;
  auto restored = RocksDbKeyedBackend::Open(options, storage_, {first});
  ASSERT_TRUE(restored.ok()) << restored.status();
  Fill(**restored, Range(0, 9), 2, 2);
  const std::set<std::string> shared2 = Paths(Checkpoint(**restored, 2).rocksdb().shared_files());
  EXPECT_EQ(shared2.size(), 6u);
  EXPECT_EQ(CountIn(shared2, shared1), 0u);
}

TEST_P(RocksDbBackendTest, NarrowerRangeDropsOtherKeyGroups) {
  auto b = Open("a", Range(0, 9));
  Fill(*b, Range(0, 9), 3, 1);
  const Dump all = DumpAll(*b);
  const proto::KeyedStateHandle handle = Checkpoint(*b, 1);

  auto low = Open("low", Range(0, 4), false, {handle});
  auto high = Open("high", Range(5, 9), false, {handle});
  ASSERT_NE(low, nullptr);
  ASSERT_NE(high, nullptr);
  const Dump low_dump = DumpAll(*low);
  const Dump high_dump = DumpAll(*high);
  EXPECT_EQ(low_dump.size(), all.size() / 2);
  EXPECT_EQ(high_dump.size(), all.size() / 2);
  for (const auto& [entry, value] : low_dump) {
    EXPECT_LE(GroupOf(entry.substr(entry.find('|') + 1)), 4) << entry;
    EXPECT_EQ(all.at(entry), value);
  }
  for (const auto& [entry, value] : high_dump) {
    EXPECT_GE(GroupOf(entry.substr(entry.find('|') + 1)), 5) << entry;
  }
}

TEST_P(RocksDbBackendTest, WiderRangeMergesSeveralInstances) {
  auto low = Open("low", Range(0, 4));
  auto high = Open("high", Range(5, 9));
  Fill(*low, Range(0, 4), 2, 1);
  Fill(*high, Range(5, 9), 2, 2);
  high->RegisterState("only-high");
  Dump expected = DumpAll(*low);
  expected.merge(DumpAll(*high));
  const proto::KeyedStateHandle low_handle = Checkpoint(*low, 1);
  const proto::KeyedStateHandle high_handle = Checkpoint(*high, 1);

  auto merged = Open("merged", Range(0, 9), false, {low_handle, high_handle});
  ASSERT_NE(merged, nullptr);
  EXPECT_EQ(DumpAll(*merged), expected);
  const std::vector<std::string>& names = merged->state_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "only-high"), names.end());
  // The restore folder of the copied instance is gone, and so are the files it was ingested from.
  EXPECT_FALSE(fs::exists(merged->options().local_dir + "-restore"));
  for (const auto& f :
       fs::directory_iterator(fs::path(merged->options().local_dir).parent_path())) {
    EXPECT_EQ(f.path().filename().string().find("-ingest-"), std::string::npos) << f.path();
  }
  // What was copied in is part of the instance: its next snapshot restores whole, and a subtask
  // straddling the merged instance's halves restores its part.
  const proto::KeyedStateHandle merged_handle = Checkpoint(*merged, 2);
  auto again = Open("again", Range(0, 9), false, {merged_handle});
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(DumpAll(*again), expected);
  auto middle = Open("middle", Range(3, 7), false, {low_handle, high_handle});
  ASSERT_NE(middle, nullptr);
  Dump expected_middle;
  for (const auto& [entry, value] : expected) {
    const int group = GroupOf(entry.substr(entry.find('|') + 1));
    if (group >= 3 && group <= 7) expected_middle.emplace(entry, value);
  }
  EXPECT_EQ(DumpAll(*middle), expected_middle);
}

TEST_P(RocksDbBackendTest, RestoresFromKeyGroupsStateHandle) {
  snapshot::KeyGroupsFileBuilder builder(Range(0, 9));
  for (int g = 0; g <= 9; ++g) {
    builder.Add(g, "value", Key(g, 0), "", "v" + std::to_string(g));
    builder.Add(g, "map", Key(g, 0), "uk", "m" + std::to_string(g));
  }
  proto::KeyedStateHandle handle;
  const std::string bytes = builder.Finish(handle.mutable_key_groups());
  auto file = storage_->WriteFile("chk-1/op-0-keyed", bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  *handle.mutable_key_groups()->mutable_file() = *file;

  auto b = Open("a", Range(3, 6), false, {handle});
  ASSERT_NE(b, nullptr);
  Dump expected;
  for (int g = 3; g <= 6; ++g) {
    expected["value|" + Key(g, 0) + "|"] = "v" + std::to_string(g);
    expected["map|" + Key(g, 0) + "|uk"] = "m" + std::to_string(g);
  }
  EXPECT_EQ(DumpAll(*b), expected);
}

TEST_P(RocksDbBackendTest, CorruptUploadedFileFailsOpen) {
  auto b = Open("a", Range(0, 9));
  Fill(*b, Range(0, 9), 2, 1);
  const proto::KeyedStateHandle handle = Checkpoint(*b, 1);
  const proto::RocksDbFile* sst = nullptr;
  for (const proto::RocksDbFile& f : handle.rocksdb().private_files()) {
    if (f.local_name().find(".sst") != std::string::npos) sst = &f;
  }
  ASSERT_NE(sst, nullptr);
  const std::string path = root_ + "/snapshots/" + sst->file().path();
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(10);
    const char c = static_cast<char>(f.get());
    f.seekp(10);
    f.put(static_cast<char>(c ^ 0x5a));
  }
  auto restored = RocksDbKeyedBackend::Open(Options("b", Range(0, 9)), storage_, {handle});
  ASSERT_FALSE(restored.ok());
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kDataLoss) << restored.status();
  EXPECT_NE(std::string(restored.status().message()).find(sst->file().path()), std::string::npos)
      << restored.status();
  EXPECT_FALSE(fs::exists(Options("b", Range(0, 9)).local_dir));
}

TEST_P(RocksDbBackendTest, RestoreWithoutStorageIsAnError) {
  auto b = Open("a", Range(0, 9));
  Fill(*b, Range(0, 1), 1, 1);
  const proto::KeyedStateHandle handle = Checkpoint(*b, 1);
  auto restored = RocksDbKeyedBackend::Open(Options("b", Range(0, 9)), nullptr, {handle});
  EXPECT_EQ(restored.status().code(), absl::StatusCode::kInvalidArgument);
}

// RocksDB's own LOG file was what aborted a TaskManager on a full disk (rocksdb_info_log.h): the
// instance folder holds none.
TEST_P(RocksDbBackendTest, NoInfoLogFileInTheInstanceFolder) {
  auto b = Open("a", Range(0, 9));
  Fill(*b, Range(0, 9), 5, 1);
  Checkpoint(*b, 1);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(Options("a", Range(0, 9)).local_dir)) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_FALSE(names.empty());
  for (const std::string& n : names) EXPECT_EQ(n.rfind("LOG", 0), std::string::npos) << n;
}

// Regression (fault probe, defect 3): with its working folder on a small tmpfs that filled up, the
// TaskManager aborted on an assertion inside Debian's RocksDB
// (AssertFalseAndGetStatusForPrevError). A full disk must come back as errors; the process lives
// on.
TEST_P(RocksDbBackendTest, AFullDiskIsAnErrorNotAnAbort) {
  const std::string disk = root_ + "/tmpfs";
  fs::create_directories(disk);
  if (::mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=4m") != 0) {
    GTEST_SKIP() << "mounting a tmpfs needs root: " << std::strerror(errno);
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{disk};
  RocksDbBackendOptions o = Options("a", Range(0, 9));
  o.local_dir = disk + "/instance";
  auto opened = RocksDbKeyedBackend::Open(o, storage_, {});
  ASSERT_TRUE(opened.ok()) << opened.status();
  RocksDbKeyedBackend& b = **opened;
  const int value = b.RegisterState("value");
  auto put_round = [&](int round) {
    const std::string big(1024, static_cast<char>('a' + round % 26));
    for (int n = 0; n < 200; ++n) {
      const std::string key = Key(n % 10, n + 1000 * round);
      SetKey(b, key);
      b.Put(value, "", big + std::to_string(n));
    }
  };
  put_round(0);
  ASSERT_TRUE(b.SnapshotSync(1).ok());
  // Someone else takes every free byte (another operator's instance on the same disk).
  {
    // To the last byte: tmpfs allocates whole pages, so the smaller writes take the last one.
    const int fd = ::open((disk + "/filler").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ASSERT_GE(fd, 0);
    const std::string block(64 * 1024, 'x');
    for (size_t size : {block.size(), size_t{4096}, size_t{512}, size_t{1}}) {
      while (::write(fd, block.data(), size) == static_cast<ssize_t>(size)) {
      }
    }
    ::close(fd);
  }
  // Checkpoints on the full disk for a while (each writes new CURRENT and MANIFEST copies, and
  // RocksDB logs as it goes), with writes in between. (This run did
  // not abort without the fix on every machine; the chaos suite's FullRocksDbDisk case, a cluster
  // on a tmpfs, did every time. NoInfoLogFileInTheInstanceFolder pins the fix itself.)
  int errors = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (int id = 2; std::chrono::steady_clock::now() < until; ++id) {
    try {
      if (id % 10 == 0) put_round(id);
      if (!b.SnapshotSync(id).ok()) ++errors;
    } catch (const std::runtime_error&) {
      ++errors;  // a write on an instance that already failed
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GT(errors, 0) << "the disk never filled";
  b.Close();  // no abort on the way out either
  fs::remove(disk + "/filler");
}

}  // namespace
}  // namespace sluice::state

namespace sluice::state {
namespace {

//! Hands a keyed store the RocksDB backend, as TaskState does.
class BackendInit final : public InitContext {
 public:
  explicit BackendInit(KeyedStateBackend* backend) : backend_(backend) {}
  bool IsRestored() const override { return false; }
  int MaxParallelism() const override { return kMaxParallelism; }
  std::vector<std::string> OperatorState(const std::string&) const override { return {}; }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>&) const override {}
  KeyedStateBackend* KeyedBackend() override { return backend_; }

 private:
  KeyedStateBackend* backend_;
};

struct Pane {
  int32_t id = 0;
  bool operator==(const Pane& o) const { return id == o.id; }
  SLUICE_FIELDS(id)
};

TEST_P(RocksDbBackendTest, KeyedStateStoreKeepsEachNamespaceApart) {
  auto b = Open("ns", Range(0, kMaxParallelism - 1));
  BackendInit init(b.get());
  KeyedStateStore<std::string> store;
  store.Initialize(init);
  auto value = store.GetValueState<int64_t, Pane>("value");
  auto list = store.GetListState<std::string, Pane>("list");
  auto map = store.GetMapState<std::string, int64_t, Pane>("map");
  auto plain = store.GetMapState<std::string, int64_t>("plain");
  for (const char* key : {"x", "y"}) {
    store.SetCurrentKey(key);
    plain.Put("p", 1);
    for (int32_t p = 1; p <= 3; ++p) {
      value.SetCurrentNamespace(Pane{p});
      list.SetCurrentNamespace(Pane{p});
      map.SetCurrentNamespace(Pane{p});
      value.Update(p * 10);
      list.Add(std::string(key) + std::to_string(p));
      for (int32_t i = 0; i < p; ++i) map.Put("e" + std::to_string(i), p);
    }
  }
  store.SetCurrentKey("x");
  for (int32_t p = 1; p <= 3; ++p) {
    value.SetCurrentNamespace(Pane{p});
    list.SetCurrentNamespace(Pane{p});
    map.SetCurrentNamespace(Pane{p});
    EXPECT_EQ(value.ValueOr(-1), p * 10);
    EXPECT_EQ(list.Get(), std::vector<std::string>{"x" + std::to_string(p)});
    EXPECT_EQ(map.Entries().size(), static_cast<size_t>(p));
  }
  // Clearing a map in one namespace leaves the others, the other keys and the plain state.
  map.SetCurrentNamespace(Pane{2});
  map.Clear();
  EXPECT_TRUE(map.IsEmpty());
  map.SetCurrentNamespace(Pane{3});
  EXPECT_EQ(map.Entries().size(), 3u);
  EXPECT_EQ(map.Get("e2"), std::optional<int64_t>(3));
  map.SetCurrentNamespace(Pane{1});
  EXPECT_EQ(map.Entries().size(), 1u);
  EXPECT_EQ(plain.Entries().size(), 1u);
  store.SetCurrentKey("y");
  map.SetCurrentNamespace(Pane{2});
  EXPECT_EQ(map.Entries().size(), 2u);
  EXPECT_EQ(store.Keys().size(), 2u);
}

// CleanupInRocksdbCompactFilter: state a job keeps with a time-to-live (through the SDK's store,
// as a job keeps it) loses in a compaction what expired — values, map entries, and a list's
// expired elements while its newer ones stay — and keeps what has not, and state without one.
TEST_P(RocksDbBackendTest, CompactionsDropExpiredTimeToLiveState) {
  auto b = Open("ttl", Range(0, kMaxParallelism - 1));
  BackendInit init(b.get());
  KeyedStateStore<std::string> store;
  store.Initialize(init);
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  int64_t clock = now - 2 * 3600 * 1000;  // two hours ago: expired for a time-to-live of one
  auto at = [&clock] { return clock; };
  // Only the compaction cleans: no incremental cleanup, and nothing is read back through the SDK.
  const StateTtlConfig ttl = StateTtlConfig::NewBuilder(std::chrono::hours(1))
                                 .CleanupIncrementally(0, false)
                                 .CleanupInRocksdbCompactFilter(1)
                                 .Build();
  auto value = store.GetValueState<std::string>("value", ttl, at);
  auto list = store.GetListState<std::string>("list", ttl, at);
  auto fixed = store.GetListState<int64_t>("fixed", ttl, at);  // fixed-width elements
  auto map = store.GetMapState<std::string, int64_t>("map", ttl, at);
  auto plain = store.GetValueState<std::string>("plain");
  for (const char* key : {"old", "mixed"}) {
    store.SetCurrentKey(key);
    value.Update(std::string("old value of ") + key);
    list.Add("old a");
    list.Add("old b");
    fixed.Add(1);
    map.Put("old entry", 1);
    plain.Update("no time-to-live");
  }
  clock = now;
  store.SetCurrentKey("mixed");
  value.Update("new value");
  list.Add("new c");
  fixed.Add(2);
  map.Put("new entry", 2);

  b->CompactAll();

  const int value_id = b->RegisterState("value"), list_id = b->RegisterState("list"),
            fixed_id = b->RegisterState("fixed"), map_id = b->RegisterState("map"),
            plain_id = b->RegisterState("plain");
  auto raw = [&](int state, const std::string& user_key) {
    std::string v;
    return b->Get(state, user_key, &v) ? std::optional<std::string>(v) : std::nullopt;
  };
  auto map_keys = [&] {
    std::vector<std::string> keys;
    b->ForEachUserKey(map_id, [&](std::string_view uk, std::string_view) {
      std::string k;
      internal::DeserializeFrom(uk, k);
      keys.push_back(k);
    });
    return keys;
  };
  store.SetCurrentKey("old");
  EXPECT_EQ(raw(value_id, ""), std::nullopt);
  EXPECT_EQ(raw(list_id, ""), std::nullopt);
  EXPECT_EQ(raw(fixed_id, ""), std::nullopt);
  EXPECT_TRUE(map_keys().empty());
  EXPECT_NE(raw(plain_id, ""), std::nullopt);
  store.SetCurrentKey("mixed");
  EXPECT_NE(raw(value_id, ""), std::nullopt);
  EXPECT_EQ(map_keys(), std::vector<std::string>{"new entry"});
  EXPECT_NE(raw(plain_id, ""), std::nullopt);
  // What stays of the lists is their new element alone, readable by the SDK.
  EXPECT_EQ(list.Get(), std::vector<std::string>{"new c"});
  EXPECT_EQ(fixed.Get(), std::vector<int64_t>{2});
  ASSERT_NE(raw(list_id, ""), std::nullopt);
  EXPECT_EQ(raw(list_id, "")->size(), 8 + 1 + 5u);  // time, length, "new c"
}

TEST_P(RocksDbBackendTest, StateLargerThanTheCacheReadsBackAndSnapshotsWhole) {
  // 20,000 keys of ~120 bytes each: far more than a small cache holds.
  auto b = Open("a", Range(0, 9));
  const int value = b->RegisterState("value");
  const int list = b->RegisterState("list");
  const std::string pad(100, 'p');
  for (int round = 0; round < 2; ++round) {
    for (int n = 0; n < 20000; ++n) {
      SetKey(*b, Key(n % 10, n));
      std::string v;
      const bool had = b->Get(value, "", &v);
      ASSERT_EQ(had, round > 0 && n % 7 != 0) << n;
      if (had) {
        ASSERT_EQ(v, pad + std::to_string(n) + "/0") << n;
      }
      b->Put(value, "", pad + std::to_string(n) + "/" + std::to_string(round));
      b->Append(list, "", std::to_string(round));
      if (n % 7 == 0) b->Delete(value, "");
    }
  }
  auto check = [&](RocksDbKeyedBackend& r) {
    const int value = r.RegisterState("value");
    const int list = r.RegisterState("list");
    for (int n = 0; n < 20000; ++n) {
      SetKey(r, Key(n % 10, n));
      std::string v;
      if (n % 7 == 0) {
        EXPECT_FALSE(r.Get(value, "", &v)) << n;
      } else {
        ASSERT_TRUE(r.Get(value, "", &v)) << n;
        ASSERT_EQ(v, pad + std::to_string(n) + "/1") << n;
      }
      ASSERT_TRUE(r.Get(list, "", &v)) << n;
      ASSERT_EQ(v, "01") << n;
    }
  };
  check(*b);
  proto::KeyedStateHandle h = Checkpoint(*b, 1);
  b.reset();
  auto restored = Open("b", Range(0, 9), false, {h});
  ASSERT_NE(restored, nullptr);
  check(*restored);
}

TEST_P(RocksDbBackendTest, ScansSeeWritesTheCacheHoldsAndDeleteAllDropsThem) {
  auto b = Open("a", Range(0, 9));
  const int m = b->RegisterState("map");
  SetKey(*b, Key(2, 1));
  b->Put(m, "b", "1");
  ASSERT_TRUE(b->SnapshotSync(1).ok());  // "b" is in RocksDB now
  b->Put(m, "a", "2");                   // only in the cache (when there is one)
  b->Put(m, "b", "3");
  b->Delete(m, "c");
  std::vector<std::string> seen;
  b->ForEachUserKey(m, [&](std::string_view uk, std::string_view v) {
    seen.push_back(std::string(uk) + "=" + std::string(v));
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"a=2", "b=3"}));
  b->Put(m, "d", "4");
  b->DeleteAll(m);
  std::string v;
  for (const char* uk : {"a", "b", "d"}) EXPECT_FALSE(b->Get(m, uk, &v)) << uk;
  int left = 0;
  b->ForEachUserKey(m, [&](std::string_view, std::string_view) { ++left; });
  EXPECT_EQ(left, 0);
  std::vector<std::string> keys;
  b->Put(m, "e", "5");
  b->ForEachKey(m, [&](std::string_view k) { keys.emplace_back(k); });
  EXPECT_EQ(keys, (std::vector<std::string>{Key(2, 1)}));
}

TEST_P(RocksDbBackendTest, InstancesSharingManagedMemoryStayWithinIt) {
  // Two instances, 16 MiB of values each, one 4 MiB budget for their caches and memtables.
  constexpr size_t kBudget = size_t{4} << 20;
  auto memory = RocksDbSharedMemory::Create(kBudget, 0.5, 0.1);
  std::vector<std::unique_ptr<RocksDbKeyedBackend>> backends;
  for (const char* dir : {"a", "b"}) {
    RocksDbBackendOptions o = Options(dir, Range(0, 9));
    o.shared_memory = memory;
    auto b = RocksDbKeyedBackend::Open(o, storage_, {});
    ASSERT_TRUE(b.ok()) << b.status();
    backends.push_back(*std::move(b));
  }
  const std::string big(1024, 'x');
  size_t peak = 0;
  for (int n = 0; n < 16 * 1024; ++n) {
    for (auto& b : backends) {
      const int s = b->RegisterState("value");
      SetKey(*b, Key(n % 10, n));
      b->Put(s, "", big + std::to_string(n));
    }
    if (n % 1024 == 0) peak = std::max(peak, memory->usage());
  }
  for (auto& b : backends) ASSERT_TRUE(b->SnapshotSync(1).ok());  // flushes the memtables
  peak = std::max(peak, memory->usage());
  // The write-buffer manager flushes memtables once they take half the budget; blocks are
  // evicted beyond it. A little slack: the last memtable fills past the mark before the flush.
  EXPECT_LE(peak, kBudget + kBudget / 2) << "peak " << peak;
  for (auto& b : backends) {
    const int s = b->RegisterState("value");
    for (int n = 0; n < 16 * 1024; n += 97) {
      SetKey(*b, Key(n % 10, n));
      std::string v;
      ASSERT_TRUE(b->Get(s, "", &v)) << n;
      ASSERT_EQ(v, big + std::to_string(n));
    }
  }
  EXPECT_LE(memory->usage(), kBudget + kBudget / 2);
  memory->SetCapacity(kBudget / 2);
  EXPECT_EQ(memory->capacity(), kBudget / 2);
}

TEST_P(RocksDbBackendTest, ColdKeysReadBackInASmallSharedCacheWithEitherIndexAndFilterLayout) {
  // 60,000 keys, flushed to several files, behind a 1 MiB shared cache: most reads miss the
  // cache, half of them look for keys that do not exist (the bloom filters answer those).
  for (const bool partitioned : {true, false}) {
    SCOPED_TRACE(partitioned ? "partitioned index and filters" : "one index and filter per file");
    auto memory = RocksDbSharedMemory::Create(size_t{1} << 20, 0.5, 0.1);
    RocksDbBackendOptions o = Options(partitioned ? "p" : "f", Range(0, 9));
    o.shared_memory = memory;
    o.partitioned_index_filters = partitioned;
    auto opened = RocksDbKeyedBackend::Open(o, storage_, {});
    ASSERT_TRUE(opened.ok()) << opened.status();
    std::unique_ptr<RocksDbKeyedBackend> b = *std::move(opened);
    const int s = b->RegisterState("value");
    for (int n = 0; n < 60000; ++n) {
      SetKey(*b, Key(n % 10, 2 * n));
      b->Put(s, "", "value " + std::to_string(n));
      if (n % 15000 == 14999) {
        ASSERT_TRUE(b->SnapshotSync(n).ok());  // a file per 15,000
      }
    }
    auto check = [](RocksDbKeyedBackend& r) {
      const int s = r.RegisterState("value");
      std::string v;
      for (int n = 0; n < 60000; n += 7) {
        SetKey(r, Key(n % 10, 2 * n));
        ASSERT_TRUE(r.Get(s, "", &v)) << n;
        ASSERT_EQ(v, "value " + std::to_string(n));
        SetKey(r, Key(n % 10, 2 * n + 1));
        ASSERT_FALSE(r.Get(s, "", &v)) << n;
      }
    };
    check(*b);
    proto::KeyedStateHandle h = Checkpoint(*b, 100);
    b.reset();
    RocksDbBackendOptions again = Options(partitioned ? "p2" : "f2", Range(0, 9));
    again.shared_memory = memory;
    again.partitioned_index_filters = !partitioned;  // a restore may change the layout
    auto restored = RocksDbKeyedBackend::Open(again, storage_, {h});
    ASSERT_TRUE(restored.ok()) << restored.status();
    check(**restored);
  }
}

INSTANTIATE_TEST_SUITE_P(WriteBackCache, RocksDbBackendTest,
                         ::testing::Values(size_t{32} << 20, size_t{0}, size_t{256}),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return info.param == 0     ? std::string("NoCache")
                                  : info.param == 256 ? std::string("TinyCache")
                                                      : std::string("Cache32MiB");
                         });

}  // namespace
}  // namespace sluice::state
