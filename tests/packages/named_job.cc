// A trivial bounded job whose builder names it after its argument `name` (the name reaches the
// JobManager from user code, not from the CLI).
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  env.SetJobName(env.Arg("name"));
  sluice::GeneratorOptions gen;
  gen.count = 10;
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "Numbers")
      .SinkTo(sluice::MakeDiscardingSink<int64_t>(), "Discard");
}
