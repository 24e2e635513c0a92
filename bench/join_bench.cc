// join_bench: events/s per core of the interval join and the window join on one thread, each
// Sluice operator (with the host's own timer service and keyed state backend, heap or RocksDB, as
// in window_bench) against a hand-written loop doing the same join, measured in the same run.
//
// Input: event i is a left record (i even) or a right record (i odd) of pair p = i / 2, key
// p % keys, timestamp p (left) or p + 3 (right), value p; a watermark at the newest timestamp - 10
// every 100 events. Each pair of joined records adds (left value * 31 + right value) to a
// checksum. Cases:
//   interval  Between(-1000 ms, 1000 ms): a left record joins the right records of its key whose
//             timestamps are within a second of its own (keys 100: about 20 each; keys 10000: one).
//             The operator gets each record serialized, as from the network; serializing it is in
//             the measured time. The loop keeps one deque per key and side and drops what the
//             watermark passed.
//   window    tumbling 1 s windows: per key and window, every left with every right (keys 100: 10
//             x 10 pairs per key and window). The window operator gets the tagged records as the
//             tag maps before it hand them on (their cost is left out). The loop keeps the records
//             of each window and key in vectors and pairs them when the watermark passes its end.
// Before measuring, every case and its loop run the same input to the end and must give the same
// number of pairs and checksum. At the end a table gives each ratio. For tuning; not a test.
//   build/bench/join_bench --benchmark_min_time=0.5 [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "bench/operator_host.h"
#include "sluice/sluice.h"

