// Watermark strategies, generators, idleness, the multiplexer of a source's splits, and the
// operator that assigns timestamps and watermarks, against in-test doubles of the host: a clock
// the test advances, and processing-time callbacks the test runs when it advances it.
#include "sluice/watermarks.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/datastream.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Log = std::vector<std::string>;

struct Click {
  std::string user;
  int64_t ts = 0;
  SLUICE_FIELDS(user, ts)
};

// ---- test doubles ----

//! Logs what a generator emits, unfiltered.
class LoggingWatermarkOutput final : public WatermarkOutput {
 public:
  void EmitWatermark(int64_t watermark) override {
    log.push_back("wm " + std::to_string(watermark));
  }
  void MarkIdle() override { log.push_back("idle"); }
  void MarkActive() override { log.push_back("active"); }
  Log log;
};

using testing::FakeRuntimeContext;

//! Logs records (with the timestamp they carry), watermarks and statuses, in order.
class LoggingOutput final : public Output {
 public:
  explicit LoggingOutput(const RuntimeContext* ctx) : ctx_(ctx) {}
  void Emit(const void* record) override {
    const Click& c = *static_cast<const Click*>(record);
    log.push_back("rec " + c.user + " @" + std::to_string(ctx_->CurrentTimestamp()));
  }
  void EmitWatermark(int64_t watermark) override {
    log.push_back("wm " + std::to_string(watermark));
  }
  void EmitWatermarkStatus(bool idle) override { log.push_back(idle ? "idle" : "active"); }
  Log log;

 private:
  const RuntimeContext* ctx_;
};

//! Emits a watermark at every event whose user is "mark" (a punctuated generator).
class PunctuatedGenerator final : public WatermarkGenerator<Click> {
 public:
  void OnEvent(const Click& c, int64_t timestamp, WatermarkOutput& out) override {
    if (c.user == "mark") out.EmitWatermark(timestamp);
  }
  void OnPeriodicEmit(WatermarkOutput&) override {}
};

Log Periodic(WatermarkGenerator<Click>& g) {
  LoggingWatermarkOutput out;
  g.OnPeriodicEmit(out);
  return out.log;
}

void Event(WatermarkGenerator<Click>& g, int64_t timestamp) {
  LoggingWatermarkOutput out;
  g.OnEvent(Click{"u", timestamp}, timestamp, out);
}

// ---- generators ----

TEST(BoundedOutOfOrdernessWatermarks, WatermarkIsMaxTimestampMinusBoundMinusOne) {
  BoundedOutOfOrdernessWatermarks<Click> g(5000);
  Event(g, 10000);
  Event(g, 7000);
  Event(g, 12000);
  EXPECT_EQ(Periodic(g), Log{"wm 6999"});
  Event(g, 3000);  // late: does not move it back
  EXPECT_EQ(Periodic(g), Log{"wm 6999"});
}

TEST(BoundedOutOfOrdernessWatermarks, StartsAtInt64MinWithoutUnderflow) {
  for (int64_t bound : {int64_t{0}, int64_t{5000}, INT64_MAX - 1, INT64_MAX}) {
    BoundedOutOfOrdernessWatermarks<Click> g(bound);
    EXPECT_EQ(Periodic(g), Log{"wm " + std::to_string(INT64_MIN)}) << bound;
    Event(g, INT64_MIN);  // a record without a timestamp
    EXPECT_EQ(Periodic(g), Log{"wm " + std::to_string(INT64_MIN)}) << bound;
  }
}

TEST(BoundedOutOfOrdernessWatermarks, TimestampsAtTheEdgesOfTheRange) {
  BoundedOutOfOrdernessWatermarks<Click> g(10);
  Event(g, INT64_MIN + 5);  // below the start value: no change
  EXPECT_EQ(Periodic(g), Log{"wm " + std::to_string(INT64_MIN)});
  Event(g, INT64_MIN + 20);
  EXPECT_EQ(Periodic(g), Log{"wm " + std::to_string(INT64_MIN + 9)});
  Event(g, INT64_MAX);
  EXPECT_EQ(Periodic(g), Log{"wm " + std::to_string(INT64_MAX - 11)});
}

