// window_bench: records/s per core of keyed window aggregations (a count per key and window) on
// one thread, each Sluice window operator against a hand-written loop doing the same aggregation
// (bench/window_loops.h), measured in the same run. The operators run with the host's own timer
// service (HeapTimerService) and keyed state backend, heap or RocksDB (RocksDbKeyedBackend in a
// temporary folder); only the task around them is left out. Cases:
//   tumbling 1 s and 60 s            against CopyingLoop (one count per key and window)
//   sliding 5 s / 1 s, 60 s / 1 s    sliced into panes (the default path) and per window (Flink's
//                                    path, forced by an explicit trigger), against CopyingLoop
//                                    (a copy per window) and PaneLoop (a count per pane)
//   sessions, gap 2 x keys ms        bursts of 10 records per key, which merge, then a pause
// Input: record i has key i % keys and timestamp i ms (sessions: plus a pause of 4 x keys ms after
// every burst of 10 x keys records); a watermark at the last timestamp every 100 records. Before
// measuring, every case runs the same input to the end and must emit the same results (window end
// and count, checksummed) as its loop; at the end a table gives each ratio. For tuning; not a test.
//   build/bench/window_bench --benchmark_min_time=0.5 [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/operator_host.h"
#include "bench/window_loops.h"
#include "sluice/sluice.h"
#include "sluice/testing/fake_runtime_context.h"
#include "taskmanager/state/rocksdb_backend.h"
#include "taskmanager/state/timer_service.h"

namespace {

using std::chrono::milliseconds;
using window_bench::Results;

using bench_host::Init;
using bench_host::Reporter;
using bench_host::RocksDb;
using bench_host::Runtime;
constexpr int64_t kSlide = 1000;
constexpr int64_t kWatermarkEvery = 100;

struct Click {
  int64_t user = 0;
  SLUICE_FIELDS(user)
};

class CountAgg final : public sluice::AggregateFunction<Click, int64_t, int64_t> {
 public:
  int64_t CreateAccumulator() override { return 0; }
  int64_t Add(const Click&, int64_t acc) override { return acc + 1; }
  int64_t GetResult(const int64_t& acc) override { return acc; }
  int64_t Merge(int64_t a, const int64_t& b) override { return a + b; }
};

enum Kind { kTumbling, kSlidingSliced, kSlidingPerWindow, kSession };

//! One benchmark case: what to aggregate and over which input.
struct Case {
  Kind kind;
  int64_t size = 0;  // window size in ms (sessions: unused)
  int64_t keys = 0;
  bool rocksdb = false;
  int64_t gap() const { return 2 * keys; }
  int64_t Timestamp(int64_t i) const {
    return kind == kSession ? i + i / (10 * keys) * (4 * keys) : i;
  }
  std::string Name() const {
    std::string n = kind == kTumbling           ? "tumbling"
                    : kind == kSlidingSliced    ? "sliding-sliced"
                    : kind == kSlidingPerWindow ? "sliding-perwindow"
                                                : "session";
    if (kind != kSession) n += "/size:" + std::to_string(size / 1000) + "s";
    if (kind == kSlidingSliced || kind == kSlidingPerWindow) n += "/slide:1s";
    return n + "/keys:" + std::to_string(keys);
  }
};

std::function<std::unique_ptr<sluice::StreamOperator>()> Factory(const Case& c) {
  sluice::StreamEnvironment env({}, 1);
  auto src = env.AddSource<Click>([] { return std::unique_ptr<sluice::StreamOperator>(); }, "s");
  auto keyed = src.KeyBy([](const Click& click) { return click.user; });
  auto agg = [] { return std::make_unique<CountAgg>(); };
  if (c.kind == kTumbling) {
    keyed.Window(sluice::TumblingEventTimeWindows::Of(milliseconds(c.size))).Aggregate(agg);
  } else if (c.kind == kSession) {
    keyed.Window(sluice::EventTimeSessionWindows::WithGap(milliseconds(c.gap()))).Aggregate(agg);
  } else {
    auto w = keyed.Window(
        sluice::SlidingEventTimeWindows::Of(milliseconds(c.size), milliseconds(kSlide)));
    if (c.kind == kSlidingPerWindow) w.Trigger(sluice::EventTimeTrigger::Create());
    w.Aggregate(agg);
  }
  return env.nodes().back().factory;
}

//! The operator's output: each result's timestamp (its window's MaxTimestamp) and count.
class Collect final : public sluice::Output {
 public:
  explicit Collect(const Runtime* rt) : rt_(rt) {}
  void Emit(const void* record) override {
    results.Add(rt_->timestamp, *static_cast<const int64_t*>(record));
  }
  Results results;