namespace {

using bench_host::Init;
using bench_host::Reporter;
using bench_host::RocksDb;
using bench_host::Runtime;
using std::chrono::milliseconds;

constexpr int64_t kBoundMs = 1000;
constexpr int64_t kWindowMs = 1000;
constexpr int64_t kWatermarkEvery = 100;
constexpr int64_t kWatermarkLag = 10;

struct Left {
  int64_t key = 0;
  int64_t value = 0;
  SLUICE_FIELDS(key, value)
};
struct Right {
  int64_t key = 0;
  int64_t value = 0;
  SLUICE_FIELDS(key, value)
};
using Tagged = std::variant<Left, Right>;

//! Pairs joined: how many, and a checksum independent of their order.
struct Pairs {
  int64_t n = 0;
  int64_t sum = 0;
  void Add(int64_t left, int64_t right) {
    ++n;
    sum += left * 31 + right;
  }
  bool operator==(const Pairs& o) const { return n == o.n && sum == o.sum; }
};

enum Kind { kInterval, kWindow };

struct Case {
  Kind kind;
  int64_t keys;
  bool rocksdb;
  std::string Name() const {
    return std::string(kind == kInterval ? "interval" : "window") + "/keys:" + std::to_string(keys);
  }
};

//! One event of the input: which side, its key, timestamp and value.
struct Event {
  bool left;
  int64_t key, ts, value;
};
Event EventAt(const Case& c, int64_t i) {
  const int64_t p = i / 2;
  const bool left = i % 2 == 0;
  return {left, p % c.keys, left ? p : p + 3, p};
}

class IntervalPair final : public sluice::ProcessJoinFunction<Left, Right, int64_t> {
 public:
  void ProcessElement(const Left& l, const Right& r, Context&,
                      sluice::Collector<int64_t>& out) override {
    const int64_t v = l.value * 31 + r.value;
    out.Collect(v);
  }
};

class WindowPair final : public sluice::JoinFunction<Left, Right, int64_t> {
 public:
  int64_t Join(const Left& l, const Right& r) override { return l.value * 31 + r.value; }
};

std::function<std::unique_ptr<sluice::StreamOperator>()> Factory(const Case& c) {
  sluice::StreamEnvironment env({}, 1);
  auto left = env.AddSource<Left>([] { return std::unique_ptr<sluice::StreamOperator>(); }, "l");
  auto right = env.AddSource<Right>([] { return std::unique_ptr<sluice::StreamOperator>(); }, "r");
  if (c.kind == kInterval) {
    left.KeyBy([](const Left& l) { return l.key; })
        .IntervalJoin(right.KeyBy([](const Right& r) { return r.key; }))
        .Between(milliseconds(-kBoundMs), milliseconds(kBoundMs))
        .Process([] { return std::make_unique<IntervalPair>(); });
  } else {
    left.Join(right)
        .Where([](const Left& l) { return l.key; })
        .EqualTo([](const Right& r) { return r.key; })
        .Window(sluice::TumblingEventTimeWindows::Of(milliseconds(kWindowMs)))
        .Apply([] { return std::make_unique<WindowPair>(); });
  }
  return env.nodes().back().factory;
}

//! Adds each joined pair's value (l * 31 + r) to the checksum.
class Collect final : public sluice::Output {
 public:
  void Emit(const void* record) override {
    ++pairs.n;
    pairs.sum += *static_cast<const int64_t*>(record);
  }
  Pairs pairs;
};

//! A Sluice join operator with the host's timers and state backend around it.
class SluiceEngine {
 public:
  explicit SluiceEngine(const Case& c) : kind_(c.kind) {
    if (c.rocksdb) rocksdb_ = std::make_unique<RocksDb>("join-bench");
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
  void Record(const Event& e) {
    rt_.timestamp = e.ts;
    if (kind_ == kWindow) {
      tagged_ = e.left ? Tagged(std::in_place_index<0>, Left{e.key, e.value})
                       : Tagged(std::in_place_index<1>, Right{e.key, e.value});
      op_->ProcessRecord(&tagged_);
      return;
    }
    bytes_.Clear();
    if (e.left) {
      sluice::SerializeRecord(Left{e.key, e.value}, bytes_);
      op_->ProcessSerialized(bytes_.data(), bytes_.size());
    } else {
      sluice::SerializeRecord(Right{e.key, e.value}, bytes_);
      op_->ProcessSerialized2(bytes_.data(), bytes_.size());
    }
  }
  void Watermark(int64_t wm) { timers_->AdvanceWatermark(wm); }
  const Pairs& pairs() const { return out_.pairs; }

 private:
  Kind kind_;
  std::unique_ptr<RocksDb> rocksdb_;  // outlives the operator
  std::unique_ptr<sluice::state::HeapTimerService> timers_;
  Runtime rt_;
  Collect out_;
  Tagged tagged_;
  sluice::ByteWriter bytes_;
  std::unique_ptr<sluice::StreamOperator> op_;
};

//! The interval join by hand: per key and side a deque of (timestamp, value) in arrival order,
//! which is time order here; a record is dropped once the watermark passed the last time it could
//! join (its own + the bound), oldest first through one queue of (time, key, side).
class IntervalLoop {
 public:
  void Record(const Event& e) {
    Sides& s = keys_[e.key];
    auto& other = e.left ? s.right : s.left;
    for (const auto& [ts, value] : other) {
      if (ts < e.ts - kBoundMs || ts > e.ts + kBoundMs) continue;
      e.left ? pairs_.Add(e.value, value) : pairs_.Add(value, e.value);
    }
    (e.left ? s.left : s.right).emplace_back(e.ts, e.value);
    expiry_.push_back({e.ts + kBoundMs, e.key, e.left});
  }
  void Watermark(int64_t wm) {
    while (!expiry_.empty() && expiry_.front().time <= wm) {
      const Expiry& x = expiry_.front();
      Sides& s = keys_[x.key];
      (x.left ? s.left : s.right).pop_front();
      expiry_.pop_front();
    }
  }
  const Pairs& pairs() const { return pairs_; }

 private:
  struct Sides {
    std::deque<std::pair<int64_t, int64_t>> left, right;
  };
  struct Expiry {
    int64_t time, key;
    bool left;
  };
  std::unordered_map<int64_t, Sides> keys_;
  std::deque<Expiry> expiry_;
  Pairs pairs_;
};

//! The window join by hand: per window end and key, the values of both sides; pairs them when
//! the watermark reaches the window's last millisecond.
class WindowLoop {
 public:
  void Record(const Event& e) {
    const int64_t end = e.ts - e.ts % kWindowMs + kWindowMs;
    auto& [left, right] = windows_[end][e.key];
    (e.left ? left : right).push_back(e.value);
  }
  void Watermark(int64_t wm) {
    while (!windows_.empty() && windows_.begin()->first - 1 <= wm) {
      for (const auto& [key, sides] : windows_.begin()->second) {
        for (int64_t l : sides.first) {
          for (int64_t r : sides.second) pairs_.Add(l, r);
        }
      }
      windows_.erase(windows_.begin());
    }
  }
  const Pairs& pairs() const { return pairs_; }

