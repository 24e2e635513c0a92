// generator -> map that throws std::runtime_error("bad record 42") on record 42 -> discard.
//   args: records (1000000; the job is still running elsewhere when record 42 fails),
//         rate (per source subtask per second, 0 = unlimited)
// Parallelism comes from `sluice run --parallelism`.
#include <stdexcept>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  env.SetJobName("failing job");
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(env.IntArg("records", 1000000));
  gen.splits = 8;
  gen.rate = static_cast<double>(env.IntArg("rate", 0));
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "Numbers")
      .Uid("numbers")
      .Rebalance()
      .Map(
          [](const int64_t& v) -> int64_t {
            if (v == 42) throw std::runtime_error("bad record 42");
            return v;
          },
          "Check")
      .Uid("check")
      .SinkTo(sluice::MakeDiscardingSink<int64_t>(), "Discard")
      .Uid("sink");
}
