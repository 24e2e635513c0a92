// throughput_job: the pipeline of the per-core throughput benchmark (bench/README.md).
//   generator -> map -> key_by -> keyed sum (rolling reduce) -> discard
//   args: records (N, 20000000), keys (K, 10000), splits (8)
// Record i is {key = (i * 2654435761) % K, value = i % 100}; the map makes value 2 * value + 1.
// bench/baseline_loop.cc computes the same thing in one hand-written loop: keep them in step.
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

struct Event {
  int64_t key = 0;
  int64_t value = 0;
  SLUICE_FIELDS(key, value)
};

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("throughput");
  int64_t records = env.IntArg("records", 20'000'000);
  int64_t keys = env.IntArg("keys", 10'000);
  int64_t splits = env.IntArg("splits", 8);
  if (records <= 0)
    throw sluice::JobDefinitionError("records must be positive (the job is bounded)");
  if (keys <= 0) throw sluice::JobDefinitionError("keys must be positive");
  if (splits <= 0) throw sluice::JobDefinitionError("splits must be positive");

  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(records);
  gen.splits = static_cast<uint32_t>(splits);
  gen.rate = 0;
  const uint64_t k = static_cast<uint64_t>(keys);
  sluice::AddGenerator(
      env, gen,
      [k](uint64_t i) {
        return Event{static_cast<int64_t>((i * 2654435761u) % k), static_cast<int64_t>(i % 100)};
      },
      "Generator")
      .Uid("generator")
      .Map(
          [](const Event& e) {
            return Event{e.key, e.value * 2 + 1};
          },
          "Map")
      .Uid("map")
      .KeyBy([](const Event& e) { return e.key; })
      .Reduce(
          [](const Event& acc, const Event& e) {
            return Event{acc.key, acc.value + e.value};
          },
          "Keyed sum")
      .Uid("sum")
      .SinkTo(sluice::MakeDiscardingSink<Event>(), "Discard")
      .Uid("discard");
}
