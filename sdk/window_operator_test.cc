// WindowOperator driven as the host drives it, through in-test fakes: a timer service that keeps
// timers and fires them in order when the watermark (or the clock) advances — before the
// operator's ProcessWatermark, as the host does — a runtime context holding the record timestamp
// slot, and an output capturing records with their timestamps and side outputs. Operators come
// from the DataStream API (the window node's factory), so the API is tested along the way.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <typeinfo>
#include <utility>
#include <vector>

#include "sluice/sluice.h"
#include "sluice/testing/fake_keyed_host.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;

struct Click {
  std::string user;
  int64_t value = 1;
  SLUICE_FIELDS(user, value)
};

// ---- fakes of the host (sluice/testing/fake_keyed_host.h) ----

using testing::Entry;
using testing::FakeInit;
using testing::FakeTimerService;
using testing::KeyedSnapshot;
using testing::MapBackend;
using testing::MemoryWriter;
using testing::Timer;

//! The task's side, with the processing time of the fake timer service.
class FakeRuntime final : public testing::FakeRuntimeContext {
 public:
  explicit FakeRuntime(const FakeTimerService* timers) : timers_(timers) {
    task_name = "Window";
    checkpointing = true;
  }
  int64_t CurrentProcessingTime() const override { return timers_->now; }

 private:
  const FakeTimerService* timers_;
};

//! Records with the timestamp they were emitted with, side outputs, watermarks.
template <typename OUT, typename IN>
class CapturingOutput final : public Output {
 public:
  explicit CapturingOutput(const FakeRuntime* rt) : rt_(rt) {}
  void Emit(const void* r) override {
    records.push_back(*static_cast<const OUT*>(r));
    timestamps.push_back(rt_->timestamp);
  }
  void EmitWatermark(int64_t wm) override { watermarks.push_back(wm); }
  void EmitSideOutput(const std::string& tag, const void* r) override {
    side[tag].push_back(*static_cast<const IN*>(r));
  }
  std::vector<OUT> records;
  std::vector<int64_t> timestamps;
  std::vector<int64_t> watermarks;
  std::map<std::string, std::vector<IN>> side;

 private:
  const FakeRuntime* rt_;
};

//! One operator instance with its host.
template <typename IN, typename OUT>
class Harness {
 public:
  //! `in_backend`: keyed state in the host's backend (as rocksdb), else on the heap.
  explicit Harness(std::function<std::unique_ptr<StreamOperator>()> factory,
                   const KeyedSnapshot* restore = nullptr, bool in_backend = false)
      : host(restore, in_backend),
        backend(host.backend),
        timers(host.timers),
        rt(&timers),
        out(&rt) {
    op = factory();
    host.Initialize(*op);
    op->Open(rt, out);
  }
  void Add(const IN& v, int64_t ts) {
    rt.timestamp = ts;
    op->ProcessRecord(&v);
  }
  void Watermark(int64_t wm) { host.Watermark(*op, wm); }
  KeyedSnapshot Take() { return host.Take(*op); }
  //! Whether no keyed state is left, wherever it lives.
  bool StateIsEmpty() { return host.StateIsEmpty(*op); }
  int64_t Dropped() const {
    return dynamic_cast<const WindowOperatorBase&>(*op).num_late_records_dropped();
  }

  testing::FakeKeyedHost host;
  std::optional<MapBackend>& backend;
  FakeTimerService& timers;
  FakeRuntime rt;
  CapturingOutput<OUT, IN> out;
  std::unique_ptr<StreamOperator> op;
};

// ---- user functions ----

class CountAgg final : public AggregateFunction<Click, int64_t, int64_t> {
 public:
  int64_t CreateAccumulator() override { return 0; }
  int64_t Add(const Click& c, int64_t acc) override { return acc + c.value; }
  int64_t GetResult(const int64_t& acc) override { return acc; }
  int64_t Merge(int64_t a, const int64_t& b) override { return a + b; }
};

using Result = std::tuple<std::string, int64_t, int64_t, int64_t>;  // key, start, end, value

class EmitCount final : public ProcessWindowFunction<int64_t, Result, std::string, TimeWindow> {
 public:
  void Process(const std::string& key, Context& ctx, const std::vector<int64_t>& counts,
               Collector<Result>& out) override {
    for (int64_t c : counts) out.Collect({key, ctx.Window().Start(), ctx.Window().End(), c});
  }
};

//! Sums the values of all elements (a ListState of them); with `per_window_state`, counts its
//! firings in window state too, which Clear drops.
class SumAll final : public ProcessWindowFunction<Click, Result, std::string, TimeWindow> {
 public:
  explicit SumAll(bool per_window_state = false) : per_window_state_(per_window_state) {}
  void Process(const std::string& key, Context& ctx, const std::vector<Click>& clicks,
               Collector<Result>& out) override {
    int64_t sum = 0;
    for (const Click& c : clicks) sum += c.value;
    if (per_window_state_) {
      auto firings = ctx.WindowState().GetValueState<int64_t>("firings");
      firings.Update(firings.ValueOr(0) + 1);
    }
    out.Collect({key, ctx.Window().Start(), ctx.Window().End(), sum});
  }
  void Clear(Context& ctx) override {
    if (per_window_state_) ctx.WindowState().GetValueState<int64_t>("firings").Clear();
  }

