// Window logic without an operator: assigners (incl. negative timestamps and offsets, and bad
// input), triggers against a fake TriggerContext, evictors, and MergingWindowSet.
#include "sluice/windows.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sluice/evictors.h"
#include "sluice/internal/merging_window_set.h"
#include "sluice/state.h"
#include "sluice/triggers.h"
#include "sluice/window_assigners.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

template <typename A>
std::vector<TimeWindow> Assign(const A& assigner, int64_t ts, int64_t now = 0) {
  std::vector<TimeWindow> out;
  assigner.AssignWindows(0, ts, now, out);
  return out;
}

TEST(TimeWindow, StartWithOffsetHandlesNegativeRemainders) {
  EXPECT_EQ(TimeWindow::GetWindowStartWithOffset(7, 0, 5), 5);
  EXPECT_EQ(TimeWindow::GetWindowStartWithOffset(5, 0, 5), 5);
  EXPECT_EQ(TimeWindow::GetWindowStartWithOffset(-1, 0, 5), -5);
  EXPECT_EQ(TimeWindow::GetWindowStartWithOffset(-5, 0, 5), -5);
  EXPECT_EQ(TimeWindow::GetWindowStartWithOffset(-6, 0, 5), -10);
  EXPECT_EQ(TimeWindow::GetWindowStartWithOffset(1, 2, 5), -3);
  EXPECT_EQ(TimeWindow::GetWindowStartWithOffset(1, -2, 5), -2);
  EXPECT_EQ(TimeWindow(0, 10).MaxTimestamp(), 9);
}

TEST(TumblingEventTimeWindows, AssignsOneWindowHoldingTheTimestamp) {
  auto w = TumblingEventTimeWindows::Of(seconds(10));
  EXPECT_TRUE(w.IsEventTime());
  EXPECT_EQ(Assign(w, 0), (std::vector<TimeWindow>{{0, 10000}}));
  EXPECT_EQ(Assign(w, 9999), (std::vector<TimeWindow>{{0, 10000}}));
  EXPECT_EQ(Assign(w, 10000), (std::vector<TimeWindow>{{10000, 20000}}));
  EXPECT_EQ(Assign(w, -1), (std::vector<TimeWindow>{{-10000, 0}}));
  EXPECT_EQ(Assign(w, -10000), (std::vector<TimeWindow>{{-10000, 0}}));
  EXPECT_EQ(Assign(w, -10001), (std::vector<TimeWindow>{{-20000, -10000}}));
}

TEST(TumblingEventTimeWindows, OffsetsShiftTheWindowsEitherWay) {
  auto plus = TumblingEventTimeWindows::Of(milliseconds(10), milliseconds(3));
  EXPECT_EQ(Assign(plus, 2), (std::vector<TimeWindow>{{-7, 3}}));
  EXPECT_EQ(Assign(plus, 3), (std::vector<TimeWindow>{{3, 13}}));
  EXPECT_EQ(Assign(plus, -8), (std::vector<TimeWindow>{{-17, -7}}));
  auto minus = TumblingEventTimeWindows::Of(milliseconds(10), milliseconds(-3));
  EXPECT_EQ(Assign(minus, 6), (std::vector<TimeWindow>{{-3, 7}}));
  EXPECT_EQ(Assign(minus, 7), (std::vector<TimeWindow>{{7, 17}}));
  EXPECT_EQ(Assign(minus, -4), (std::vector<TimeWindow>{{-13, -3}}));
}

TEST(TumblingEventTimeWindows, BadInputIsAJobDefinitionError) {
  EXPECT_THROW(TumblingEventTimeWindows::Of(milliseconds(0)), JobDefinitionError);
  EXPECT_THROW(TumblingEventTimeWindows::Of(milliseconds(-5)), JobDefinitionError);
  EXPECT_THROW(TumblingEventTimeWindows::Of(milliseconds(10), milliseconds(10)),
               JobDefinitionError);
  EXPECT_THROW(TumblingEventTimeWindows::Of(milliseconds(10), milliseconds(-10)),
               JobDefinitionError);
  EXPECT_NO_THROW(TumblingEventTimeWindows::Of(milliseconds(10), milliseconds(-9)));
}

