// Uid() on a Union(): a union is not an operator, so it has no id to set.
// EXPECT_ERROR: Uid\(\) sets an operator's id, and a Union\(\)/partitioning/side output is not an
// operator
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  sluice::GeneratorOptions gen;
  auto a = sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "A");
  auto b = sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "B");
  a.Union(b).Uid("u").SinkTo(sluice::MakeDiscardingSink<int64_t>());
}
