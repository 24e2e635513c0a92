// checkpoint_bench: duration and size of one subtask's keyed-state checkpoint with N keys in a
// ValueState<int64_t> "balance", using the real components without a cluster (bench/README.md,
// "Checkpoints"). Key groups [0, 127], max parallelism 128, file snapshot storage under $TMPDIR.
//   heap           KeyedStateStore on the heap. Sync part: store.Snapshot into a
//                  KeyGroupsFileBuilder; async part: Finish + SnapshotStorage::WriteFile (what
//                  taskmanager/checkpointing/task_state.cc does).
//   rocksdb full   RocksDbKeyedBackend. Sync part: SnapshotSync (flush + hard-linked RocksDB
//                  checkpoint); async part: Upload of every file. Checkpoint 1 right after the
//                  fill; checkpoint 2 after it was confirmed and 1% of the keys were updated.
//   rocksdb incr   the same steps, incremental: checkpoint 2 uploads only the new SST files and
//                  refers to the rest.
// Baseline in the same run: SnapshotStorage::WriteFile of a preallocated buffer of as many bytes as
// the checkpoint uploaded. Every figure is the median of 3 runs (heap: one filled store, three
// checkpoints; RocksDB: a fresh instance per run).
//   usage: checkpoint_bench [N ...]   (default: 100000 1000000 10000000)
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
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
using sluice::bench::Median;
using sluice::bench::MsSince;
using sluice::snapshot::SnapshotStorage;

constexpr int kRuns = 3;
constexpr int kMaxParallelism = 128;
constexpr int64_t kUpdateStep = 100;  // checkpoint 2 follows an update of every 100th key: 1%

sluice::proto::KeyGroupRange AllKeyGroups() {
  sluice::proto::KeyGroupRange range;
  range.set_start(0);
  range.set_end(kMaxParallelism - 1);
  return range;
}

std::unique_ptr<SnapshotStorage> OpenStorage(const std::string& dir) {
  return Check(sluice::snapshot::OpenStorage(dir), "opening snapshot storage");
}

//! A fresh (not restored) operator; keyed state on the heap when `backend` is null.
class FreshInit final : public sluice::InitContext {
 public:
  explicit FreshInit(sluice::KeyedStateBackend* backend) : backend_(backend) {}
  bool IsRestored() const override { return false; }
  int MaxParallelism() const override { return kMaxParallelism; }
  std::vector<std::string> OperatorState(const std::string&) const override { return {}; }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>&) const override {}
  sluice::KeyedStateBackend* KeyedBackend() override { return backend_; }

 private:
  sluice::KeyedStateBackend* backend_;
};

struct Sample {
  double sync_ms = 0;
  double async_ms = 0;
  double total_ms() const { return sync_ms + async_ms; }
  uint64_t uploaded = 0;    // bytes written to snapshot storage by this checkpoint
  uint64_t referenced = 0;  // bytes of every file the checkpoint's handle refers to
  int files = 0;            // files written (each one fsynced, with its folder)
};

//! The keyed state of one keyed operator as a subtask holds it. Heap when `rocksdb_dir` is empty.
class Subtask {
 public:
  Subtask(const std::string& rocksdb_dir, bool incremental) {
    if (!rocksdb_dir.empty()) {
      sluice::state::RocksDbBackendOptions options;
      options.local_dir = rocksdb_dir;
      options.range = AllKeyGroups();
      options.max_parallelism = kMaxParallelism;
      options.incremental = incremental;
      options.name = "bench-0";
      backend_ =
          Check(sluice::state::RocksDbKeyedBackend::Open(options, nullptr, {}), "opening rocksdb");
    }
    FreshInit init(backend_.get());
    store_.Initialize(init);
    balance_ = store_.GetValueState<int64_t>("balance");
  }