TEST(TumblingProcessingTimeWindows, UsesTheProcessingTime) {
  auto w = TumblingProcessingTimeWindows::Of(milliseconds(10));
  EXPECT_FALSE(w.IsEventTime());
  EXPECT_EQ(Assign(w, kNoTimestamp, 25), (std::vector<TimeWindow>{{20, 30}}));
}

TEST(SlidingEventTimeWindows, AssignsSizeOverSlideWindowsNewestFirst) {
  auto w = SlidingEventTimeWindows::Of(milliseconds(10), milliseconds(5));
  EXPECT_EQ(Assign(w, 7), (std::vector<TimeWindow>{{5, 15}, {0, 10}}));
  EXPECT_EQ(Assign(w, 5), (std::vector<TimeWindow>{{5, 15}, {0, 10}}));
  EXPECT_EQ(Assign(w, 4), (std::vector<TimeWindow>{{0, 10}, {-5, 5}}));
  EXPECT_EQ(Assign(w, -1), (std::vector<TimeWindow>{{-5, 5}, {-10, 0}}));
  auto thirds = SlidingEventTimeWindows::Of(milliseconds(9), milliseconds(3), milliseconds(1));
  EXPECT_EQ(Assign(thirds, 0), (std::vector<TimeWindow>{{-2, 7}, {-5, 4}, {-8, 1}}));
  auto sixty = SlidingEventTimeWindows::Of(seconds(60), seconds(1));
  EXPECT_EQ(Assign(sixty, 123456).size(), 60u);
  for (const TimeWindow& tw : Assign(sixty, -123456)) {
    EXPECT_LE(tw.Start(), -123456);
    EXPECT_GT(tw.End(), -123456);
  }
  // Slide == size is tumbling.
  auto same = SlidingEventTimeWindows::Of(milliseconds(10), milliseconds(10));
  EXPECT_EQ(Assign(same, -3), (std::vector<TimeWindow>{{-10, 0}}));
}

TEST(SlidingEventTimeWindows, BadInputIsAJobDefinitionError) {
  EXPECT_THROW(SlidingEventTimeWindows::Of(milliseconds(0), milliseconds(1)), JobDefinitionError);
  EXPECT_THROW(SlidingEventTimeWindows::Of(milliseconds(10), milliseconds(0)), JobDefinitionError);
  EXPECT_THROW(SlidingEventTimeWindows::Of(milliseconds(10), milliseconds(-1)), JobDefinitionError);
  EXPECT_THROW(SlidingEventTimeWindows::Of(milliseconds(10), milliseconds(11)), JobDefinitionError);
  EXPECT_THROW(SlidingEventTimeWindows::Of(milliseconds(10), milliseconds(5), milliseconds(5)),
               JobDefinitionError);
  EXPECT_THROW(SlidingEventTimeWindows::Of(milliseconds(10), milliseconds(5), milliseconds(-5)),
               JobDefinitionError);
}

TEST(EventTimeSessionWindows, AssignsTimestampPlusGapAndMergesOverlaps) {
  auto w = EventTimeSessionWindows::WithGap(milliseconds(10));
  EXPECT_TRUE(decltype(w)::kMerging);
  EXPECT_EQ(Assign(w, -5), (std::vector<TimeWindow>{{-5, 5}}));
  std::vector<std::pair<std::vector<TimeWindow>, TimeWindow>> merges;
  decltype(w)::MergeWindows({{20, 30}, {0, 10}, {10, 15}, {40, 50}, {45, 46}, {60, 70}},
                            [&](const std::vector<TimeWindow>& m, const TimeWindow& cover) {
                              merges.push_back({m, cover});
                            });
  ASSERT_EQ(merges.size(), 2u);
  EXPECT_EQ(merges[0].second, TimeWindow(0, 15));
  EXPECT_EQ(merges[0].first, (std::vector<TimeWindow>{{0, 10}, {10, 15}}));
  EXPECT_EQ(merges[1].second, TimeWindow(40, 50));
}

