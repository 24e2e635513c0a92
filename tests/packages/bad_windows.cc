// bad_windows: event-time windows misused in the ways users get wrong, one per `--arg mode=`:
//   negative_size           TumblingEventTimeWindows::Of(-10 s)          refused at build time
//   slide_larger_than_size  SlidingEventTimeWindows::Of(10 s, 20 s)      refused at build time
//   zero_gap                EventTimeSessionWindows::WithGap(0 s)        refused at build time
//   no_timestamps           a window on a stream without timestamps      fails at the first record
//   throwing_assigner       a timestamp assigner that throws on click 42 fails at that record
// tests/integration_bad_input_test.cc checks the message each one gives.
//   args: mode (required), clicks (1000)
#include <chrono>
#include <stdexcept>
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

//! Counts the clicks of a window.
class CountClicks final : public sluice::AggregateFunction<Click, int64_t, int64_t> {
 public:
  int64_t CreateAccumulator() override { return 0; }
  int64_t Add(const Click&, int64_t n) override { return n + 1; }
  int64_t GetResult(const int64_t& n) override { return n; }
  int64_t Merge(int64_t a, const int64_t& b) override { return a + b; }
};

template <typename Assigner>
void CountPerWindow(sluice::DataStream<Click> clicks, Assigner assigner) {
  clicks.KeyBy([](const Click& c) { return c.user; })
      .Window(std::move(assigner))
      .Aggregate([] { return std::make_unique<CountClicks>(); }, "Count")
      .SinkTo(sluice::MakeDiscardingSink<int64_t>(), "Discard");
}

}  // namespace

SLUICE_JOB(env) {
  const std::string mode = env.Arg("mode");
  env.SetJobName("bad windows: " + mode);
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(env.IntArg("clicks", 1000));
  gen.splits = 1;
  auto clicks = sluice::AddGenerator(
                    env, gen,
                    [](uint64_t i) {
                      const int64_t id = static_cast<int64_t>(i);
                      return Click{id, id % 10, 1767225600000 + id * 100};
                    },
                    "Clicks")
                    .SetParallelism(1);
  auto with_timestamps = [&clicks] {
    return clicks.AssignTimestampsAndWatermarks(
        sluice::WatermarkStrategy<Click>::ForMonotonousTimestamps().WithTimestampAssigner(
            [](const Click& c) { return c.ts; }));
  };

  if (mode == "negative_size") {
    CountPerWindow(with_timestamps(),
                   sluice::TumblingEventTimeWindows::Of(std::chrono::seconds(-10)));
  } else if (mode == "slide_larger_than_size") {
    CountPerWindow(with_timestamps(), sluice::SlidingEventTimeWindows::Of(
                                          std::chrono::seconds(10), std::chrono::seconds(20)));
  } else if (mode == "zero_gap") {
    CountPerWindow(with_timestamps(),
                   sluice::EventTimeSessionWindows::WithGap(std::chrono::seconds(0)));
  } else if (mode == "no_timestamps") {
    CountPerWindow(clicks, sluice::TumblingEventTimeWindows::Of(std::chrono::seconds(10)));
  } else if (mode == "throwing_assigner") {
    auto stamped = clicks.AssignTimestampsAndWatermarks(
        sluice::WatermarkStrategy<Click>::ForMonotonousTimestamps().WithTimestampAssigner(
            [](const Click& c) -> int64_t {
              if (c.id == 42) throw std::invalid_argument("click 42 has an unreadable timestamp");
              return c.ts;
            }));
    CountPerWindow(stamped, sluice::TumblingEventTimeWindows::Of(std::chrono::seconds(10)));
  } else {
    throw sluice::JobDefinitionError(
        "mode must be one of negative_size, slide_larger_than_size, zero_gap, no_timestamps, "
        "throwing_assigner; got '" +
        mode + "'");
  }
}