TEST(BoundedOutOfOrdernessWatermarks, MonotonousTrailsTheLargestTimestampByOne) {
  AscendingTimestampsWatermarks<Click> g;
  Event(g, 100);
  EXPECT_EQ(Periodic(g), Log{"wm 99"});
}

// ---- idleness ----

TEST(WatermarksWithIdleness, IdleAfterTheTimeoutWithoutEventsThenActiveOnAnEvent) {
  int64_t now = 1000;
  WatermarksWithIdleness<Click> g(std::make_unique<BoundedOutOfOrdernessWatermarks<Click>>(0),
                                  60000, [&now] { return now; });
  LoggingWatermarkOutput out;
  g.OnEvent(Click{"a", 500}, 500, out);
  g.OnPeriodicEmit(out);  // activity since the last check
  now = 2000;
  g.OnPeriodicEmit(out);  // no activity: the timer starts at 2000
  now = 62000;
  g.OnPeriodicEmit(out);  // exactly the timeout: not yet
  EXPECT_EQ(out.log, (Log{"wm 499", "wm 499", "wm 499"}));
  out.log.clear();
  now = 62001;
  g.OnPeriodicEmit(out);
  now = 70000;
  g.OnPeriodicEmit(out);  // stays idle, said once
  EXPECT_EQ(out.log, Log{"idle"});
  out.log.clear();
  g.OnEvent(Click{"b", 800}, 800, out);
  g.OnPeriodicEmit(out);
  EXPECT_EQ(out.log, (Log{"active", "wm 799"}));
}

TEST(WatermarksWithIdleness, AnEventBetweenChecksRestartsTheTimer) {
  int64_t now = 0;  // a clock at 0 must work (no 0 sentinel)
  WatermarksWithIdleness<Click> g(std::make_unique<NoWatermarksGenerator<Click>>(), 100,
                                  [&now] { return now; });
  LoggingWatermarkOutput out;
  g.OnPeriodicEmit(out);  // timer starts at 0
  now = 90;
  g.OnEvent(Click{"a", 1}, 1, out);
  now = 150;
  g.OnPeriodicEmit(out);  // activity: reset
  now = 200;
  g.OnPeriodicEmit(out);  // timer starts at 200
  now = 300;
  g.OnPeriodicEmit(out);
  EXPECT_TRUE(out.log.empty());
  now = 301;
  g.OnPeriodicEmit(out);
  EXPECT_EQ(out.log, Log{"idle"});
}

// ---- the emitter onto an operator's Output ----

TEST(WatermarkEmitter, ForwardsOnlyAdvancingWatermarksAndStatusChanges) {
  FakeRuntimeContext ctx;
  LoggingOutput out(&ctx);
  WatermarkEmitter e(&out);
  e.EmitWatermark(10);
  e.EmitWatermark(10);
  e.EmitWatermark(5);
  e.MarkActive();  // already active
  e.MarkIdle();
  e.MarkIdle();
  e.EmitWatermark(9);   // not advancing: still idle
  e.EmitWatermark(11);  // advancing: active again
  EXPECT_EQ(out.log, (Log{"wm 10", "idle", "active", "wm 11"}));
  EXPECT_EQ(e.current_watermark(), 11);
}

// ---- the strategy ----

WatermarkClock NoClock() {
  return [] { return int64_t{0}; };
}

Log PeriodicAfter(const WatermarkStrategy<Click>& s, std::vector<int64_t> timestamps) {
  auto g = s.CreateWatermarkGenerator(NoClock());
  for (int64_t t : timestamps) Event(*g, t);
  return Periodic(*g);
}

TEST(WatermarkStrategy, BuildersMakeTheirGenerators) {
  EXPECT_EQ(PeriodicAfter(WatermarkStrategy<Click>::ForBoundedOutOfOrderness(seconds(5)), {10000}),
            Log{"wm 4999"});
  EXPECT_EQ(PeriodicAfter(WatermarkStrategy<Click>::ForMonotonousTimestamps(), {10000}),
            Log{"wm 9999"});
  EXPECT_TRUE(PeriodicAfter(WatermarkStrategy<Click>::NoWatermarks(), {10000}).empty());
  auto punctuated = WatermarkStrategy<Click>::ForGenerator(
      [] { return std::make_unique<PunctuatedGenerator>(); });
  auto g = punctuated.CreateWatermarkGenerator(NoClock());
  LoggingWatermarkOutput out;
  g->OnEvent(Click{"x", 5}, 5, out);
  g->OnEvent(Click{"mark", 7}, 7, out);
  EXPECT_EQ(out.log, Log{"wm 7"});
}