TEST(EventTimeSessionWindows, DynamicGapsAndBadGaps) {
  auto w = EventTimeSessionWindows::WithDynamicGap([](const int& v) { return milliseconds(v); });
  std::vector<TimeWindow> out;
  w.AssignWindows(7, 100, 0, out);
  EXPECT_EQ(out, (std::vector<TimeWindow>{{100, 107}}));
  EXPECT_THROW(w.AssignWindows(0, 100, 0, out), std::runtime_error);
  EXPECT_THROW(EventTimeSessionWindows::WithGap(milliseconds(0)), JobDefinitionError);
  EXPECT_THROW(EventTimeSessionWindows::WithGap(milliseconds(-1)), JobDefinitionError);
  EXPECT_THROW(ProcessingTimeSessionWindows::WithGap(milliseconds(0)), JobDefinitionError);
}

TEST(GlobalWindows, OneWindowThatNeverEnds) {
  std::vector<GlobalWindow> out;
  GlobalWindows::Create().AssignWindows(1, 5, 0, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].MaxTimestamp(), INT64_MAX);
}

// ---- triggers ----

class FreshInit final : public InitContext {
 public:
  bool IsRestored() const override { return false; }
  int MaxParallelism() const override { return 128; }
  std::vector<std::string> OperatorState(const std::string&) const override { return {}; }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>&) const override {}
  KeyedStateBackend* KeyedBackend() override { return nullptr; }
};

//! A TriggerContext over a heap store (one key), recording the timers asked for.
class FakeTriggerContext final : public OnMergeContext<TimeWindow> {
 public:
  FakeTriggerContext() {
    store_.Initialize(init_);
    store_.SetCurrentKey(1);
  }
  int64_t CurrentWatermark() const override { return watermark; }
  int64_t CurrentProcessingTime() const override { return now; }
  void RegisterEventTimeTimer(int64_t t) override { event_timers.insert({window, t}); }
  void DeleteEventTimeTimer(int64_t t) override { event_timers.erase({window, t}); }
  void RegisterProcessingTimeTimer(int64_t t) override { proc_timers.insert({window, t}); }
  void DeleteProcessingTimeTimer(int64_t t) override { proc_timers.erase({window, t}); }
  const std::vector<TimeWindow>& MergedWindows() const override { return merged; }

  TimeWindow window;
  std::vector<TimeWindow> merged;
  int64_t watermark = kNoTimestamp;
  int64_t now = 0;
  std::set<std::pair<TimeWindow, int64_t>> event_timers, proc_timers;

 protected:
  Namespaced<ValueState<std::string>, TimeWindow> RawState(const std::string& name) override {
    auto s = store_.GetValueState<std::string, TimeWindow>(name);
    s.SetCurrentNamespace(window);
    return s;
  }

 private:
  FreshInit init_;
  KeyedStateStore<int> store_;
};

template <typename Tr>
TriggerAdapter<int, TimeWindow, Tr> Adapt(Tr t) {
  return TriggerAdapter<int, TimeWindow, Tr>(t);
}

TEST(EventTimeTrigger, FiresAtTheWindowEndAndAtOnceWhenLate) {
  auto t = Adapt(EventTimeTrigger::Create());
  FakeTriggerContext ctx;
  TimeWindow w(0, 10);
  ctx.window = w;
  EXPECT_EQ(t.OnElement(1, 3, w, ctx), TriggerResult::kContinue);
  EXPECT_EQ(ctx.event_timers.count({w, 9}), 1u);
  EXPECT_EQ(t.OnEventTime(8, w, ctx), TriggerResult::kContinue);
  EXPECT_EQ(t.OnEventTime(9, w, ctx), TriggerResult::kFire);
  EXPECT_EQ(t.OnProcessingTime(9, w, ctx), TriggerResult::kContinue);
  ctx.watermark = 9;  // a late element within the allowed lateness fires again
  EXPECT_EQ(t.OnElement(1, 3, w, ctx), TriggerResult::kFire);
  t.Clear(w, ctx);
  EXPECT_TRUE(ctx.event_timers.empty());
  // Merging registers the merged window's end unless the watermark is past it.
  EXPECT_TRUE(t.CanMerge());
  ctx.window = TimeWindow(0, 20);
  t.OnMerge(ctx.window, ctx);
  EXPECT_EQ(ctx.event_timers.count({TimeWindow(0, 20), 19}), 1u);
  ctx.watermark = 30;
  ctx.window = TimeWindow(0, 25);
  t.OnMerge(ctx.window, ctx);
  EXPECT_EQ(ctx.event_timers.size(), 1u);
}

