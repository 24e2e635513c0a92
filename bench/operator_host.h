// The host around one operator in the operator benchmarks (window_bench, join_bench): an
// InitContext handing it the host's own HeapTimerService and a keyed state backend (the heap, or a
// RocksDbKeyedBackend in a temporary folder), the task's record-timestamp slot, and a benchmark
// reporter that remembers each benchmark's items per second for the ratio table at the end. Only
// the task around the operator is left out.
#pragma once

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/runtime.h"
#include "sluice/testing/fake_runtime_context.h"
#include "taskmanager/state/rocksdb_backend.h"
#include "taskmanager/state/timer_service.h"

namespace bench_host {

constexpr int kMaxParallelism = 128;

//! A fresh operator's InitContext: not restored, keyed state in `backend` (null: the heap), its
//! timer service made into `*timers`.
class Init final : public sluice::InitContext {
 public:
  Init(sluice::KeyedStateBackend* backend, std::unique_ptr<sluice::state::HeapTimerService>* timers)
      : backend_(backend), timers_(timers) {}
  bool IsRestored() const override { return false; }
  int MaxParallelism() const override { return kMaxParallelism; }
  std::vector<std::string> OperatorState(const std::string&) const override { return {}; }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>&) const override {}
  sluice::KeyedStateBackend* KeyedBackend() override { return backend_; }
  sluice::InternalTimerService* TimerService(const std::string& name,
                                             sluice::TimerTarget* target) override {
    *timers_ = std::make_unique<sluice::state::HeapTimerService>(name, target, nullptr);
    return timers_->get();
  }

 private:
  sluice::KeyedStateBackend* backend_;
  std::unique_ptr<sluice::state::HeapTimerService>* timers_;
};

//! The task's side: the record-timestamp slot (`timestamp`) is what results are read with.
class Runtime final : public sluice::testing::FakeRuntimeContext {
 public:
  Runtime() {
    task_name = "bench";
    max_parallelism = kMaxParallelism;
    timestamp = 0;
  }
};

//! A fresh RocksDB instance in a temporary folder, removed with it.
class RocksDb {
 public:
  explicit RocksDb(const std::string& name) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / ("sluice-" + name + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
    sluice::state::RocksDbBackendOptions options;
    options.local_dir = dir_ + "/db";
    options.range.set_start(0);
    options.range.set_end(kMaxParallelism - 1);
    options.max_parallelism = kMaxParallelism;
    options.name = name;
    auto b = sluice::state::RocksDbKeyedBackend::Open(options, nullptr, {});
    if (!b.ok()) {
      std::fprintf(stderr, "opening rocksdb: %s\n", b.status().ToString().c_str());
      std::abort();
    }
    backend = *std::move(b);
  }
  ~RocksDb() {
    backend.reset();
    std::filesystem::remove_all(dir_);
  }
  std::unique_ptr<sluice::state::RocksDbKeyedBackend> backend;

 private:
  std::string dir_;
};

//! Remembers items_per_second of each benchmark (the median when repeated) while printing.
class Reporter final : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      auto it = r.counters.find("items_per_second");
      if (r.error_occurred || it == r.counters.end()) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      rate[r.run_name.function_name] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> rate;
};

}  // namespace bench_host