  //! Sets the balance of every `step`-th key k of 0..keys-1 to `value + k`.
  void Update(int64_t keys, int64_t step, int64_t value) {
    for (int64_t k = 0; k < keys; k += step) {
      store_.SetCurrentKey(k);
      balance_.Update(value + k);
    }
  }

  //! Takes checkpoint `id` into "chk-<id>" of `storage`.
  Sample Checkpoint(int64_t id, SnapshotStorage& storage) {
    Sample s;
    const std::string folder = "chk-" + std::to_string(id);
    if (!backend_) {
      sluice::snapshot::KeyGroupsFileBuilder builder(AllKeyGroups());
      BuilderWriter writer(&builder);
      Clock::time_point t0 = Clock::now();
      store_.Snapshot(writer);
      s.sync_ms = MsSince(t0);
      t0 = Clock::now();
      writer.Deferred();
      sluice::proto::KeyGroupsStateHandle handle;
      std::string bytes = builder.Finish(&handle);
      Check(storage.WriteFile(folder + "/x.keyed", bytes), "writing the keyed state");
      s.async_ms = MsSince(t0);
      s.uploaded = s.referenced = bytes.size();
      s.files = 1;
      return s;
    }
    Clock::time_point t0 = Clock::now();
    auto snapshot = Check(backend_->SnapshotSync(id), "rocksdb snapshot");
    s.sync_ms = MsSince(t0);
    t0 = Clock::now();
    sluice::proto::KeyedStateHandle handle = Check(snapshot->Upload(storage, folder), "upload");
    s.async_ms = MsSince(t0);
    for (const auto& f : handle.rocksdb().private_files()) s.uploaded += f.file().size();
    s.referenced = s.uploaded;
    s.files = handle.rocksdb().private_files_size();
    for (const auto& f : handle.rocksdb().shared_files()) {
      s.referenced += f.file().size();
      if (uploaded_shared_.insert(f.file().path()).second) {
        s.uploaded += f.file().size();
        ++s.files;
      }
    }
    return s;
  }

  void Confirm(int64_t id) { backend_->NotifyCheckpointComplete(id); }

 private:
  std::unique_ptr<sluice::state::RocksDbKeyedBackend> backend_;  // before store_: outlives it
  sluice::KeyedStateStore<int64_t> store_;
  sluice::ValueState<int64_t> balance_;
  std::set<std::string> uploaded_shared_;  // shared files that earlier checkpoints uploaded
};

//! Median over runs, field by field.
Sample Median(const std::vector<Sample>& runs) {
  std::vector<double> sync, async, uploaded, referenced, files;
  for (const Sample& s : runs) {
    sync.push_back(s.sync_ms);
    async.push_back(s.async_ms);
    uploaded.push_back(static_cast<double>(s.uploaded));
    referenced.push_back(static_cast<double>(s.referenced));
    files.push_back(s.files);
  }
  return Sample{Median(sync), Median(async), static_cast<uint64_t>(Median(uploaded)),
                static_cast<uint64_t>(Median(referenced)), static_cast<int>(Median(files))};
}

//! The baseline: milliseconds to write `bytes` preallocated bytes with one WriteFile (median).
double RawWriteMs(SnapshotStorage& storage, uint64_t bytes) {
  std::string buffer(bytes, '\0');
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::vector<double> ms;
  for (int r = 0; r < kRuns; ++r) {
    Clock::time_point t0 = Clock::now();
    Check(storage.WriteFile("raw/buffer", buffer), "raw write");
    ms.push_back(MsSince(t0));
    (void)storage.Delete("raw");
  }
  return Median(ms);
}

void PrintRow(const char* setup, const Sample& s, double raw_ms) {
  std::printf("  %-24s %9.1f %9.1f %9.1f %11.2f %6d %11.2f %9.1f %7.2f\n", setup, s.sync_ms,
              s.async_ms, s.total_ms(), static_cast<double>(s.uploaded) / 1e6, s.files,
              static_cast<double>(s.referenced) / 1e6, raw_ms, s.total_ms() / raw_ms);
}

