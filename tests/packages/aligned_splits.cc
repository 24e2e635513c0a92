// aligned_splits: a generator with two splits on two subtasks whose event times advance at
// different speeds per record: split 0 by 3 ms, split 1 by 1 ms (same record rate). With
// `--arg align_ms=N` (N > 0) both are in one watermark alignment group with max drift N ms, so
// split 0 is paused whenever its watermark runs more than N ms ahead of split 1's; with 0 it runs
// free. One sink subtask writes "split timestamp" lines in arrival order to `--arg output=DIR`.
// Bounded: `--arg count=N` records in all, `--arg rate=R` per subtask and second.
#include <chrono>
#include <string>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

constexpr int64_t kStart = 1767225600000;  // 2026-01-01T00:00:00Z

struct Tick {
  int64_t split = 0;
  int64_t ts = 0;
  SLUICE_FIELDS(split, ts)
};

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("aligned-splits");
  const int64_t align_ms = env.IntArg("align_ms", 0);
  auto strategy = sluice::WatermarkStrategy<Tick>::ForMonotonousTimestamps().WithTimestampAssigner(
      [](const Tick& t) { return t.ts; });
  if (align_ms > 0) {
    strategy = strategy.WithWatermarkAlignment("ticks", std::chrono::milliseconds(align_ms),
                                               std::chrono::milliseconds(200));
  }
  sluice::GeneratorOptions options;
  options.count = static_cast<uint64_t>(env.IntArg("count", 20000));
  options.splits = 2;
  options.rate = static_cast<double>(env.IntArg("rate", 2000));
  sluice::AddGenerator(
      env, options,
      [](uint64_t i) {
        const int64_t split = static_cast<int64_t>(i % 2);
        const int64_t n = static_cast<int64_t>(i / 2);
        return Tick{split, kStart + n * (split == 0 ? 3 : 1)};
      },
      strategy, "Ticks")
      .SetParallelism(2)
      .Map([](const Tick& t) { return std::to_string(t.split) + " " + std::to_string(t.ts); },
           "Format")
      .SetParallelism(1)
      .SinkTo(sluice::MakeFileSink<std::string>(env.RequiredArg("output")), "Lines")
      .SetParallelism(1);
}
