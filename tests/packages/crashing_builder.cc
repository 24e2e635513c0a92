// A job package whose builder crashes the process it runs in: with --arg how=segv it writes through
// a null pointer, otherwise it calls abort(). The JobManager must refuse the job and stay up.
#include <cstdlib>

#include "sluice/sluice.h"

namespace {
// volatile so that the compiler cannot prove the store away.
int* volatile null_pointer = nullptr;

// A real SIGSEGV also in the sanitizer build, where UBSan would otherwise turn the store into an
// orderly exit with a report.
__attribute__((no_sanitize("undefined"))) void WriteThroughNull() { *null_pointer = 1; }
}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("crashing builder");
  if (env.Arg("how") == "segv") {
    WriteThroughNull();
  }
  std::abort();
}