TEST(WatermarkStrategy, SubMillisecondOutOfOrdernessIsTruncated) {
  EXPECT_EQ(PeriodicAfter(
                WatermarkStrategy<Click>::ForBoundedOutOfOrderness(std::chrono::microseconds(2999)),
                {100}),
            Log{"wm 97"});
  EXPECT_EQ(PeriodicAfter(WatermarkStrategy<Click>::ForBoundedOutOfOrderness(
                              std::chrono::duration<double>(0.0025)),
                          {100}),
            Log{"wm 97"});
}

TEST(WatermarkStrategy, TimestampAssigners) {
  const Click c{"a", 42};
  auto none = WatermarkStrategy<Click>::NoWatermarks();
  EXPECT_EQ(none.CreateTimestampAssigner()(c, 7), 7);  // the record's own timestamp
  auto one = none.WithTimestampAssigner([](const Click& x) { return x.ts; });
  EXPECT_EQ(one.CreateTimestampAssigner()(c, 7), 42);
  auto two =
      none.WithTimestampAssigner([](const Click& x, int64_t previous) { return x.ts + previous; });
  EXPECT_EQ(two.CreateTimestampAssigner()(c, 7), 49);
  EXPECT_EQ(none.CreateTimestampAssigner()(c, 7), 7);  // builders copy
}

TEST(WatermarkStrategy, TheExampleChainIsCopyableAndEachCopyMakesFreshGenerators) {
  auto s = WatermarkStrategy<Click>::ForBoundedOutOfOrderness(seconds(5))
               .WithTimestampAssigner([](const Click& c) { return c.ts; })
               .WithIdleness(std::chrono::minutes(1));
  WatermarkStrategy<Click> copy = s;
  int64_t now = 0;
  auto g1 = s.CreateWatermarkGenerator([&now] { return now; });
  auto g2 = copy.CreateWatermarkGenerator([&now] { return now; });
  Event(*g1, 20000);
  EXPECT_EQ(Periodic(*g1), Log{"wm 14999"});
  EXPECT_EQ(Periodic(*g2), Log{"wm " + std::to_string(INT64_MIN)});
  // Idleness after a minute without events.
  EXPECT_EQ(Periodic(*g1), Log{"wm 14999"});
  now = 60001;
  EXPECT_EQ(Periodic(*g1), Log{"idle"});
  EXPECT_EQ(copy.CreateTimestampAssigner()(Click{"a", 3}, kNoTimestamp), 3);
}

TEST(WatermarkStrategy, AlignmentParametersAreKept) {
  auto s = WatermarkStrategy<Click>::ForMonotonousTimestamps();
  EXPECT_FALSE(s.AlignmentParameters().IsEnabled());
  auto a = s.WithWatermarkAlignment("clicks", seconds(20), milliseconds(500));
  EXPECT_TRUE(a.AlignmentParameters().IsEnabled());
  EXPECT_EQ(a.AlignmentParameters().group, "clicks");
  EXPECT_EQ(a.AlignmentParameters().max_drift_ms, 20000);
  EXPECT_EQ(a.AlignmentParameters().update_interval_ms, 500);
  auto d = s.WithWatermarkAlignment("g", std::chrono::minutes(1));
  EXPECT_EQ(d.AlignmentParameters().update_interval_ms, 1000);  // Flink's default
}