 private:
  bool per_window_state_;
};

auto UserOf = [](const Click& c) { return c.user; };

//! The factory of the last node of `env` (the window operator).
std::function<std::unique_ptr<StreamOperator>()> LastFactory(StreamEnvironment& env) {
  return env.node(static_cast<uint32_t>(env.nodes().size() - 1)).factory;
}

DataStream<Click> Clicks(StreamEnvironment& env) {
  return env.AddSource<Click>([] { return std::unique_ptr<StreamOperator>(); }, "Clicks");
}

template <typename A>
std::function<std::unique_ptr<StreamOperator>()> CountPerWindow(
    A assigner, int64_t lateness_ms = 0, const OutputTag<Click>* late = nullptr) {
  StreamEnvironment env({}, 1);
  auto windowed = Clicks(env).KeyBy(UserOf).Window(assigner);
  windowed.AllowedLateness(milliseconds(lateness_ms));
  if (late) windowed.SideOutputLateData(*late);
  windowed.Aggregate([] { return std::make_unique<CountAgg>(); },
                     [] { return std::make_unique<EmitCount>(); }, "Count");
  EXPECT_EQ(env.nodes().back().name, "Count");
  return LastFactory(env);
}

std::multiset<Result> AsSet(const std::vector<Result>& v) { return {v.begin(), v.end()}; }

// ---- tests ----

TEST(WindowOperator, TumblingCountsFireWhenTheWatermarkPassesTheWindowEnd) {
  Harness<Click, Result> h(CountPerWindow(TumblingEventTimeWindows::Of(milliseconds(10))));
  h.Add({"a"}, 1);
  h.Add({"b"}, 3);
  h.Add({"a", 2}, 9);
  h.Add({"a"}, 10);
  h.Add({"a"}, -1);  // [-10, 0)
  h.Watermark(8);
  EXPECT_EQ(AsSet(h.out.records), (std::multiset<Result>{{"a", -10, 0, 1}}));
  EXPECT_EQ(h.out.timestamps, (std::vector<int64_t>{-1}));
  h.Watermark(9);
  EXPECT_EQ(AsSet(h.out.records),
            (std::multiset<Result>{{"a", -10, 0, 1}, {"a", 0, 10, 3}, {"b", 0, 10, 1}}));
  EXPECT_EQ(h.out.timestamps, (std::vector<int64_t>{-1, 9, 9}));
  h.Watermark(kMaxWatermark);
  EXPECT_EQ(h.out.records.back(), (Result{"a", 10, 20, 1}));
  EXPECT_EQ(h.out.timestamps.back(), 19);
  EXPECT_EQ(h.out.watermarks, (std::vector<int64_t>{8, 9, kMaxWatermark}));
  // Every window was cleaned up: no timers, no state.
  EXPECT_TRUE(h.timers.timers.empty());
  EXPECT_TRUE(h.Take().entries.empty());
}

TEST(WindowOperator, ReduceWithoutAWindowFunctionEmitsTheReducedRecord) {
  StreamEnvironment env({}, 1);
  Clicks(env)
      .KeyBy(UserOf)
      .Window(TumblingEventTimeWindows::Of(milliseconds(10)))
      .Reduce([](const Click& a, const Click& b) {
        return Click{a.user, a.value + b.value};
      });
  Harness<Click, Click> h(LastFactory(env));
  h.Add({"a", 1}, 1);
  h.Add({"a", 5}, 2);
  h.Add({"a", 7}, 12);
  h.Watermark(100);
  ASSERT_EQ(h.out.records.size(), 2u);
  EXPECT_EQ(h.out.records[0].value, 6);
  EXPECT_EQ(h.out.records[1].value, 7);
}

TEST(WindowOperator, SlidingWindowsCountEachRecordInSizeOverSlideWindows) {
  Harness<Click, Result> h(
      CountPerWindow(SlidingEventTimeWindows::Of(milliseconds(10), milliseconds(5))));
  h.Add({"a"}, 7);
  h.Add({"a"}, 3);
  h.Add({"a"}, 12);
  h.Watermark(kMaxWatermark);
  EXPECT_EQ(
      h.out.records,
      (std::vector<Result>{{"a", -5, 5, 1}, {"a", 0, 10, 2}, {"a", 5, 15, 2}, {"a", 10, 20, 1}}));
}

