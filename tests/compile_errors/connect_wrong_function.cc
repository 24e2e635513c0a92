// A CoProcessFunction whose inputs are swapped against the connected streams.
// EXPECT_ERROR: Process: the function's first input type must be the first stream's type
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

class Swapped final : public sluice::CoProcessFunction<std::string, uint64_t, std::string> {
 public:
  void ProcessElement1(const std::string&, Context&, sluice::Collector<std::string>&) override {}
  void ProcessElement2(const uint64_t&, Context&, sluice::Collector<std::string>&) override {}
};

SLUICE_JOB(env) {
  sluice::GeneratorOptions gen;
  auto numbers = sluice::AddGenerator(
      env, gen, [](uint64_t i) { return i; }, "Numbers");
  auto words = sluice::AddGenerator(
      env, gen, [](uint64_t i) { return std::to_string(i); }, "Words");
  numbers.Connect(words).Process([] { return std::make_unique<Swapped>(); });
}
