// A job package whose builder never returns: the submission must fail with the JobManager's
// reason (its builder timeout), told to the client.
#include <chrono>
#include <thread>

#include "sluice/sluice.h"

SLUICE_JOB(env) {
  env.SetJobName("hanging builder");
  while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
}