TEST(WindowOperator, SessionWindowsMergeTheirContentsAndFireOnce) {
  StreamEnvironment env({}, 1);
  Clicks(env).KeyBy(UserOf).Window(EventTimeSessionWindows::WithGap(milliseconds(10))).Process([] {
    return std::make_unique<SumAll>();
  });
  auto process = LastFactory(env);
  auto aggregate = CountPerWindow(EventTimeSessionWindows::WithGap(milliseconds(10)));
  for (const auto& factory : {process, aggregate}) {
    Harness<Click, Result> h(factory);
    h.Add({"a"}, 0);
    h.Add({"a"}, 5);   // [0, 15)
    h.Add({"a"}, 30);  // [30, 40)
    h.Add({"b"}, 12);  // another key: [12, 22)
    h.Add({"a"}, 20);  // [20, 30) touches [30, 40): [20, 40)
    h.Watermark(14);
    EXPECT_EQ(h.out.records, (std::vector<Result>{{"a", 0, 15, 2}}));
    h.Add({"a"}, 16);  // [16, 26) bridges nothing ([0,15) is gone): [16, 40)
    h.Watermark(39);
    EXPECT_EQ(AsSet(h.out.records),
              (std::multiset<Result>{{"a", 0, 15, 2}, {"b", 12, 22, 1}, {"a", 16, 40, 3}}));
    // Only the merged window's timers are left pending, and then none.
    EXPECT_TRUE(h.timers.timers.empty());
    EXPECT_TRUE(h.Take().entries.empty());
  }
}

TEST(WindowOperator, PerWindowStateIsNotAllowedWithMergingWindows) {
  // As Flink: the state of merged windows could not be merged, so it is refused.
  StreamEnvironment env({}, 1);
  Clicks(env).KeyBy(UserOf).Window(EventTimeSessionWindows::WithGap(milliseconds(10))).Process([] {
    return std::make_unique<SumAll>(/*per_window_state=*/true);
  });
  Harness<Click, Result> h(LastFactory(env));
  h.Add({"a"}, 0);
  EXPECT_THROW(h.Watermark(100), std::logic_error);
}

TEST(WindowOperator, SessionMergingKeepsTheStateWindowAcrossASnapshot) {
  auto factory = CountPerWindow(EventTimeSessionWindows::WithGap(milliseconds(10)));
  Harness<Click, Result> h(factory);
  h.Add({"a"}, 0);
  h.Add({"a"}, 30);
  h.Add({"a"}, 5);
  KeyedSnapshot snap = h.Take();
  Harness<Click, Result> r(factory, &snap);
  r.Add({"a"}, 20);  // bridges [0,15) and [30,40)? no: [20,30) joins [30,40) only
  r.Add({"a"}, 12);  // [12,22) joins [0,15) and [20,40): one session [0,40)
  r.Watermark(kMaxWatermark);
  EXPECT_EQ(r.out.records, (std::vector<Result>{{"a", 0, 40, 5}}));
  EXPECT_TRUE(r.timers.timers.empty());
}

TEST(WindowOperator, LateRecordsFireAgainWithinTheLatenessThenGoToTheSideOutput) {
  OutputTag<Click> late("late");
  Harness<Click, Result> h(
      CountPerWindow(TumblingEventTimeWindows::Of(milliseconds(10)), /*lateness_ms=*/2, &late));
  h.Add({"a"}, 5);
  h.Watermark(9);
  EXPECT_EQ(h.out.records, (std::vector<Result>{{"a", 0, 10, 1}}));
  // Within the allowed lateness: the window fires again at once, with the late record in it.
  h.Add({"a"}, 3);
  EXPECT_EQ(h.out.records.back(), (Result{"a", 0, 10, 2}));
  EXPECT_EQ(h.out.timestamps.back(), 9);
  h.Watermark(10);
  h.Add({"a"}, 1);
  EXPECT_EQ(h.out.records.back(), (Result{"a", 0, 10, 3}));
  // Cleanup time 9 + 2: the state is gone, further records for it are late.
  h.Watermark(11);
  EXPECT_TRUE(h.timers.timers.empty());
  EXPECT_TRUE(h.Take().entries.empty());
  h.Add({"a", 42}, 4);
  ASSERT_EQ(h.out.side["late"].size(), 1u);
  EXPECT_EQ(h.out.side["late"][0].value, 42);
  EXPECT_EQ(h.rt.timestamp, 4);
  EXPECT_EQ(h.Dropped(), 0);
  EXPECT_EQ(h.out.records.size(), 3u);
  // A record of a later window is not late.
  h.Add({"a"}, 12);
  EXPECT_TRUE(h.Take().entries.size() > 0);
}

