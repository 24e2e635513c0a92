// A job package whose builder throws: the submission must fail with the exception's message.
#include <stdexcept>

#include "sluice/sluice.h"

SLUICE_JOB(env) {
  env.SetJobName("throwing builder");
  throw std::runtime_error("boom from builder");
}
