// restore_bench: how long one subtask takes to restore its keyed state after a rescale, with the
// real components and no cluster (bench/README.md, "Restore"). N keys of a ValueState<int64_t>
// "balance" over key groups [0, 127] (max parallelism 128), file snapshot storage under $TMPDIR.
//   heap      the snapshot of one subtask holding every key; the restored subtask takes key groups
//             [0, 63] (half the keys): "open" is KeyedStateStore::Initialize over the file's
//             entries, then GetValueState (what an operator's InitializeState and Open do; records
//             may flow from there); "every group built" adds the first access to a key of each
//             key group, which builds that group's part of the hash map (the lazy restore).
//             Baseline: reading the same file's entries of [0, 63] (snapshot::ForEachEntry) and
//             nothing else.
//   rocksdb   two instances, [0, 63] and [64, 127], N/2 keys each, uploaded as full snapshots.
//             "straddle": a subtask of [32, 95] restores from both (a rescale 2 -> 3 has such a
//             subtask); baseline "inside": a subtask of [0, 63] restores from the first alone
//             (download, open, nothing to clip).
// Every figure is the median of 3 runs.
//   usage: restore_bench [N ...]   (default: 1000000 10000000)
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/state_bench_util.h"
#include "common/snapshot/key_groups_format.h"
#include "common/snapshot/storage.h"
#include "sluice/state.h"
#include "taskmanager/state/rocksdb_backend.h"

namespace {

namespace fs = std::filesystem;
using sluice::bench::BuilderWriter;
using sluice::bench::Check;
using sluice::bench::Clock;
using sluice::bench::Fail;
using sluice::bench::Median;
using sluice::bench::MsSince;
using sluice::snapshot::SnapshotStorage;

constexpr int kRuns = 3;
constexpr int kMaxParallelism = 128;

sluice::proto::KeyGroupRange Range(int start, int end) {
  sluice::proto::KeyGroupRange range;
  range.set_start(start);
  range.set_end(end);
  return range;
}

//! The host's side of InitializeState: restored entries of `range` from one key-groups file (as
//! taskmanager/checkpointing/task_state.cc hands them), or a fresh operator on `backend`.
class Init final : public sluice::InitContext {
 public:
  Init(const std::string* bytes, const sluice::proto::KeyGroupsStateHandle* handle,
       sluice::proto::KeyGroupRange range, sluice::KeyedStateBackend* backend = nullptr)
      : bytes_(bytes), handle_(handle), range_(range), backend_(backend) {}
  bool IsRestored() const override { return bytes_ != nullptr; }
  int MaxParallelism() const override { return kMaxParallelism; }
  std::vector<std::string> OperatorState(const std::string&) const override { return {}; }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>& fn) const override {
    if (bytes_ == nullptr) return;
    absl::Status s = sluice::snapshot::ForEachEntry(*bytes_, *handle_, range_, fn);
    if (!s.ok()) Fail("reading the snapshot", s);
  }
  sluice::KeyedStateBackend* KeyedBackend() override { return backend_; }

 private:
  const std::string* bytes_;
  const sluice::proto::KeyGroupsStateHandle* handle_;
  sluice::proto::KeyGroupRange range_;
  sluice::KeyedStateBackend* backend_;
};

void RunHeap(int64_t keys) {
  sluice::snapshot::KeyGroupsFileBuilder builder(Range(0, kMaxParallelism - 1));
  {
    sluice::KeyedStateStore<int64_t> store;
    Init fresh(nullptr, nullptr, Range(0, kMaxParallelism - 1));
    store.Initialize(fresh);
    auto balance = store.GetValueState<int64_t>("balance");
    for (int64_t k = 0; k < keys; ++k) {
      store.SetCurrentKey(k);
      balance.Update(k);
    }
    BuilderWriter writer(&builder);
    store.Snapshot(writer);
    writer.Deferred();
  }
  sluice::proto::KeyGroupsStateHandle handle;
  const std::string bytes = builder.Finish(&handle);
  const sluice::proto::KeyGroupRange half = Range(0, kMaxParallelism / 2 - 1);

  // A key of each key group of [0, 63]: touching them builds every group of the lazy restore.
  std::vector<int64_t> one_per_group(kMaxParallelism / 2, -1);
  for (int64_t k = 0; k < keys; ++k) {
    const int kg = sluice::KeyGroupFor(k, kMaxParallelism);
    if (kg < kMaxParallelism / 2 && one_per_group[kg] < 0) one_per_group[kg] = k;
  }

  std::vector<double> read_ms, restore_ms, built_ms;
  int64_t entries = 0, restored = 0;
  for (int r = 0; r < kRuns; ++r) {
    Clock::time_point t0 = Clock::now();
    entries = 0;
    absl::Status s = sluice::snapshot::ForEachEntry(
        bytes, handle, half,
        [&entries](int, const std::string&, std::string_view, std::string_view, std::string_view) {
          ++entries;
        });
    if (!s.ok()) Fail("reading the snapshot", s);
    read_ms.push_back(MsSince(t0));

    auto store = std::make_unique<sluice::KeyedStateStore<int64_t>>();
    Init init(&bytes, &handle, half);
    t0 = Clock::now();
    store->Initialize(init);
    auto balance = store->GetValueState<int64_t>("balance");
    restore_ms.push_back(MsSince(t0));
    for (int64_t k : one_per_group) {
      if (k < 0) continue;
      store->SetCurrentKey(k);
      if (balance.ValueOr(-1) != k) Fail("restored balance", absl::InternalError("wrong value"));
    }
    built_ms.push_back(MsSince(t0));
    restored = static_cast<int64_t>(store->Keys().size());
  }
  if (restored != entries) {
    std::fprintf(stderr, "restore_bench: restored %lld keys, the file holds %lld\n",
                 static_cast<long long>(restored), static_cast<long long>(entries));
    std::exit(1);
  }
  const double read = Median(read_ms), restore = Median(restore_ms), built = Median(built_ms);
  std::printf("  %-28s %10lld %11.1f %11.1f %8.2f %9.0f\n", "heap, [0,63], open",
              static_cast<long long>(entries), restore, read, restore / read,
              restore * 1e6 / static_cast<double>(entries));
  std::printf("  %-28s %10lld %11.1f %11.1f %8.2f %9.0f\n", "heap, [0,63], every group built",
              static_cast<long long>(entries), built, read, built / read,
              built * 1e6 / static_cast<double>(entries));
}