TEST(WindowOperator, LateRecordsWithoutASideOutputAreDroppedAndCounted) {
  Harness<Click, Result> h(CountPerWindow(TumblingEventTimeWindows::Of(milliseconds(10))));
  h.Watermark(100);
  h.Add({"a"}, 5);
  h.Add({"a"}, 99);
  h.Add({"a"}, 100);  // [100, 110) is not late
  EXPECT_EQ(h.Dropped(), 2);
  EXPECT_TRUE(h.out.side.empty());
  h.Watermark(109);
  EXPECT_EQ(h.out.records, (std::vector<Result>{{"a", 100, 110, 1}}));
}

TEST(WindowOperator, HugeAllowedLatenessSaturatesInsteadOfOverflowing) {
  Harness<Click, Result> h(CountPerWindow(TumblingEventTimeWindows::Of(milliseconds(10)),
                                          /*lateness_ms=*/INT64_MAX));
  h.Add({"a"}, 5);
  h.Watermark(9);
  EXPECT_EQ(h.out.records.size(), 1u);
  // Cleanup never comes: only the firing timer was registered, and it has fired.
  EXPECT_TRUE(h.timers.timers.empty());
  h.Watermark(INT64_MAX - 1);
  h.Add({"a"}, 6);
  EXPECT_EQ(h.out.records.back(), (Result{"a", 0, 10, 2}));
  EXPECT_EQ(h.Dropped(), 0);
}

TEST(WindowOperator, PendingWindowsAndTimersSurviveASnapshotIntoAFreshOperator) {
  auto factory = CountPerWindow(TumblingEventTimeWindows::Of(milliseconds(10)), 5);
  Harness<Click, Result> h(factory);
  h.Add({"a"}, 1);
  h.Add({"b"}, 2);
  h.Add({"a"}, 15);
  h.Watermark(9);  // [0,10) fired, kept until 14 for lateness
  KeyedSnapshot snap = h.Take();
  EXPECT_EQ(snap.timers.size(), 4u);  // cleanup of a,b [0,10); fire and cleanup of a [10,20)

  Harness<Click, Result> r(factory, &snap);
  r.timers.watermark = 9;
  r.Add({"b"}, 3);  // late but within lateness: fires with the restored count
  EXPECT_EQ(r.out.records, (std::vector<Result>{{"b", 0, 10, 2}}));
  r.Add({"a"}, 17);
  r.Watermark(19);
  EXPECT_EQ(r.out.records.back(), (Result{"a", 10, 20, 2}));
  r.Watermark(kMaxWatermark);
  EXPECT_TRUE(r.timers.timers.empty());
  EXPECT_TRUE(r.Take().entries.empty());
}

TEST(WindowOperator, ARecordWithoutATimestampInAnEventTimeWindowThrows) {
  Harness<Click, Result> h(CountPerWindow(TumblingEventTimeWindows::Of(milliseconds(10))));
  try {
    h.Add({"a"}, kNoTimestamp);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("needs timestamps: assign them with "
                                         "AssignTimestampsAndWatermarks"),
              std::string::npos)
        << e.what();
  }
}

TEST(WindowOperator, ProcessingTimeWindowsFireOnTheClock) {
  StreamEnvironment env({}, 1);
  Clicks(env).KeyBy(UserOf).Window(TumblingProcessingTimeWindows::Of(milliseconds(10))).Process([] {
    return std::make_unique<SumAll>(/*per_window_state=*/true);
  });
  Harness<Click, Result> h(LastFactory(env));
  h.timers.now = 3;
  h.Add({"a"}, kNoTimestamp);
  h.Add({"a", 4}, kNoTimestamp);
  h.Watermark(1000);  // event time does not matter
  EXPECT_TRUE(h.out.records.empty());
  h.timers.AdvanceProcessingTime(9);
  EXPECT_EQ(h.out.records, (std::vector<Result>{{"a", 0, 10, 5}}));
  EXPECT_TRUE(h.timers.timers.empty());
  // The function's Clear dropped its window state too.
  EXPECT_TRUE(h.Take().entries.empty());
}

TEST(WindowOperator, GlobalWindowsWithAPurgingCountTrigger) {
  StreamEnvironment env({}, 1);
  Clicks(env)
      .KeyBy(UserOf)
      .Window(GlobalWindows::Create())
      .Trigger(PurgingTrigger::Of(CountTrigger::Of(3)))
      .Reduce([](const Click& a, const Click& b) {
        return Click{a.user, a.value + b.value};
      });
  Harness<Click, Click> h(LastFactory(env));
  for (int i = 1; i <= 7; ++i) h.Add({"a", i}, kNoTimestamp);
  ASSERT_EQ(h.out.records.size(), 2u);
  EXPECT_EQ(h.out.records[0].value, 6);
  EXPECT_EQ(h.out.records[1].value, 15);
  EXPECT_EQ(h.out.timestamps[0], INT64_MAX);
  EXPECT_TRUE(h.timers.timers.empty());
}