TEST(WatermarkStrategy, BadSettingsFailAtJobBuildTime) {
  using S = WatermarkStrategy<Click>;
  EXPECT_THROW(S::ForBoundedOutOfOrderness(milliseconds(-1)), JobDefinitionError);
  EXPECT_THROW(S::ForBoundedOutOfOrderness(std::chrono::duration<double>(-0.0001)),
               JobDefinitionError);
  EXPECT_THROW(S::ForBoundedOutOfOrderness(std::chrono::hours::max()), JobDefinitionError);
  EXPECT_NO_THROW(S::ForBoundedOutOfOrderness(milliseconds(0)));
  EXPECT_NO_THROW(S::ForBoundedOutOfOrderness(milliseconds::max()));
  const S s = S::ForMonotonousTimestamps();
  EXPECT_THROW(s.WithIdleness(seconds(0)), JobDefinitionError);
  EXPECT_THROW(s.WithIdleness(seconds(-5)), JobDefinitionError);
  EXPECT_THROW(s.WithWatermarkAlignment("g", seconds(0), seconds(1)), JobDefinitionError);
  EXPECT_THROW(s.WithWatermarkAlignment("g", seconds(-1)), JobDefinitionError);
  EXPECT_THROW(s.WithWatermarkAlignment("g", seconds(1), seconds(0)), JobDefinitionError);
  EXPECT_THROW(s.WithWatermarkAlignment("", seconds(1), seconds(1)), JobDefinitionError);
}

TEST(WatermarkStrategy, AssignTimestampsAndWatermarksAddsAChainableNode) {
  StreamEnvironment env({}, 1);
  auto clicks = env.AddSource<Click>([] { return std::make_unique<StreamOperator>(); }, "clicks")
                    .AssignTimestampsAndWatermarks(
                        WatermarkStrategy<Click>::ForMonotonousTimestamps().WithTimestampAssigner(
                            [](const Click& c) { return c.ts; }))
                    .Map([](const Click& c) { return c.ts; });
  env.Finalize();
  ASSERT_EQ(env.nodes().size(), 3u);
  const NodeSpec& n = env.nodes()[1];
  EXPECT_EQ(n.name, "Timestamps/Watermarks");
  EXPECT_TRUE(n.chainable);
  ASSERT_EQ(n.inputs.size(), 1u);
  EXPECT_EQ(n.inputs[0].kind, PartitionKind::kForward);
  auto op = n.factory();
  EXPECT_NE(dynamic_cast<TimestampsAndWatermarksOperator<Click>*>(op.get()), nullptr);
}

// ---- the multiplexer ----

TEST(WatermarkOutputMultiplexer, CombinedIsTheMinimumOverActiveOutputs) {
  LoggingWatermarkOutput under;
  WatermarkOutputMultiplexer m(under);
  m.RegisterNewOutput("a");
  m.RegisterNewOutput("b");
  m.GetImmediateOutput("a").EmitWatermark(10);  // b still at INT64_MIN
  EXPECT_TRUE(under.log.empty());
  m.GetImmediateOutput("b").EmitWatermark(5);
  m.GetImmediateOutput("b").EmitWatermark(20);
  m.GetImmediateOutput("a").EmitWatermark(8);  // a split never goes back
  m.GetImmediateOutput("a").EmitWatermark(30);
  EXPECT_EQ(under.log, (Log{"wm 5", "wm 10", "wm 20"}));
  EXPECT_EQ(m.combined_watermark(), 20);
}

TEST(WatermarkOutputMultiplexer, DeferredOutputsCombineOnPeriodicEmit) {
  LoggingWatermarkOutput under;
  WatermarkOutputMultiplexer m(under);
  m.RegisterNewOutput("a");
  m.RegisterNewOutput("b");
  m.GetDeferredOutput("a").EmitWatermark(10);
  m.GetDeferredOutput("b").EmitWatermark(12);
  EXPECT_TRUE(under.log.empty());
  m.OnPeriodicEmit();
  m.OnPeriodicEmit();
  EXPECT_EQ(under.log, Log{"wm 10"});
}

TEST(WatermarkOutputMultiplexer, IdleOutputsHoldNothingBackAndAllIdleIsIdle) {
  LoggingWatermarkOutput under;
  WatermarkOutputMultiplexer m(under);
  m.RegisterNewOutput("a");
  m.RegisterNewOutput("b");
  m.GetImmediateOutput("a").EmitWatermark(10);
  m.GetImmediateOutput("b").MarkIdle();  // b no longer holds a back
  m.GetImmediateOutput("a").MarkIdle();
  m.GetImmediateOutput("a").MarkIdle();
  EXPECT_TRUE(m.idle());
  m.GetImmediateOutput("b").MarkActive();       // at INT64_MIN: active, the combination stays at 10
  m.GetImmediateOutput("b").EmitWatermark(15);  // a is still idle: b alone decides
  m.GetImmediateOutput("a").EmitWatermark(12);  // ends a's idleness; the combination stays
  m.GetImmediateOutput("a").EmitWatermark(20);
  EXPECT_EQ(under.log, (Log{"wm 10", "idle", "active", "wm 15"}));
  EXPECT_EQ(m.combined_watermark(), 15);
  EXPECT_FALSE(m.idle());
  m.GetImmediateOutput("b").EmitWatermark(25);
  EXPECT_EQ(under.log.back(), "wm 20");
}

