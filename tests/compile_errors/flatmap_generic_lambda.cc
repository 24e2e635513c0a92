// FlatMap with a generic lambda and no <OUT>: nothing names the output type.
// EXPECT_ERROR: FlatMap cannot tell the output type: write FlatMap<OUT>\(fn\)
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  sluice::GeneratorOptions gen;
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return std::to_string(i); }, "Lines")
      .FlatMap([](const auto& line, auto& out) { out.Collect(line); })
      .SinkTo(sluice::MakeDiscardingSink<std::string>());
}