TEST(WindowOperator, AnEvictorKeepsTheLastElementsForEveryFunctionKind) {
  StreamEnvironment env({}, 1);
  auto windowed = Clicks(env)
                      .KeyBy(UserOf)
                      .Window(TumblingEventTimeWindows::Of(milliseconds(10)))
                      .Evictor(CountEvictor::Of(2));
  windowed.Process([] { return std::make_unique<SumAll>(/*per_window_state=*/true); });
  auto process = LastFactory(env);
  windowed.Aggregate([] { return std::make_unique<CountAgg>(); },
                     [] { return std::make_unique<EmitCount>(); });
  auto aggregate = LastFactory(env);
  windowed.Reduce(
      [](const Click& a, const Click& b) {
        return Click{a.user, a.value + b.value};
      },
      [] {
        return std::make_unique<
            internal::PassThroughWindowFunction<Click, std::string, TimeWindow>>();
      });
  auto reduce = LastFactory(env);
  for (const auto& factory : {process, aggregate}) {
    Harness<Click, Result> h(factory);
    for (int i = 1; i <= 4; ++i) h.Add({"a", i}, i);
    h.Watermark(9);
    EXPECT_EQ(h.out.records, (std::vector<Result>{{"a", 0, 10, 7}}));
  }
  Harness<Click, Click> h(reduce);
  for (int i = 1; i <= 4; ++i) h.Add({"a", i}, i);
  h.Watermark(9);
  ASSERT_EQ(h.out.records.size(), 1u);
  EXPECT_EQ(h.out.records[0].value, 7);
}

TEST(WindowOperator, ContinuousTriggerFiresEarlyResults) {
  StreamEnvironment env({}, 1);
  Clicks(env)
      .KeyBy(UserOf)
      .Window(TumblingEventTimeWindows::Of(milliseconds(100)))
      .Trigger(ContinuousEventTimeTrigger::Of(milliseconds(30)))
      .Aggregate([] { return std::make_unique<CountAgg>(); },
                 [] { return std::make_unique<EmitCount>(); });
  Harness<Click, Result> h(LastFactory(env));
  h.Add({"a"}, 5);
  h.Add({"a"}, 40);
  h.Watermark(30);
  h.Add({"a"}, 50);
  h.Watermark(99);
  std::vector<int64_t> counts;
  for (const Result& r : h.out.records) counts.push_back(std::get<3>(r));
  EXPECT_EQ(counts, (std::vector<int64_t>{2, 3, 3, 3}));  // at 30, 60, 90 and the end (99)
}

TEST(WindowOperator, WindowAllRunsInOneSubtask) {
  StreamEnvironment env({}, 4);
  Clicks(env)
      .WindowAll(TumblingEventTimeWindows::Of(milliseconds(10)))
      .Reduce([](const Click& a, const Click& b) {
        return Click{"all", a.value + b.value};
      });
  EXPECT_EQ(env.nodes().back().parallelism, 1);
  EXPECT_EQ(env.nodes().back().inputs[0].kind, PartitionKind::kHash);
  Harness<Click, Click> h(LastFactory(env));
  h.Add({"a", 1}, 1);
  h.Add({"b", 2}, 2);
  h.Watermark(9);
  ASSERT_EQ(h.out.records.size(), 1u);
  EXPECT_EQ(h.out.records[0].value, 3);
}

//! Sliding windows with the default trigger slice time into panes; an explicit trigger keeps
//! Flink's per-window path. Both must give the same records, in the same order, with the same
//! timestamps, late records and dropped counts — across a snapshot too.
struct SlicingCase {
  int64_t size, slide, offset, lateness;
  bool side_output;
  bool reduce;
};