TEST(ProcessingTimeTrigger, FiresOnItsProcessingTimeTimer) {
  auto t = Adapt(ProcessingTimeTrigger::Create());
  FakeTriggerContext ctx;
  TimeWindow w(0, 10);
  ctx.window = w;
  EXPECT_EQ(t.OnElement(1, kNoTimestamp, w, ctx), TriggerResult::kContinue);
  EXPECT_EQ(ctx.proc_timers.count({w, 9}), 1u);
  EXPECT_EQ(t.OnEventTime(9, w, ctx), TriggerResult::kContinue);
  EXPECT_EQ(t.OnProcessingTime(9, w, ctx), TriggerResult::kFire);
  t.Clear(w, ctx);
  EXPECT_TRUE(ctx.proc_timers.empty());
}

TEST(CountTrigger, FiresEveryNElementsPerWindowAndMergesCounts) {
  auto t = Adapt(CountTrigger::Of(3));
  FakeTriggerContext ctx;
  TimeWindow a(0, 10), b(10, 20);
  for (int round = 0; round < 2; ++round) {
    ctx.window = a;
    EXPECT_EQ(t.OnElement(1, 0, a, ctx), TriggerResult::kContinue);
    EXPECT_EQ(t.OnElement(1, 0, a, ctx), TriggerResult::kContinue);
    ctx.window = b;
    EXPECT_EQ(t.OnElement(1, 0, b, ctx), TriggerResult::kContinue);
    ctx.window = a;
    EXPECT_EQ(t.OnElement(1, 0, a, ctx), TriggerResult::kFire);
  }
  // b has 1; a fresh c gets 1; merging both into [0, 30) counts 2, so one more fires.
  TimeWindow c(20, 30), merged(10, 30);
  ctx.window = c;
  EXPECT_EQ(t.OnElement(1, 0, c, ctx), TriggerResult::kContinue);
  ctx.window = merged;
  ctx.merged = {b, c};
  t.OnMerge(merged, ctx);
  EXPECT_EQ(t.OnElement(1, 0, merged, ctx), TriggerResult::kFire);
  ctx.window = b;  // merged-away windows have no count left
  EXPECT_EQ(t.OnElement(1, 0, b, ctx), TriggerResult::kContinue);
  t.Clear(b, ctx);
  EXPECT_EQ(t.OnElement(1, 0, b, ctx), TriggerResult::kContinue);
  EXPECT_EQ(t.OnElement(1, 0, b, ctx), TriggerResult::kContinue);
  EXPECT_EQ(t.OnElement(1, 0, b, ctx), TriggerResult::kFire);
  EXPECT_THROW(CountTrigger::Of(0), JobDefinitionError);
}

TEST(PurgingTrigger, TurnsEveryFireIntoFireAndPurge) {
  auto t = Adapt(PurgingTrigger::Of(CountTrigger::Of(2)));
  FakeTriggerContext ctx;
  TimeWindow w(0, 10);
  ctx.window = w;
  EXPECT_EQ(t.OnElement(1, 0, w, ctx), TriggerResult::kContinue);
  EXPECT_EQ(t.OnElement(1, 0, w, ctx), TriggerResult::kFireAndPurge);
  auto e = Adapt(PurgingTrigger::Of(EventTimeTrigger::Create()));
  EXPECT_EQ(e.OnEventTime(9, w, ctx), TriggerResult::kFireAndPurge);
  EXPECT_EQ(e.OnEventTime(8, w, ctx), TriggerResult::kContinue);
  EXPECT_TRUE(e.CanMerge());
}

