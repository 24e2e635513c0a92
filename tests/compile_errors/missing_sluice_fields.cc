// A record struct that does not list its fields: it cannot be serialized.
// EXPECT_ERROR: not serializable: add SLUICE_FIELDS\(field1, field2, \.\.\.\) inside the struct
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {
struct Click {
  int64_t user = 0;
  int64_t ts = 0;
};
}  // namespace

SLUICE_JOB(env) {
  sluice::GeneratorOptions gen;
  sluice::AddGenerator(
      env, gen,
      [](uint64_t i) {
        return Click{static_cast<int64_t>(i), 0};
      },
      "Clicks")
      .KeyBy([](const Click& c) { return c.user; })
      .Reduce([](const Click& a, const Click&) { return a; })
      .SinkTo(sluice::MakeDiscardingSink<Click>());
}