TEST(WindowOperator, SlicedSlidingWindowsGiveTheSameOutputAsThePerWindowPath) {
  const std::vector<SlicingCase> cases = {{60, 1, 0, 0, false, false},
                                          {10, 5, 0, 3, true, false},
                                          {10, 4, 1, 7, false, true},
                                          {9, 6, -2, 0, true, true},
                                          {100, 30, 0, 50, true, false}};
  OutputTag<Click> late("late");
  for (const SlicingCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "size " << c.size << " slide " << c.slide << " offset "
                                      << c.offset << " lateness " << c.lateness);
    auto build = [&](bool sliced) {
      StreamEnvironment env({}, 1);
      auto w = Clicks(env).KeyBy(UserOf).Window(SlidingEventTimeWindows::Of(
          milliseconds(c.size), milliseconds(c.slide), milliseconds(c.offset)));
      w.AllowedLateness(milliseconds(c.lateness));
      if (c.side_output) w.SideOutputLateData(late);
      if (!sliced) w.Trigger(EventTimeTrigger::Create());
      auto sum = [](const Click& a, const Click& b) { return Click{a.user, a.value + b.value}; };
      auto emit = [] { return std::make_unique<EmitCount>(); };
      if (c.reduce) {
        class Emit final : public ProcessWindowFunction<Click, Result, std::string, TimeWindow> {
         public:
          void Process(const std::string& key, Context& ctx, const std::vector<Click>& in,
                       Collector<Result>& out) override {
            out.Collect({key, ctx.Window().Start(), ctx.Window().End(), in.at(0).value});
          }
        };
        w.Reduce(sum, [] { return std::make_unique<Emit>(); });
      } else {
        w.Aggregate([] { return std::make_unique<CountAgg>(); }, emit);
      }
      return LastFactory(env);
    };
    auto sliced = build(true), per_window = build(false);
    ASSERT_NE(typeid(*sliced()), typeid(*per_window()));

    // Out-of-order records for 3 keys, negative timestamps included, watermarks lagging behind.
    uint64_t seed = 42;
    auto next = [&seed](int64_t n) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      return static_cast<int64_t>((seed >> 33) % static_cast<uint64_t>(n));
    };
    std::vector<std::pair<Click, int64_t>> input;
    for (int i = 0; i < 600; ++i) {
      input.push_back({Click{"k" + std::to_string(next(3)), 1 + next(5)}, i / 2 - 60 + next(40)});
    }
    auto run = [&](const std::function<std::unique_ptr<StreamOperator>()>& factory) {
      auto h = std::make_unique<Harness<Click, Result>>(factory);
      std::vector<Result> records;
      std::vector<int64_t> timestamps;
      int64_t dropped = 0;
      int64_t watermark = -60;
      for (size_t i = 0; i < input.size(); ++i) {
        h->Add(input[i].first, input[i].second);
        if (i % 25 == 24) {
          watermark += 12 + next(4);
          h->Watermark(watermark);
        }
        if (i == 300) {  // restore into a fresh operator halfway
          KeyedSnapshot snap = h->Take();
          records.insert(records.end(), h->out.records.begin(), h->out.records.end());
          timestamps.insert(timestamps.end(), h->out.timestamps.begin(), h->out.timestamps.end());
          dropped += h->Dropped();
          auto side = h->out.side;
          h = std::make_unique<Harness<Click, Result>>(factory, &snap);
          h->timers.watermark = watermark;
          h->out.side = side;
        }
      }
      h->Watermark(kMaxWatermark);
      records.insert(records.end(), h->out.records.begin(), h->out.records.end());
      timestamps.insert(timestamps.end(), h->out.timestamps.begin(), h->out.timestamps.end());
      EXPECT_TRUE(h->timers.timers.empty());
      EXPECT_TRUE(h->Take().entries.empty());
      return std::make_tuple(records, timestamps, h->out.side["late"].size(),
                             dropped + h->Dropped());
    };
    uint64_t start_seed = seed;
    auto a = run(sliced);
    seed = start_seed;
    auto b = run(per_window);
    EXPECT_GT(std::get<0>(a).size(), 50u);
    EXPECT_EQ(std::get<0>(a), std::get<0>(b));
    EXPECT_EQ(std::get<1>(a), std::get<1>(b));
    EXPECT_EQ(std::get<2>(a), std::get<2>(b));
    EXPECT_EQ(std::get<3>(a), std::get<3>(b));
    if (c.size <= 10) {
      EXPECT_GT(std::get<2>(a) + std::get<3>(a), 0u);  // some were late
    }
  }
}

TEST(WindowOperator, StateInTheHostBackendGivesTheSameResultsAsOnTheHeap) {
  StreamEnvironment env({}, 1);
  auto sum = [](const Click& a, const Click& b) { return Click{a.user, a.value + b.value}; };
  std::vector<std::function<std::unique_ptr<StreamOperator>()>> factories;
  factories.push_back(CountPerWindow(TumblingEventTimeWindows::Of(milliseconds(10)), 5));
  factories.push_back(CountPerWindow(EventTimeSessionWindows::WithGap(milliseconds(7)), 3));
  factories.push_back(
      CountPerWindow(SlidingEventTimeWindows::Of(milliseconds(20), milliseconds(5)), 4));
  Clicks(env)
      .KeyBy(UserOf)
      .Window(EventTimeSessionWindows::WithGap(milliseconds(5)))
      .Trigger(CountTrigger::Of(2))
      .Evictor(TimeEvictor::Of(milliseconds(4)))
      .Process([] { return std::make_unique<SumAll>(); });
  factories.push_back(LastFactory(env));
  Clicks(env)
      .KeyBy(UserOf)
      .Window(TumblingEventTimeWindows::Of(milliseconds(10)))
      .Trigger(ContinuousEventTimeTrigger::Of(milliseconds(3)))
      .Reduce(sum, [] { return std::make_unique<SumAll>(/*per_window_state=*/true); });
  factories.push_back(LastFactory(env));
  for (size_t f = 0; f < factories.size(); ++f) {
    SCOPED_TRACE(f);
    std::vector<Result> results[2];
    for (bool in_backend : {false, true}) {
      auto h = std::make_unique<Harness<Click, Result>>(factories[f], nullptr, in_backend);
      std::vector<Result>& out = results[in_backend];
      int64_t watermark = -20;
      for (int i = 0; i < 200; ++i) {
        h->Add({"k" + std::to_string(i % 3), i % 7}, i / 2 - 10 + (i * 7919) % 13);
        if (i % 10 == 9) h->Watermark(watermark += 5);
        if (i == 100) {
          KeyedSnapshot snap = h->Take();
          out.insert(out.end(), h->out.records.begin(), h->out.records.end());
          h = std::make_unique<Harness<Click, Result>>(factories[f], &snap);
          h->timers.watermark = watermark;
        }
      }
      h->Watermark(kMaxWatermark);
      out.insert(out.end(), h->out.records.begin(), h->out.records.end());
      EXPECT_TRUE(h->timers.timers.empty());
      EXPECT_TRUE(h->StateIsEmpty());
    }
    EXPECT_GE(results[0].size(), 3u);
    EXPECT_EQ(results[0], results[1]);
  }
}