TEST(ContinuousEventTimeTrigger, FiresEveryIntervalAlignedAndAtTheEnd) {
  auto t = Adapt(ContinuousEventTimeTrigger::Of(milliseconds(10)));
  FakeTriggerContext ctx;
  TimeWindow w(0, 35);
  ctx.window = w;
  EXPECT_EQ(t.OnElement(1, 13, w, ctx), TriggerResult::kContinue);
  // The window's end, and the first aligned interval after the element: 10 + 10.
  EXPECT_EQ(ctx.event_timers, (std::set<std::pair<TimeWindow, int64_t>>{{w, 34}, {w, 20}}));
  EXPECT_EQ(t.OnElement(1, 17, w, ctx), TriggerResult::kContinue);
  EXPECT_EQ(ctx.event_timers.size(), 2u);
  EXPECT_EQ(t.OnEventTime(20, w, ctx), TriggerResult::kFire);
  EXPECT_EQ(ctx.event_timers.count({w, 30}), 1u);
  EXPECT_EQ(t.OnEventTime(30, w, ctx), TriggerResult::kFire);
  // The next one is capped at the window's end.
  EXPECT_EQ(ctx.event_timers.count({w, 34}), 1u);
  EXPECT_EQ(t.OnEventTime(34, w, ctx), TriggerResult::kFire);
  EXPECT_EQ(t.OnEventTime(25, w, ctx), TriggerResult::kContinue);
  t.Clear(w, ctx);
  ctx.watermark = 40;
  EXPECT_EQ(t.OnElement(1, 13, w, ctx), TriggerResult::kFire);
  EXPECT_THROW(ContinuousEventTimeTrigger::Of(milliseconds(0)), JobDefinitionError);
}

// ---- evictors ----

class FakeEvictorContext final : public EvictorContext {
 public:
  int64_t CurrentProcessingTime() const override { return 0; }
  int64_t CurrentWatermark() const override { return 0; }
};

std::vector<TimestampedValue<int>> Elements(std::vector<int64_t> timestamps) {
  std::vector<TimestampedValue<int>> out;
  for (size_t i = 0; i < timestamps.size(); ++i) {
    out.push_back({static_cast<int>(i), timestamps[i]});
  }
  return out;
}

std::vector<int> Values(const std::vector<TimestampedValue<int>>& v) {
  std::vector<int> out;
  for (const auto& e : v) out.push_back(e.value);
  return out;
}

TEST(CountEvictor, KeepsTheNewestNBeforeOrAfter) {
  EvictorAdapter<int, TimeWindow, CountEvictor> before(CountEvictor::Of(2));
  FakeEvictorContext ctx;
  auto e = Elements({1, 2, 3, 4});
  before.EvictAfter(e, 4, TimeWindow(0, 10), ctx);
  EXPECT_EQ(e.size(), 4u);
  before.EvictBefore(e, 4, TimeWindow(0, 10), ctx);
  EXPECT_EQ(Values(e), (std::vector<int>{2, 3}));
  EvictorAdapter<int, TimeWindow, CountEvictor> after(CountEvictor::Of(3, true));
  e = Elements({1, 2, 3, 4});
  after.EvictBefore(e, 4, TimeWindow(0, 10), ctx);
  EXPECT_EQ(e.size(), 4u);
  after.EvictAfter(e, 4, TimeWindow(0, 10), ctx);
  EXPECT_EQ(Values(e), (std::vector<int>{1, 2, 3}));
}

