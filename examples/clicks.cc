// clicks: event time with windows. A generator makes an out-of-order click stream: click i at
// `start + i * step_ms`, moved back by up to `disorder_ms`, and every `late_every`-th click
// 30 s late; users click in bursts, so their sessions have gaps. Watermarks allow
// `disorder_ms` of disorder, per split of the generator. Two results, keyed by user:
//   counts/    "user,window_start,window_end,clicks" per 10 s tumbling window (2 s allowed
//   lateness;
//              a click within it fires its window again with the new count)
//   sessions/  "user,session_start,session_end,clicks" per session (1 s gap)
//   late/      "user,timestamp" for clicks too late for their 10 s window
//   args: clicks (20000), users (20), step_ms (20), disorder_ms (2000), late_every (97),
//         splits (4), output (a directory; the three folders go under it), rate (0: unlimited)
#include <chrono>
#include <string>

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

struct Options {
  int64_t users, step_ms, disorder_ms, late_every;
};

constexpr int64_t kStart = 1767225600000;  // 2026-01-01T00:00:00Z

Click MakeClick(uint64_t index, const Options& o) {
  const int64_t i = static_cast<int64_t>(index);
  // A user clicks in a burst of 50 clicks, then rests while the others take turns.
  const int64_t user = (i / 50) % o.users;
  int64_t ts = kStart + i * o.step_ms;
  if (o.disorder_ms > 0) ts -= (i * 7919) % (o.disorder_ms + 1);
  if (o.late_every > 0 && i % o.late_every == o.late_every - 1) ts -= 30000;
  return Click{i, user, ts};
}

//! Counts clicks (an AggregateFunction: one number per window, not the clicks).
class CountClicks final : public sluice::AggregateFunction<Click, int64_t, int64_t> {
 public:
  int64_t CreateAccumulator() override { return 0; }
  int64_t Add(const Click&, int64_t n) override { return n + 1; }
  int64_t GetResult(const int64_t& n) override { return n; }
  int64_t Merge(int64_t a, const int64_t& b) override { return a + b; }
};

//! "user,start,end,count" for the window it is called for.
class FormatWindow final
    : public sluice::ProcessWindowFunction<int64_t, std::string, int64_t, sluice::TimeWindow> {
 public:
  void Process(const int64_t& user, Context& ctx, const std::vector<int64_t>& counts,
               sluice::Collector<std::string>& out) override {
    const sluice::TimeWindow& w = ctx.Window();
    out.Collect(std::to_string(user) + "," + std::to_string(w.Start()) + "," +
                std::to_string(w.End()) + "," + std::to_string(counts.at(0)));
  }
};

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("clicks");
  const int64_t clicks = env.IntArg("clicks", 20000);
  const Options options{env.IntArg("users", 20), env.IntArg("step_ms", 20),
                        env.IntArg("disorder_ms", 2000), env.IntArg("late_every", 97)};
  const int64_t splits = env.IntArg("splits", 4);
  const int64_t rate = env.IntArg("rate", 0);
  const std::string output = env.Arg("output");
  if (clicks < 0 || options.users <= 0 || options.step_ms <= 0 || options.disorder_ms < 0 ||
      options.late_every < 0 || splits <= 0 || rate < 0) {
    throw sluice::JobDefinitionError(
        "clicks, disorder_ms, late_every and rate must be >= 0; users, step_ms and splits > 0");
  }

  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(clicks);
  gen.splits = static_cast<uint32_t>(splits);
  gen.rate = static_cast<double>(rate);
  // Watermarks per split, in the source: after a rescale a subtask may read splits that were read
  // by different subtasks before, at different positions, and one split's event time must not make
  // another's clicks late (a single generator behind the source would).
  auto stream = sluice::AddGenerator(
                    env, gen, [options](uint64_t i) { return MakeClick(i, options); },
                    sluice::WatermarkStrategy<Click>::ForBoundedOutOfOrderness(
                        std::chrono::milliseconds(options.disorder_ms))
                        .WithTimestampAssigner([](const Click& c) { return c.ts; }),
                    "Clicks")
                    .Uid("clicks");

  const sluice::OutputTag<Click> late("late");
  auto by_user = stream.KeyBy([](const Click& c) { return c.user; });
  auto counts = by_user.Window(sluice::TumblingEventTimeWindows::Of(std::chrono::seconds(10)))
                    .AllowedLateness(std::chrono::seconds(2))
                    .SideOutputLateData(late)
                    .Aggregate([] { return std::make_unique<CountClicks>(); },
                               [] { return std::make_unique<FormatWindow>(); }, "Count per 10 s");
  counts.Uid("counts");
  counts.SinkTo(sluice::MakeFileSink<std::string>(output + "/counts"), "Counts").Uid("counts-sink");
  counts.GetSideOutput(late)
      .Map([](const Click& c) { return std::to_string(c.user) + "," + std::to_string(c.ts); },
           "Format late")
      .SinkTo(sluice::MakeFileSink<std::string>(output + "/late"), "Late clicks")
      .Uid("late-sink");

  by_user.Window(sluice::EventTimeSessionWindows::WithGap(std::chrono::seconds(1)))
      .Aggregate([] { return std::make_unique<CountClicks>(); },
                 [] { return std::make_unique<FormatWindow>(); }, "Sessions")
      .Uid("sessions")
      .SinkTo(sluice::MakeFileSink<std::string>(output + "/sessions"), "Sessions sink")
      .Uid("sessions-sink");
}