TEST(WindowOperator, WindowAllTakesAProcessAllWindowFunction) {
  class Users final : public ProcessAllWindowFunction<Click, std::string, TimeWindow> {
   public:
    void Process(Context& ctx, const std::vector<Click>& clicks,
                 Collector<std::string>& out) override {
      std::string users = std::to_string(ctx.Window().Start()) + ":";
      for (const Click& c : clicks) users += c.user;
      out.Collect(users);
    }
  };
  StreamEnvironment env({}, 2);
  Clicks(env)
      .WindowAll(SlidingEventTimeWindows::Of(milliseconds(10), milliseconds(5)))
      .Process([] { return std::make_unique<Users>(); }, "Users");
  EXPECT_EQ(env.nodes().back().name, "Users");
  EXPECT_EQ(env.nodes().back().max_parallelism, 1);
  Harness<Click, std::string> h(LastFactory(env));
  h.Add({"a"}, 1);
  h.Add({"b"}, 6);
  h.Watermark(14);
  EXPECT_EQ(h.out.records, (std::vector<std::string>{"-5:a", "0:ab", "5:b"}));
}

TEST(WindowOperator, ProcessingTimeSessionsAndSlidesFollowTheClock) {
  StreamEnvironment env({}, 1);
  Clicks(env)
      .KeyBy(UserOf)
      .Window(ProcessingTimeSessionWindows::WithGap(milliseconds(10)))
      .Aggregate([] { return std::make_unique<CountAgg>(); },
                 [] { return std::make_unique<EmitCount>(); });
  auto sessions = LastFactory(env);
  Clicks(env)
      .KeyBy(UserOf)
      .Window(SlidingProcessingTimeWindows::Of(milliseconds(10), milliseconds(5)))
      .Aggregate([] { return std::make_unique<CountAgg>(); },
                 [] { return std::make_unique<EmitCount>(); });
  auto sliding = LastFactory(env);

  Harness<Click, Result> s(sessions);
  s.Add({"a"}, kNoTimestamp);  // [0, 10)
  s.timers.AdvanceProcessingTime(5);
  s.Add({"a"}, kNoTimestamp);  // [5, 15): merged into [0, 15)
  s.timers.AdvanceProcessingTime(13);
  EXPECT_TRUE(s.out.records.empty());
  s.timers.AdvanceProcessingTime(14);
  EXPECT_EQ(s.out.records, (std::vector<Result>{{"a", 0, 15, 2}}));
  EXPECT_TRUE(s.timers.timers.empty());
  EXPECT_TRUE(s.StateIsEmpty());

  Harness<Click, Result> w(sliding);
  w.timers.now = 7;
  w.Add({"a"}, kNoTimestamp);
  w.timers.AdvanceProcessingTime(100);
  EXPECT_EQ(w.out.records, (std::vector<Result>{{"a", 0, 10, 1}, {"a", 5, 15, 1}}));
  EXPECT_TRUE(w.StateIsEmpty());
}

TEST(WindowOperator, BadDefinitionsAreJobDefinitionErrors) {
  StreamEnvironment env({}, 1);
  auto sessions =
      Clicks(env).KeyBy(UserOf).Window(EventTimeSessionWindows::WithGap(milliseconds(10)));
  EXPECT_NO_THROW(sessions.Trigger(CountTrigger::Of(2)));
  struct NoMerge : Trigger<Click, TimeWindow> {
    TriggerResult OnElement(const Click&, int64_t, const TimeWindow&,
                            TriggerContext<TimeWindow>&) override {
      return TriggerResult::kContinue;
    }
    TriggerResult OnEventTime(int64_t, const TimeWindow&, TriggerContext<TimeWindow>&) override {
      return TriggerResult::kContinue;
    }
    TriggerResult OnProcessingTime(int64_t, const TimeWindow&,
                                   TriggerContext<TimeWindow>&) override {
      return TriggerResult::kContinue;
    }
    void Clear(const TimeWindow&, TriggerContext<TimeWindow>&) override {}
  };
  EXPECT_THROW(sessions.Trigger(NoMerge{}), JobDefinitionError);
  EXPECT_THROW(sessions.AllowedLateness(milliseconds(-1)), JobDefinitionError);
  EXPECT_THROW(OutputTag<Click>(""), JobDefinitionError);
}