void RunKeys(int64_t keys, const std::string& tmp) {
  std::vector<Sample> heap, full1, full2, incr1, incr2;
  std::vector<double> heap_fill, rocksdb_fill;

  {
    Subtask subtask("", false);
    Clock::time_point t0 = Clock::now();
    subtask.Update(keys, 1, 1);
    heap_fill.push_back(MsSince(t0));
    auto storage = OpenStorage(tmp + "/heap");
    for (int r = 0; r < kRuns; ++r) {
      heap.push_back(subtask.Checkpoint(r + 1, *storage));
      (void)storage->Delete("chk-" + std::to_string(r + 1));
    }
  }
  // Full and incremental go through the same steps: fill, checkpoint 1 (everything is in the
  // memtables or new SST files), confirm it, update 1% of the keys, checkpoint 2 (the steady state:
  // the previous checkpoint flushed everything else).
  for (int r = 0; r < kRuns; ++r) {
    for (bool incremental : {false, true}) {
      auto storage = OpenStorage(tmp + "/rocksdb-storage");
      {
        Subtask subtask(tmp + "/rocksdb", incremental);
        Clock::time_point t0 = Clock::now();
        subtask.Update(keys, 1, 1);
        rocksdb_fill.push_back(MsSince(t0));
        (incremental ? incr1 : full1).push_back(subtask.Checkpoint(1, *storage));
        subtask.Confirm(1);
        subtask.Update(keys, kUpdateStep, 2);
        (incremental ? incr2 : full2).push_back(subtask.Checkpoint(2, *storage));
      }
      storage.reset();
      fs::remove_all(tmp + "/rocksdb-storage");
    }
  }

  auto raw_storage = OpenStorage(tmp + "/raw");
  std::printf("\nN = %lld keys (median of %d runs; fill: heap %.0f ms, rocksdb %.0f ms)\n",
              static_cast<long long>(keys), kRuns, Median(heap_fill), Median(rocksdb_fill));
  std::printf("  %-24s %9s %9s %9s %11s %6s %11s %9s %7s\n", "setup", "sync ms", "async ms",
              "total ms", "written MB", "files", "refer. MB", "raw ms", "/ raw");
  const std::pair<const char*, Sample> rows[] = {{"heap (hashmap)", Median(heap)},
                                                 {"rocksdb full chk 1", Median(full1)},
                                                 {"rocksdb full chk 2 (1%)", Median(full2)},
                                                 {"rocksdb incr chk 1", Median(incr1)},
                                                 {"rocksdb incr chk 2 (1%)", Median(incr2)}};
  for (const auto& [setup, sample] : rows) {
    PrintRow(setup, sample, RawWriteMs(*raw_storage, std::max<uint64_t>(sample.uploaded, 1)));
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> counts;
  for (int i = 1; i < argc; ++i) {
    uint64_t n = 0;
    if (!sluice::bench::ParsePositive(argv[i], &n)) {
      std::fprintf(stderr, "usage: %s [keys (positive) ...]\n", argv[0]);
      return 2;
    }
    counts.push_back(static_cast<int64_t>(n));
  }
  if (counts.empty()) counts = {100'000, 1'000'000, 10'000'000};

  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/checkpoint_bench.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("checkpoint_bench: mkdtemp");
    return 1;
  }
  sluice::bench::Scratch::program = "checkpoint_bench";
  const std::string tmp = sluice::bench::Scratch::dir = pattern;
  std::printf("Sluice checkpoint benchmark: one subtask, ValueState<int64_t>, key groups [0, %d]\n",
              kMaxParallelism - 1);
  std::printf(
      "  storage: file system under %s (fsync per file); raw = one WriteFile of as many\n"
      "  bytes as the checkpoint wrote, from a preallocated buffer\n",
      tmp.c_str());
  for (int64_t keys : counts) RunKeys(keys, tmp);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  return 0;
}