TEST(WatermarkOutputMultiplexer, UnregisteringTheLaggingOutputLetsTheWatermarkAdvance) {
  LoggingWatermarkOutput under;
  WatermarkOutputMultiplexer m(under);
  m.RegisterNewOutput("slow");
  m.RegisterNewOutput("fast");
  m.GetDeferredOutput("slow").EmitWatermark(5);
  m.GetDeferredOutput("fast").EmitWatermark(50);
  m.OnPeriodicEmit();
  EXPECT_TRUE(m.UnregisterOutput("slow"));
  EXPECT_FALSE(m.UnregisterOutput("slow"));
  EXPECT_FALSE(m.HasOutput("slow"));
  m.OnPeriodicEmit();
  EXPECT_EQ(under.log, (Log{"wm 5", "wm 50"}));
  // A split registered later starts below the combination, which does not go back.
  m.RegisterNewOutput("new");
  m.GetImmediateOutput("new").EmitWatermark(20);
  m.GetImmediateOutput("new").EmitWatermark(60);
  EXPECT_EQ(under.log, (Log{"wm 5", "wm 50"}));
  m.GetImmediateOutput("fast").EmitWatermark(70);
  EXPECT_EQ(under.log.back(), "wm 60");
}

TEST(WatermarkOutputMultiplexer, DuplicateOrUnknownIdsThrow) {
  LoggingWatermarkOutput under;
  WatermarkOutputMultiplexer m(under);
  m.RegisterNewOutput("a");
  EXPECT_THROW(m.RegisterNewOutput("a"), std::logic_error);
  EXPECT_THROW(m.GetImmediateOutput("b"), std::logic_error);
  EXPECT_THROW(m.GetDeferredOutput("b"), std::logic_error);
  m.OnPeriodicEmit();  // nothing registered emitted anything: no output
  EXPECT_TRUE(under.log.empty());
}

// ---- inside a source ----

TEST(SourceWatermarks, PerSplitGeneratorsCombineToTheMinimum) {
  FakeRuntimeContext ctx;
  LoggingOutput out(&ctx);
  SourceWatermarks<Click> w(WatermarkStrategy<Click>::ForBoundedOutOfOrderness(milliseconds(10))
                                .WithTimestampAssigner([](const Click& c) { return c.ts; }),
                            ctx, out, {"s0", "s1"});
  EXPECT_EQ(w.OnRecord("s0", Click{"a", 100}), 100);
  EXPECT_EQ(ctx.timestamp, 100);
  w.OnRecord("s1", Click{"b", 50});
  w.OnPeriodicEmit();
  w.OnRecord("s1", Click{"c", 500});
  w.OnPeriodicEmit();
  w.RemoveSplit("s0");
  w.OnPeriodicEmit();
  EXPECT_EQ(out.log, (Log{"rec a @100", "rec b @50", "wm 39", "rec c @500", "wm 89", "wm 489"}));
  EXPECT_THROW(w.OnRecord("s0", Click{"d", 1}), std::logic_error);
}

