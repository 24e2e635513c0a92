// A valid job built against "another SDK": compiled with -DSLUICE_ABI_VERSION=999 (see
// tests/CMakeLists.txt), so it reports ABI version 999 and must be refused at submission.
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  env.SetJobName("other abi");
  sluice::GeneratorOptions gen;
  gen.count = 10;
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "Numbers")
      .SinkTo(sluice::MakeDiscardingSink<int64_t>(), "Discard");
}
