// Watermark generators, idleness and the multiplexer of a source's splits, against in-test
// doubles of the host: a clock the test advances, and processing-time callbacks the test runs when
// it advances it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/serialization.h"
#include "sluice/watermark_output_multiplexer.h"

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

//! The host's side of a task: a clock the test advances, the current-timestamp slot, and the
//! processing-time callbacks, run in time order when the clock passes them.
class FakeRuntimeContext final : public RuntimeContext {
 public:
  const std::string& JobId() const override { return name_; }
  const std::string& TaskName() const override { return name_; }
  int SubtaskIndex() const override { return 0; }
  int Parallelism() const override { return 1; }
  int MaxParallelism() const override { return 128; }
  bool IsCancelled() const override { return false; }
  int AttemptNumber() const override { return 0; }
  bool IsCheckpointingEnabled() const override { return false; }
  int64_t CurrentTimestamp() const override { return timestamp; }
  void SetCurrentTimestamp(int64_t t) override { timestamp = t; }
  int64_t CurrentProcessingTime() const override { return now; }
  void ScheduleProcessingTime(int64_t time_ms, std::function<void()> fn) override {
    scheduled.emplace_back(time_ms, std::move(fn));
  }
  int64_t AutoWatermarkIntervalMs() const override { return interval_ms; }

  void AdvanceTo(int64_t t) {
    for (;;) {
      auto due = scheduled.end();
      for (auto it = scheduled.begin(); it != scheduled.end(); ++it) {
        if (it->first <= t && (due == scheduled.end() || it->first < due->first)) due = it;
      }
      if (due == scheduled.end()) break;
      now = std::max(now, due->first);
      std::function<void()> fn = std::move(due->second);
      scheduled.erase(due);
      fn();
    }
    now = t;
  }

  int64_t now = 0;
  int64_t timestamp = kNoTimestamp;
  int64_t interval_ms = 200;
  std::vector<std::pair<int64_t, std::function<void()>>> scheduled;

 private:
  std::string name_ = "test";
};

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

}  // namespace
}  // namespace sluice