TEST(SourceWatermarks, AlignmentPausesTheSplitsAheadOfWhatTheGroupAllowsAndReports) {
  FakeRuntimeContext ctx;
  LoggingOutput out(&ctx);
  SourceWatermarks<Click> w(WatermarkStrategy<Click>::ForMonotonousTimestamps()
                                .WithTimestampAssigner([](const Click& c) { return c.ts; })
                                .WithWatermarkAlignment("g", milliseconds(50)),
                            ctx, out, {"fast", "slow"});
  ASSERT_TRUE(w.aligned());
  ctx.max_allowed = 120;
  w.OnRecord("fast", Click{"a", 200});
  w.OnRecord("slow", Click{"b", 100});
  EXPECT_FALSE(w.SplitPaused("fast"));  // watermarks are periodic: none yet
  w.OnPeriodicEmit();
  EXPECT_TRUE(w.SplitPaused("fast"));   // 199 > 120
  EXPECT_FALSE(w.SplitPaused("slow"));  // 99
  EXPECT_EQ(ctx.alignment_reports, (Log{"g drift 50 wm 99 paused 1"}));
  ctx.max_allowed = 199;  // the group caught up
  EXPECT_FALSE(w.SplitPaused("fast"));

  SourceWatermarks<Click> plain(WatermarkStrategy<Click>::ForMonotonousTimestamps(), ctx, out,
                                {"s"});
  plain.OnRecord("s", Click{"a", 500});
  plain.OnPeriodicEmit();
  EXPECT_FALSE(plain.aligned());
  EXPECT_FALSE(plain.SplitPaused("s"));
  EXPECT_EQ(ctx.alignment_reports.size(), 1u);  // only aligned sources report
}

TEST(SourceWatermarks, ReaderTimestampsPeriodicEmitAndIdleSplits) {
  FakeRuntimeContext ctx;
  LoggingOutput out(&ctx);
  SourceWatermarks<Click> w(
      WatermarkStrategy<Click>::ForMonotonousTimestamps().WithIdleness(milliseconds(300)), ctx,
      out);
  w.AddSplit("s0");
  w.AddSplit("s1");
  w.StartPeriodicEmit();
  w.OnRecord("s0", Click{"a", 0}, 1000);  // no assigner: the reader's timestamp
  w.OnRecord("s1", Click{"b", 0}, 2000);
  ctx.AdvanceTo(200);  // both had events
  EXPECT_EQ(out.log, (Log{"rec a @1000", "rec b @2000", "wm 999"}));
  EXPECT_EQ(ctx.split_reports.back(), "wm 999 held by 's0' idle");  // for sluice watermarks
  out.log.clear();
  w.OnRecord("s1", Click{"c", 0}, 3000);
  ctx.AdvanceTo(800);  // s0 idle after 400 + 300: s1 alone decides
  EXPECT_EQ(out.log, (Log{"rec c @3000", "wm 2999"}));
  EXPECT_EQ(ctx.split_reports.back(), "wm 2999 held by 's1' idle s0");
  out.log.clear();
  ctx.AdvanceTo(1400);  // s1 idle too
  EXPECT_EQ(out.log, Log{"idle"});
  EXPECT_TRUE(w.idle());
  EXPECT_EQ(ctx.split_reports.back(), "wm 2999 held by '' idle s0 s1");
  out.log.clear();
  w.OnRecord("s0", Click{"d", 0}, 1500);  // s0 active again, below the combination
  ctx.AdvanceTo(1600);
  EXPECT_EQ(out.log, (Log{"rec d @1500", "active"}));
}

// ---- the operator ----

struct Harness {
  explicit Harness(const WatermarkStrategy<Click>& s, int64_t interval_ms = 200) : out(&ctx) {
    ctx.interval_ms = interval_ms;
    op = std::make_unique<TimestampsAndWatermarksOperator<Click>>(s);
    op->Open(ctx, out);
  }
  void Record(const std::string& user, int64_t ts) {
    Click c{user, ts};
    op->ProcessRecord(&c);
  }
  FakeRuntimeContext ctx;
  LoggingOutput out;
  std::unique_ptr<TimestampsAndWatermarksOperator<Click>> op;
};

WatermarkStrategy<Click> ByTs(WatermarkStrategy<Click> s) {
  return s.WithTimestampAssigner([](const Click& c) { return c.ts; });
}

