// window_bench: Google Benchmark micro-benchmarks of window operators on one thread, with the
// host faked (a timer service firing timers as watermarks advance, heap keyed state): records/s of
// a count per key over tumbling windows (the baseline measured in the same run), over sliding
// windows of size/slide = 60 on Flink's per-window path (each record in 60 windows), and over the
// same sliding windows sliced into panes (one pane per record). Keys: 100 (10 records per key and
// slide) or 1,000 (1 per key and slide). For tuning; not a test.
//   build/bench/window_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "sluice/sluice.h"

namespace {

using std::chrono::milliseconds;

struct Click {
  int64_t user = 0;
  SLUICE_FIELDS(user)
};

class Timers final : public sluice::InternalTimerService {
 public:
  using T = std::tuple<int64_t, int, std::string, std::string, int>;
  void Register(sluice::TimeDomain d, int64_t ts, std::string_view key, int kg,
                std::string_view ns) override {
    timers.insert({ts, static_cast<int>(d), std::string(key), std::string(ns), kg});
  }
  void Delete(sluice::TimeDomain d, int64_t ts, std::string_view key, int kg,
              std::string_view ns) override {
    timers.erase({ts, static_cast<int>(d), std::string(key), std::string(ns), kg});
  }
  int64_t CurrentWatermark() const override { return watermark; }
  int64_t CurrentProcessingTime() const override { return 0; }
  void Advance(int64_t wm) {
    watermark = wm;
    while (!timers.empty() && std::get<0>(*timers.begin()) <= wm) {
      T t = *timers.begin();
      timers.erase(timers.begin());
      target->OnTimer(static_cast<sluice::TimeDomain>(std::get<1>(t)), std::get<0>(t),
                      std::get<2>(t), std::get<3>(t));
    }
  }
  std::set<T> timers;
  int64_t watermark = sluice::kNoTimestamp;
  sluice::TimerTarget* target = nullptr;
};

class Init final : public sluice::InitContext {
 public:
  explicit Init(Timers* t) : t_(t) {}
  bool IsRestored() const override { return false; }
  int MaxParallelism() const override { return 128; }
  std::vector<std::string> OperatorState(const std::string&) const override { return {}; }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>&) const override {}
  sluice::KeyedStateBackend* KeyedBackend() override { return nullptr; }
  sluice::InternalTimerService* TimerService(const std::string&,
                                             sluice::TimerTarget* target) override {
    t_->target = target;
    return t_;
  }

 private:
  Timers* t_;
};

class Runtime final : public sluice::RuntimeContext {
 public:
  const std::string& JobId() const override { return s_; }
  const std::string& TaskName() const override { return s_; }
  int SubtaskIndex() const override { return 0; }
  int Parallelism() const override { return 1; }
  int MaxParallelism() const override { return 128; }
  bool IsCancelled() const override { return false; }
  int AttemptNumber() const override { return 0; }
  bool IsCheckpointingEnabled() const override { return false; }
  int64_t CurrentTimestamp() const override { return ts; }
  void SetCurrentTimestamp(int64_t t) override { ts = t; }
  int64_t ts = 0;

 private:
  std::string s_ = "bench";
};

class Count final : public sluice::Output {
 public:
  void Emit(const void*) override { ++n; }
  int64_t n = 0;
};

class CountAgg final : public sluice::AggregateFunction<Click, int64_t, int64_t> {
 public:
  int64_t CreateAccumulator() override { return 0; }
  int64_t Add(const Click&, int64_t acc) override { return acc + 1; }
  int64_t GetResult(const int64_t& acc) override { return acc; }
  int64_t Merge(int64_t a, const int64_t& b) override { return a + b; }
};

enum Kind { kTumbling, kSlidingPerWindow, kSlidingSliced };

std::function<std::unique_ptr<sluice::StreamOperator>()> Factory(Kind kind) {
  sluice::StreamEnvironment env({}, 1);
  auto src = env.AddSource<Click>([] { return std::unique_ptr<sluice::StreamOperator>(); }, "s");
  auto keyed = src.KeyBy([](const Click& c) { return c.user; });
  auto agg = [] { return std::make_unique<CountAgg>(); };
  if (kind == kTumbling) {
    keyed.Window(sluice::TumblingEventTimeWindows::Of(milliseconds(1000))).Aggregate(agg);
  } else {
    auto w =
        keyed.Window(sluice::SlidingEventTimeWindows::Of(milliseconds(60000), milliseconds(1000)));
    if (kind == kSlidingPerWindow) w.Trigger(sluice::EventTimeTrigger::Create());
    w.Aggregate(agg);
  }
  return env.nodes().back().factory;
}

//! One record per millisecond of event time, keys round robin, a watermark every 100 ms.
void BM_Window(benchmark::State& state) {
  const Kind kind = static_cast<Kind>(state.range(0));
  const int64_t keys = state.range(1);
  auto factory = Factory(kind);
  Timers timers;
  Runtime rt;
  Count out;
  Init init(&timers);
  std::unique_ptr<sluice::StreamOperator> op = factory();
  op->InitializeState(init);
  op->Open(rt, out);
  int64_t t = 0;
  Click c;
  for (auto _ : state) {
    c.user = t % keys;
    rt.ts = t;
    op->ProcessRecord(&c);
    if (++t % 100 == 0) timers.Advance(t - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["results/record"] = static_cast<double>(out.n) / static_cast<double>(t);
}
BENCHMARK(BM_Window)
    ->ArgNames({"kind", "keys"})
    ->ArgsProduct({{kTumbling, kSlidingPerWindow, kSlidingSliced}, {100, 1000}})
    ->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