 private:
  const Runtime* rt_;
};

//! A Sluice window operator with the host's timers and state backend around it.
class SluiceEngine {
 public:
  explicit SluiceEngine(const Case& c) : out_(&rt_) {
    if (c.rocksdb) rocksdb_ = std::make_unique<RocksDb>("window-bench");
    op_ = Factory(c)();
    Init init(rocksdb_ ? rocksdb_->backend.get() : nullptr, &timers_);
    op_->InitializeState(init);
    op_->Open(rt_, out_);
  }
  ~SluiceEngine() {
    op_->Close();
    op_.reset();
    timers_.reset();
  }
  void Record(int64_t key, int64_t ts) {
    click_.user = key;
    rt_.timestamp = ts;
    op_->ProcessRecord(&click_);
  }
  void Watermark(int64_t wm) { timers_->AdvanceWatermark(wm); }
  const Results& results() const { return out_.results; }

 private:
  std::unique_ptr<RocksDb> rocksdb_;  // outlives the operator
  std::unique_ptr<sluice::state::HeapTimerService> timers_;
  Runtime rt_;
  Collect out_;
  Click click_;
  std::unique_ptr<sluice::StreamOperator> op_;
};

template <typename Engine>
void Feed(Engine& e, const Case& c, int64_t i) {
  const int64_t ts = c.Timestamp(i);
  e.Record(i % c.keys, ts);
  if ((i + 1) % kWatermarkEvery == 0) e.Watermark(ts);
}

template <typename Engine>
void Measure(benchmark::State& state, Engine& e, const Case& c) {
  int64_t i = 0;
  for (auto _ : state) Feed(e, c, i++);
  state.SetItemsProcessed(i);
  state.counters["results/record"] =
      static_cast<double>(e.results().n) / static_cast<double>(i > 0 ? i : 1);
}

//! Runs `n` records and a final watermark through `e`; what it emitted.
template <typename Engine>
Results RunAll(Engine& e, const Case& c, int64_t n) {
  for (int64_t i = 0; i < n; ++i) Feed(e, c, i);
  e.Watermark(INT64_MAX);
  return e.results();
}

//! The loops measured against case `c`: name and a function running `n` records through it (the
//! results) or measuring it (n < 0).
struct Loop {
  std::string name;
  std::function<Results(benchmark::State*, const Case&, int64_t n)> run;
};

template <typename L, typename... Args>
Loop MakeLoop(std::string name, Args... args) {
  return {std::move(name), [=](benchmark::State* state, const Case& c, int64_t n) {
            L loop(args...);
            if (state == nullptr) return RunAll(loop, c, n);
            Measure(*state, loop, c);
            return Results{};
          }};
}

std::vector<Loop> LoopsFor(const Case& c) {
  switch (c.kind) {
    case kTumbling:
      return {MakeLoop<window_bench::CopyingLoop>("loop-copy", c.size, c.size)};
    case kSession:
      return {MakeLoop<window_bench::SessionLoop>("loop-session", c.gap())};
    default:
      return {MakeLoop<window_bench::CopyingLoop>("loop-copy", c.size, kSlide),
              MakeLoop<window_bench::PaneLoop>("loop-panes", c.size, kSlide)};
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::vector<Case> cases;
  for (int64_t keys : {100, 1000}) {
    for (bool rocksdb : {false, true}) {
      if (rocksdb && keys != 1000) continue;
      cases.push_back({kTumbling, 1000, keys, rocksdb});
      cases.push_back({kTumbling, 60000, keys, rocksdb});
      cases.push_back({kSlidingSliced, 60000, keys, rocksdb});
      cases.push_back({kTumbling, 5000, keys, rocksdb});
      cases.push_back({kSlidingSliced, 5000, keys, rocksdb});
      cases.push_back({kSession, 0, keys, rocksdb});
      if (rocksdb) continue;  // Flink's per-window path: heap only (60-100 x slower already)
      cases.push_back({kSlidingPerWindow, 5000, keys, rocksdb});
      cases.push_back({kSlidingPerWindow, 60000, keys, rocksdb});
    }
  }

  // Same results first: each case and its loops, to the end of the same input.
  bool same = true;
  for (const Case& c : cases) {
    const int64_t n = c.rocksdb ? 20000 : 100000;
    SluiceEngine e(c);
    Results r = RunAll(e, c, n);
    std::fprintf(stderr, "%s%s: %lld results of %lld records\n", c.rocksdb ? "rocksdb/" : "heap/",
                 c.Name().c_str(), static_cast<long long>(r.n), static_cast<long long>(n));
    for (const Loop& loop : LoopsFor(c)) {
      Results l = loop.run(nullptr, c, n);
      if (!(l == r)) {
        std::fprintf(stderr, "DIFFERENT RESULTS: %s%s: %lld results, %s: %lld\n", c.Name().c_str(),
                     c.rocksdb ? " (rocksdb)" : "", static_cast<long long>(r.n), loop.name.c_str(),
                     static_cast<long long>(l.n));
        same = false;
      }
    }
  }
  std::fprintf(stderr, "results: %s\n",
               same ? "every case emits the same windows and counts as its loops" : "DIFFER");

  std::vector<std::pair<std::string, std::vector<std::string>>> rows;  // sluice name, loop names
  for (const Case& c : cases) {
    std::string name = std::string(c.rocksdb ? "rocksdb/" : "heap/") + c.Name();
    benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& state) {
      SluiceEngine e(c);
      Measure(state, e, c);
    });
    std::vector<std::string> loops;
    for (const Loop& loop : LoopsFor(c)) {
      std::string ln = loop.name + "/" + c.Name();
      loops.push_back(ln);
      if (c.rocksdb) continue;  // the heap case registered it
      benchmark::RegisterBenchmark(ln.c_str(),
                                   [c, loop](benchmark::State& state) { loop.run(&state, c, -1); });
    }
    rows.emplace_back(name, loops);
  }
  Reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  // Ratios from this run: each case against its loops, sliding against tumbling of the same size.
  // Sliding windows are also set against tumbling windows of their size (what the goal names) and
  // of their slide (as many results): cost = tumbling records/s / sliding records/s.
  std::printf("\n%-50s %10s  %s\n", "case", "records/s",
              "records/s / loop's; cost / tumbling of the size, of the slide");
  for (const auto& [name, loops] : rows) {
    auto it = reporter.rate.find(name);
    if (it == reporter.rate.end()) continue;
    std::printf("%-50s %10.3g ", name.c_str(), it->second);
    for (const std::string& l : loops) {
      auto lt = reporter.rate.find(l);
      if (lt != reporter.rate.end()) {
        std::printf(" %s %.3f", l.substr(0, l.find('/')).c_str(), it->second / lt->second);
      }
    }
    const size_t s = name.find("sliding-");
    if (s != std::string::npos) {
      const size_t size_at = name.find("/size:"), slide_at = name.find("/slide:");
      const std::string keys = name.substr(name.find("/keys:"));
      for (const std::string& size :
           {name.substr(size_at, slide_at - size_at), std::string("/size:1s")}) {
        auto tt = reporter.rate.find(name.substr(0, s) + "tumbling" + size + keys);
        if (tt != reporter.rate.end()) std::printf("; %.2f", tt->second / it->second);
      }
    }
    std::printf("\n");
  }
  return same ? 0 : 1;
}
