// Connected streams keyed by selectors of different key types: records of equal keys could not
// meet in one subtask, so it must not compile.
// EXPECT_ERROR: KeyBy: both key selectors must return the same type
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

SLUICE_JOB(env) {
  sluice::GeneratorOptions gen;
  auto numbers = sluice::AddGenerator(
      env, gen, [](uint64_t i) { return i; }, "Numbers");
  auto words = sluice::AddGenerator(
      env, gen, [](uint64_t i) { return std::to_string(i); }, "Words");
  numbers.Connect(words).KeyBy([](const uint64_t& n) { return n; },
                               [](const std::string& w) { return w; });
}