sluice::state::RocksDbBackendOptions RocksOptions(const std::string& dir,
                                                  sluice::proto::KeyGroupRange range) {
  sluice::state::RocksDbBackendOptions o;
  o.local_dir = dir;
  o.range = range;
  o.max_parallelism = kMaxParallelism;
  o.name = "bench-" + std::to_string(range.start());
  return o;
}

//! An instance of `range` holding every key of 0..keys-1 in it, uploaded as a full snapshot.
sluice::proto::KeyedStateHandle FilledSnapshot(int64_t keys, sluice::proto::KeyGroupRange range,
                                               const std::string& dir, SnapshotStorage& storage) {
  auto backend =
      Check(sluice::state::RocksDbKeyedBackend::Open(RocksOptions(dir, range), nullptr, {}),
            "opening rocksdb");
  sluice::KeyedStateStore<int64_t> store;
  Init fresh(nullptr, nullptr, range, backend.get());
  store.Initialize(fresh);
  auto balance = store.GetValueState<int64_t>("balance");
  for (int64_t k = 0; k < keys; ++k) {
    const int kg = sluice::KeyGroupFor(k, kMaxParallelism);
    if (kg < range.start() || kg > range.end()) continue;
    store.SetCurrentKey(k);
    balance.Update(k);
  }
  auto snapshot = Check(backend->SnapshotSync(1), "rocksdb snapshot");
  return Check(snapshot->Upload(storage, "chk-" + std::to_string(range.start())), "upload");
}

double RestoreMs(const std::vector<sluice::proto::KeyedStateHandle>& handles,
                 sluice::proto::KeyGroupRange range, const std::string& dir,
                 SnapshotStorage& storage) {
  Clock::time_point t0 = Clock::now();
  auto backend =
      Check(sluice::state::RocksDbKeyedBackend::Open(RocksOptions(dir, range), &storage, handles),
            "restoring rocksdb");
  const double ms = MsSince(t0);
  backend.reset();
  return ms;
}

void RunRocksDb(int64_t keys) {
  auto storage = Check(sluice::snapshot::OpenStorage(sluice::bench::Scratch::dir + "/storage"),
                       "opening storage");
  const auto low = Range(0, 63), high = Range(64, 127);
  const std::vector<sluice::proto::KeyedStateHandle> both = {
      FilledSnapshot(keys, low, sluice::bench::Scratch::dir + "/fill-low", *storage),
      FilledSnapshot(keys, high, sluice::bench::Scratch::dir + "/fill-high", *storage)};
  std::vector<double> inside_ms, straddle_ms;
  for (int r = 0; r < kRuns; ++r) {
    inside_ms.push_back(
        RestoreMs({both[0]}, low, sluice::bench::Scratch::dir + "/inside", *storage));
    straddle_ms.push_back(
        RestoreMs(both, Range(32, 95), sluice::bench::Scratch::dir + "/straddle", *storage));
  }
  const double inside = Median(inside_ms), straddle = Median(straddle_ms);
  std::printf("  %-28s %10lld %11.1f %11.1f %8.2f %9.0f\n", "rocksdb, [32,95] of two",
              static_cast<long long>(keys / 2), straddle, inside, straddle / inside,
              straddle * 1e6 / static_cast<double>(keys / 2));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) {
    uint64_t n = 0;
    if (!sluice::bench::ParsePositive(argv[i], &n)) {
      std::fprintf(stderr, "usage: restore_bench [N ...]  (N: a positive number of keys)\n");
      return 2;
    }
    sizes.push_back(static_cast<int64_t>(n));
  }
  if (sizes.empty()) sizes = {1000000, 10000000};
  const char* tmpdir = std::getenv("TMPDIR");
  sluice::bench::Scratch::program = "restore_bench";
  sluice::bench::Scratch::dir =
      (tmpdir != nullptr && *tmpdir != '\0' ? std::string(tmpdir) : std::string("/tmp")) +
      "/restore_bench-" + std::to_string(::getpid());
  std::printf(
      "restore_bench: median of %d runs; baseline: heap, reading the file's entries; "
      "rocksdb, restoring [0,63] from one instance\n",
      kRuns);
  for (int64_t keys : sizes) {
    std::printf("\nN = %lld keys\n  %-28s %10s %11s %11s %8s %9s\n", static_cast<long long>(keys),
                "case", "keys", "restore ms", "baseline ms", "ratio", "ns/key");
    RunHeap(keys);
    RunRocksDb(keys);
    std::error_code ec;
    fs::remove_all(sluice::bench::Scratch::dir, ec);
  }
  return 0;
}
