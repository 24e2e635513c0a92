// A record type without a default constructor: the runtime reads records into a default-made one.
// EXPECT_ERROR: record types must be default-constructible
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {
struct Reading {
  explicit Reading(int64_t v) : value(v) {}
  int64_t value;
  SLUICE_FIELDS(value)
};
}  // namespace

SLUICE_JOB(env) {
  sluice::GeneratorOptions gen;
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "Numbers")
      .Map([](const int64_t& v) { return Reading(v); })
      .SinkTo(sluice::MakeDiscardingSink<Reading>());
}
