// event_timers: event time end to end without windows. Clicks i = 0..count-1 (user i % users) get
// out-of-order timestamps and, every 50th, one far in the past; a punctuated generator emits
// `max timestamp - 2000 - 1` after every click. Keyed by user, a process function counts clicks
// per 10 s bucket and emits "user,bucket_start,count" from an event-time timer at the bucket's
// last millisecond; a click at or behind the watermark goes to the side output "late" as
// "user,timestamp". tests/integration_event_time_test.cc recomputes both from the same formula.
//   args: count, users (10), source_parallelism (1), counts, late (output directories)
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

struct Click {
  int64_t id = 0;
  int64_t user = 0;
  int64_t ts = 0;
  SLUICE_FIELDS(id, user, ts)
};

constexpr int64_t kBucketMs = 10000;
constexpr int64_t kOutOfOrdernessMs = 2000;

//! The same formula as the test's.
Click MakeClick(int64_t i, int64_t users) {
  int64_t ts = 1000000 + i * 100 - ((i * 7919) % 50) * 100;
  if (i % 50 == 49) ts -= 20000;
  return Click{i, i % users, ts};
}

class Punctuated final : public sluice::WatermarkGenerator<Click> {
 public:
  void OnEvent(const Click&, int64_t timestamp, sluice::WatermarkOutput& out) override {
    max_ = std::max(max_, timestamp);
    out.EmitWatermark(max_ - kOutOfOrdernessMs - 1);
  }
  void OnPeriodicEmit(sluice::WatermarkOutput&) override {}

 private:
  int64_t max_ = INT64_MIN + kOutOfOrdernessMs + 1;
};

const sluice::OutputTag<std::string> kLate("late");

class CountPerBucket final : public sluice::KeyedProcessFunction<int64_t, Click, std::string> {
 public:
  void Open(sluice::KeyedContext<int64_t>& ctx) override {
    counts_ = ctx.GetMapState<int64_t, int64_t>("counts");
  }
  void ProcessElement(const Click& c, sluice::KeyedContext<int64_t>& ctx,
                      sluice::Collector<std::string>&) override {
    if (!ctx.Timestamp() || *ctx.Timestamp() != c.ts) {
      throw std::runtime_error("the record's timestamp did not travel with it");
    }
    if (c.ts <= ctx.TimerService().CurrentWatermark()) {
      ctx.Output(kLate, std::to_string(c.user) + "," + std::to_string(c.ts));
      return;
    }
    int64_t bucket = c.ts - c.ts % kBucketMs;
    counts_.Put(bucket, counts_.Get(bucket).value_or(0) + 1);
    ctx.TimerService().RegisterEventTimeTimer(bucket + kBucketMs - 1);
  }
  void OnTimer(int64_t timestamp, sluice::KeyedContext<int64_t>& ctx,
               sluice::Collector<std::string>& out) override {
    if (ctx.TimeDomain() != sluice::TimeDomain::kEventTime || ctx.Timestamp() != timestamp) {
      throw std::runtime_error("an event-time timer fired without its time");
    }
    int64_t bucket = timestamp + 1 - kBucketMs;
    std::optional<int64_t> n = counts_.Get(bucket);
    if (!n) throw std::runtime_error("a timer fired for a bucket without clicks");
    out.Collect(std::to_string(ctx.CurrentKey()) + "," + std::to_string(bucket) + "," +
                std::to_string(*n));
    counts_.Remove(bucket);
  }

 private:
  sluice::MapState<int64_t, int64_t> counts_;
};

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("event-timers");
  int64_t count = env.IntArg("count", 10000);
  int64_t users = env.IntArg("users", 10);
  int64_t source_parallelism = env.IntArg("source_parallelism", 1);
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(count);
  gen.splits = static_cast<uint32_t>(source_parallelism);
  auto clicks =
      sluice::AddGenerator(
          env, gen, [users](uint64_t i) { return MakeClick(static_cast<int64_t>(i), users); },
          "Clicks")
          .SetParallelism(static_cast<int>(source_parallelism))
          .AssignTimestampsAndWatermarks(
              sluice::WatermarkStrategy<Click>::ForGenerator([] {
                return std::make_unique<Punctuated>();
              }).WithTimestampAssigner([](const Click& c) { return c.ts; }))
          .SetParallelism(static_cast<int>(source_parallelism));
  auto counts = clicks.KeyBy([](const Click& c) { return c.user; })
                    .Process([] { return std::make_unique<CountPerBucket>(); }, "Count per bucket");
  counts.SinkTo(sluice::MakeFileSink<std::string>(env.Arg("counts")), "Counts");
  counts.GetSideOutput(kLate).SinkTo(sluice::MakeFileSink<std::string>(env.Arg("late")), "Late");
}
