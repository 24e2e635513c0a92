// generator (a few records per second, unbounded) -> "tick <n>" -> print sink. For the test that
// the print sink's lines reach the TaskManager's log while the job runs (`sluice logs`).
//   args: rate (records per second, 5)
#include <cstdint>
#include <string>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  env.SetJobName("print job");
  sluice::GeneratorOptions gen;
  gen.count = 0;  // unbounded
  gen.splits = 1;
  gen.rate = static_cast<double>(env.IntArg("rate", 5));
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "Ticks")
      .Uid("ticks")
      .Map([](const int64_t& i) { return "tick " + std::to_string(i); }, "Format")
      .Uid("format")
      .SinkTo(sluice::MakePrintSink<std::string>(), "Print")
      .Uid("print");
}