// Window and aggregate functions, like process functions, come as a factory, a std::unique_ptr
// or an object to copy; every form gives the same windows. The sliding assigner takes the sliced
// path for Reduce and Aggregate, the session assigner the per-window one.
TEST(WindowOperator, FunctionsAsAFactoryAUniquePtrOrAPrototypeGiveTheSameResults) {
  const std::vector<std::pair<Click, int64_t>> input = {
      {{"a", 1}, 1}, {{"b", 2}, 3}, {{"a", 4}, 7}, {{"a", 8}, 14}, {{"b", 16}, 30}};
  auto run = [&](std::function<std::unique_ptr<StreamOperator>()> factory) {
    Harness<Click, Result> h(std::move(factory));
    for (const auto& [click, ts] : input) h.Add(click, ts);
    h.Watermark(kMaxWatermark);
    return AsSet(h.out.records);
  };
  auto sum = [](const Click& a, const Click& b) { return Click{a.user, a.value + b.value}; };
  auto sliding = [] { return SlidingEventTimeWindows::Of(milliseconds(10), milliseconds(5)); };
  auto sessions = [] { return EventTimeSessionWindows::WithGap(milliseconds(5)); };

  // What each operator emits, by the first (factory) form; the others must match it.
  std::vector<std::vector<std::function<std::unique_ptr<StreamOperator>()>>> forms(4);
  for (int form = 0; form < 3; ++form) {
    StreamEnvironment env({}, 1);
    auto keyed = Clicks(env).KeyBy(UserOf);
    auto agg = [&](auto windowed) {
      if (form == 0) {
        windowed.Aggregate([] { return std::make_unique<CountAgg>(); },
                           [] { return std::make_unique<EmitCount>(); });
      } else if (form == 1) {
        windowed.Aggregate(std::make_unique<CountAgg>(), std::make_unique<EmitCount>());
      } else {
        windowed.Aggregate(CountAgg(), EmitCount());
      }
      return LastFactory(env);
    };
    forms[0].push_back(agg(keyed.Window(sliding())));
    forms[1].push_back(agg(keyed.Window(sessions())));
    auto process = [&](auto windowed) {
      if (form == 0) {
        windowed.Process([] { return std::make_unique<SumAll>(); });
      } else if (form == 1) {
        windowed.Process(std::make_unique<SumAll>());
      } else {
        windowed.Process(SumAll());
      }
      return LastFactory(env);
    };
    forms[2].push_back(process(keyed.Window(sessions())));
    auto reduce = [&](auto windowed) {
      if (form == 0) {
        windowed.Reduce(
            sum, [] { return std::make_unique<SumAll>(); }, "Reduce");
      } else if (form == 1) {
        windowed.Reduce(sum, std::make_unique<SumAll>(), "Reduce");
      } else {
        windowed.Reduce(sum, SumAll());
      }
      return LastFactory(env);
    };
    forms[3].push_back(reduce(keyed.Window(sliding())));
  }
  for (size_t op = 0; op < forms.size(); ++op) {
    const std::multiset<Result> expected = run(forms[op][0]);
    EXPECT_FALSE(expected.empty()) << op;
    for (int form = 1; form < 3; ++form) EXPECT_EQ(run(forms[op][form]), expected) << op;
  }
  // CountAgg sums the values per session (gap 5): a [1, 6), [7, 12), [14, 19); b [3, 8), [30, 35).
  EXPECT_EQ(
      run(forms[1][2]),
      (std::multiset<Result>{
          {"a", 1, 6, 1}, {"a", 7, 12, 4}, {"a", 14, 19, 8}, {"b", 3, 8, 2}, {"b", 30, 35, 16}}));

  // Aggregate with only the aggregate function, as a prototype.
  StreamEnvironment env({}, 1);
  Clicks(env).KeyBy(UserOf).Window(sessions()).Aggregate(CountAgg(), "Count");
  EXPECT_EQ(env.nodes().back().name, "Count");
  Harness<Click, int64_t> h(LastFactory(env));
  for (const auto& [click, ts] : input) h.Add(click, ts);
  h.Watermark(kMaxWatermark);
  EXPECT_EQ(std::multiset<int64_t>(h.out.records.begin(), h.out.records.end()),
            (std::multiset<int64_t>{1, 4, 8, 2, 16}));
}

}  // namespace
}  // namespace sluice