TEST(TimeEvictor, KeepsWhatIsWithinTheSizeOfTheNewest) {
  EvictorAdapter<int, TimeWindow, TimeEvictor> ev(TimeEvictor::Of(milliseconds(5)));
  FakeEvictorContext ctx;
  auto e = Elements({10, 3, 12, 7, 8});
  ev.EvictBefore(e, 5, TimeWindow(0, 20), ctx);  // cutoff 12 - 5 = 7: keep > 7
  EXPECT_EQ(Values(e), (std::vector<int>{0, 2, 4}));
  auto none = Elements({kNoTimestamp, kNoTimestamp});
  ev.EvictBefore(none, 2, TimeWindow(0, 20), ctx);
  EXPECT_EQ(none.size(), 2u);
}

// ---- MergingWindowSet ----

using Set = internal::MergingWindowSet<TimeWindow>;
struct Merge {
  TimeWindow result;
  std::vector<TimeWindow> merged;
  TimeWindow state_result;
  std::vector<TimeWindow> merged_state;
};

Set NewSet(const std::vector<std::pair<TimeWindow, TimeWindow>>& restored = {}) {
  return Set(&TimeWindow::MergeWindows, restored);
}

TimeWindow Add(Set& set, TimeWindow w, std::vector<Merge>* merges) {
  return set.AddWindow(w, [&](const TimeWindow& r, const std::vector<TimeWindow>& m,
                              const TimeWindow& sr, const std::vector<TimeWindow>& ms) {
    merges->push_back({r, m, sr, ms});
  });
}

TEST(MergingWindowSet, KeepsAStateWindowThroughMerges) {
  Set set = NewSet();
  std::vector<Merge> merges;
  EXPECT_EQ(Add(set, TimeWindow(0, 10), &merges), TimeWindow(0, 10));
  EXPECT_EQ(Add(set, TimeWindow(20, 30), &merges), TimeWindow(20, 30));
  EXPECT_TRUE(merges.empty());
  EXPECT_EQ(*set.GetStateWindow(TimeWindow(0, 10)), TimeWindow(0, 10));
  // Inside an existing window: no merge, no new state.
  EXPECT_EQ(Add(set, TimeWindow(2, 5), &merges), TimeWindow(0, 10));
  EXPECT_TRUE(merges.empty());
  EXPECT_EQ(set.size(), 2u);
  // Extending one window: the result keeps its state window, nothing to merge into it.
  EXPECT_EQ(Add(set, TimeWindow(8, 15), &merges), TimeWindow(0, 15));
  ASSERT_EQ(merges.size(), 1u);
  EXPECT_EQ(merges[0].merged, (std::vector<TimeWindow>{{0, 10}}));
  EXPECT_EQ(merges[0].state_result, TimeWindow(0, 10));
  EXPECT_TRUE(merges[0].merged_state.empty());
  EXPECT_EQ(*set.GetStateWindow(TimeWindow(0, 15)), TimeWindow(0, 10));
  EXPECT_EQ(set.GetStateWindow(TimeWindow(0, 10)), nullptr);
  // Bridging two windows: one state window is merged into the other.
  merges.clear();
  EXPECT_EQ(Add(set, TimeWindow(14, 21), &merges), TimeWindow(0, 30));
  ASSERT_EQ(merges.size(), 1u);
  EXPECT_EQ(merges[0].result, TimeWindow(0, 30));
  EXPECT_EQ(merges[0].merged, (std::vector<TimeWindow>{{0, 15}, {20, 30}}));
  EXPECT_EQ(merges[0].state_result, TimeWindow(0, 10));
  EXPECT_EQ(merges[0].merged_state, (std::vector<TimeWindow>{{20, 30}}));
  EXPECT_EQ(set.size(), 1u);
  // It survives a round trip through its entries (keyed state), and retires.
  EXPECT_TRUE(set.Changed());
  Set again = NewSet(set.Entries());
  EXPECT_FALSE(again.Changed());
  EXPECT_EQ(*again.GetStateWindow(TimeWindow(0, 30)), TimeWindow(0, 10));
  again.RetireWindow(TimeWindow(0, 30));
  EXPECT_EQ(again.size(), 0u);
  EXPECT_THROW(again.RetireWindow(TimeWindow(0, 30)), std::logic_error);
}

}  // namespace
}  // namespace sluice
