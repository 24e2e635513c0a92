// generator -> map that writes through a null pointer on record 42 (a real SIGSEGV, as a bug in
// user code would) -> discard. For the crash report tests: the TaskManager's log names the task
// and has the stack, and the job's failure says the TaskManager crashed.
//   args: records (1000000), rate (per source subtask per second, 0 = unlimited)
#include <cstdint>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {
// Volatile: the compiler cannot see the null and turn the write into a trap instruction.
volatile uintptr_t g_address = 0;
}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("crashing job");
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(env.IntArg("records", 1000000));
  gen.splits = 1;
  gen.rate = static_cast<double>(env.IntArg("rate", 0));
  sluice::AddGenerator(
      env, gen, [](uint64_t i) { return static_cast<int64_t>(i); }, "Numbers")
      .Uid("numbers")
      .Rebalance()
      .Map(
          [](const int64_t& v) -> int64_t {
            if (v == 42) *reinterpret_cast<volatile int*>(g_address) = 1;
            return v;
          },
          "Crash")
      .Uid("crash")
      .SinkTo(sluice::MakeDiscardingSink<int64_t>(), "Discard")
      .Uid("sink");
}