TEST(TimestampsAndWatermarksOperator, AssignsTimestampsAndEmitsWatermarksPeriodically) {
  Harness h(ByTs(WatermarkStrategy<Click>::ForBoundedOutOfOrderness(seconds(1))));
  ASSERT_EQ(h.ctx.scheduled.size(), 1u);
  EXPECT_EQ(h.ctx.scheduled[0].first, 200);
  h.Record("a", 5000);
  h.Record("b", 4000);
  h.ctx.AdvanceTo(200);
  h.ctx.AdvanceTo(400);  // unchanged: not repeated
  h.Record("c", 7000);
  h.ctx.AdvanceTo(650);
  EXPECT_EQ(h.out.log, (Log{"rec a @5000", "rec b @4000", "wm 3999", "rec c @7000", "wm 5999"}));
  EXPECT_EQ(h.op->current_watermark(), 5999);
  ASSERT_EQ(h.ctx.scheduled.size(), 1u);
  EXPECT_EQ(h.ctx.scheduled[0].first, 800);  // re-scheduled from when it ran (600)
}

TEST(TimestampsAndWatermarksOperator, WithoutAnAssignerTheRecordKeepsItsTimestamp) {
  Harness h(WatermarkStrategy<Click>::ForMonotonousTimestamps());
  h.ctx.timestamp = 1234;
  h.Record("a", 1);
  h.ctx.AdvanceTo(200);
  EXPECT_EQ(h.out.log, (Log{"rec a @1234", "wm 1233"}));
}

TEST(TimestampsAndWatermarksOperator, RecordsFromTheNetworkAreAssignedToo) {
  Harness h(ByTs(WatermarkStrategy<Click>::ForMonotonousTimestamps()));
  ByteWriter w;
  SerializeRecord(Click{"net", 77}, w);
  h.op->ProcessSerialized(w.data(), w.size());
  EXPECT_EQ(h.out.log, Log{"rec net @77"});
}

TEST(TimestampsAndWatermarksOperator, UpstreamWatermarksAreDroppedExceptTheMaximum) {
  Harness h(ByTs(WatermarkStrategy<Click>::ForMonotonousTimestamps()));
  h.Record("a", 100);
  h.op->ProcessWatermark(5000);
  h.op->ProcessWatermarkStatus(true);
  h.op->ProcessWatermarkStatus(false);
  h.ctx.AdvanceTo(200);
  h.op->ProcessWatermark(kMaxWatermark);
  h.op->ProcessWatermark(kMaxWatermark);
  h.Record("late", 50);
  h.ctx.AdvanceTo(400);
  EXPECT_EQ(h.out.log,
            (Log{"rec a @100", "wm 99", "wm " + std::to_string(kMaxWatermark), "rec late @50"}));
}

TEST(TimestampsAndWatermarksOperator, IdlenessBecomesWatermarkStatus) {
  Harness h(ByTs(WatermarkStrategy<Click>::ForMonotonousTimestamps().WithIdleness(seconds(1))));
  h.Record("a", 100);
  h.ctx.AdvanceTo(2000);  // checks at 200 (activity), 400 (timer starts), idle after 1400
  EXPECT_EQ(h.out.log, (Log{"rec a @100", "wm 99", "idle"}));
  h.out.log.clear();
  h.Record("b", 50);  // older than the watermark: activity all the same
  h.ctx.AdvanceTo(2200);
  h.Record("c", 300);
  h.ctx.AdvanceTo(2400);
  EXPECT_EQ(h.out.log, (Log{"active", "rec b @50", "rec c @300", "wm 299"}));
}

TEST(TimestampsAndWatermarksOperator, APunctuatedWatermarkFollowsItsRecord) {
  Harness h(ByTs(WatermarkStrategy<Click>::ForGenerator(
                [] { return std::make_unique<PunctuatedGenerator>(); })),
            /*interval_ms=*/0);
  EXPECT_TRUE(h.ctx.scheduled.empty());  // periodic emission is off
  h.Record("x", 10);
  h.Record("mark", 20);
  h.Record("mark", 15);  // not advancing
  EXPECT_EQ(h.out.log, (Log{"rec x @10", "rec mark @20", "wm 20", "rec mark @15"}));
}

TEST(TimestampsAndWatermarksOperator, APeriodicCallbackAfterCloseDoesNothing) {
  Harness h(ByTs(WatermarkStrategy<Click>::ForMonotonousTimestamps()));
  h.Record("a", 100);
  h.op->Close();
  h.op.reset();
  h.ctx.AdvanceTo(1000);
  EXPECT_EQ(h.out.log, Log{"rec a @100"});
  EXPECT_TRUE(h.ctx.scheduled.empty());
}

}  // namespace
}  // namespace sluice