 private:
  std::map<int64_t,
           std::unordered_map<int64_t, std::pair<std::vector<int64_t>, std::vector<int64_t>>>>
      windows_;
  Pairs pairs_;
};

template <typename Engine>
void Feed(Engine& e, const Case& c, int64_t i) {
  const Event ev = EventAt(c, i);
  e.Record(ev);
  if ((i + 1) % kWatermarkEvery == 0) e.Watermark(ev.ts - kWatermarkLag);
}

template <typename Engine>
void Measure(benchmark::State& state, Engine& e, const Case& c) {
  int64_t i = 0;
  for (auto _ : state) Feed(e, c, i++);
  state.SetItemsProcessed(i);
  state.counters["pairs/event"] =
      static_cast<double>(e.pairs().n) / static_cast<double>(i > 0 ? i : 1);
}

template <typename Engine>
Pairs RunAll(Engine& e, const Case& c, int64_t n) {
  for (int64_t i = 0; i < n; ++i) Feed(e, c, i);
  e.Watermark(INT64_MAX);
  return e.pairs();
}

template <typename Loop>
Pairs RunLoop(benchmark::State* state, const Case& c, int64_t n) {
  Loop loop;
  if (state == nullptr) return RunAll(loop, c, n);
  Measure(*state, loop, c);
  return {};
}

Pairs Loop(benchmark::State* state, const Case& c, int64_t n) {
  return c.kind == kInterval ? RunLoop<IntervalLoop>(state, c, n)
                             : RunLoop<WindowLoop>(state, c, n);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::vector<Case> cases;
  for (Kind kind : {kInterval, kWindow}) {
    for (int64_t keys : {100, 10000}) {
      for (bool rocksdb : {false, true}) cases.push_back({kind, keys, rocksdb});
    }
  }

  bool same = true;
  for (const Case& c : cases) {
    const int64_t n = c.rocksdb ? 20000 : 200000;
    SluiceEngine e(c);
    const Pairs s = RunAll(e, c, n);
    const Pairs l = Loop(nullptr, c, n);
    std::fprintf(stderr, "%s%s: %lld pairs of %lld events\n", c.rocksdb ? "rocksdb/" : "heap/",
                 c.Name().c_str(), static_cast<long long>(s.n), static_cast<long long>(n));
    if (!(s == l)) {
      std::fprintf(stderr, "DIFFERENT RESULTS: %s%s: %lld pairs, the loop %lld\n", c.Name().c_str(),
                   c.rocksdb ? " (rocksdb)" : "", static_cast<long long>(s.n),
                   static_cast<long long>(l.n));
      same = false;
    }
  }
  std::fprintf(stderr, "results: %s\n",
               same ? "every case joins the same pairs as its loop" : "DIFFER");

  std::vector<std::pair<std::string, std::string>> rows;  // sluice name, loop name
  for (const Case& c : cases) {
    std::string name = std::string(c.rocksdb ? "rocksdb/" : "heap/") + c.Name();
    benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& state) {
      SluiceEngine e(c);
      Measure(state, e, c);
    });
    std::string loop = "loop/" + c.Name();
    if (!c.rocksdb) {
      benchmark::RegisterBenchmark(loop.c_str(),
                                   [c](benchmark::State& state) { Loop(&state, c, -1); });
    }
    rows.emplace_back(name, loop);
  }
  Reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  std::printf("\n%-28s %12s %12s %8s\n", "case", "events/s", "loop's", "ratio");
  for (const auto& [name, loop] : rows) {
    auto it = reporter.rate.find(name);
    auto lt = reporter.rate.find(loop);
    if (it == reporter.rate.end() || lt == reporter.rate.end()) continue;
    std::printf("%-28s %12.3g %12.3g %8.3f\n", name.c_str(), it->second, lt->second,
                it->second / lt->second);
  }
  return same ? 0 : 1;
}
