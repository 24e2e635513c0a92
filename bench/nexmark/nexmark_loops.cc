// nexmark_loops: the per-core "ceiling" for the Nexmark queries (docs/nexmark.md). For each query
// q0..q22, a hand-written single-threaded loop over the events the query packages read
// (sluice::nexmark::GenerateEvent, generated one by one and processed as they come): plain C++
// containers, no engine, no serialization, no threads, computing the package's results and
// formatting its CSV lines (bench/nexmark/job.h), which are counted with their bytes and
// discarded. The CPU time includes the generation, as the engine's figures do.
//
//   nexmark_loops QUERY EVENTS [SEED]
//
// prints one line: query=q5 events=N results=R bytes=B cpu_s=S events_per_cpu_s=E
// The loops: loops_stateless.h, loops_joins.h, loops_windows.h, loops_updating.h.
#include <time.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "bench/nexmark/loops_common.h"
#include "bench/nexmark/loops_joins.h"
#include "bench/nexmark/loops_stateless.h"
#include "bench/nexmark/loops_updating.h"
#include "bench/nexmark/loops_windows.h"

namespace {

using namespace sluice::nexmark::loops;

using QueryLoop = void (*)(const Run&, Sink&);

constexpr std::pair<std::string_view, QueryLoop> kQueries[] = {
    {"q0", Q0},   {"q1", Q1},   {"q2", Q2},   {"q3", Q3},   {"q4", Q4},   {"q5", Q5},
    {"q6", Q6},   {"q7", Q7},   {"q8", Q8},   {"q9", Q9},   {"q10", Q10}, {"q11", Q11},
    {"q12", Q12}, {"q13", Q13}, {"q14", Q14}, {"q15", Q15}, {"q16", Q16}, {"q17", Q17},
    {"q18", Q18}, {"q19", Q19}, {"q20", Q20}, {"q21", Q21}, {"q22", Q22},
};

//! `text` as a whole decimal int64, or false.
bool ParseInt(const char* text, int64_t& value) {
  if (*text == '\0') return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  value = v;
  return true;
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int Usage(const std::string& problem) {
  std::fprintf(stderr,
               "nexmark_loops: %s\nusage: nexmark_loops QUERY EVENTS [SEED]\n"
               "  QUERY: q0 .. q22; EVENTS: the number of events (>= 0); SEED: the generator's "
               "seed (0)\n",
               problem.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) return Usage("expected QUERY EVENTS [SEED]");
  const std::string_view name = argv[1];
  QueryLoop loop = nullptr;
  for (const auto& [query, fn] : kQueries) {
    if (query == name) loop = fn;
  }
  if (loop == nullptr) return Usage("unknown query '" + std::string(name) + "'");
  Run run;
  if (!ParseInt(argv[2], run.events) || run.events < 0) {
    return Usage("EVENTS must be a non-negative integer, not '" + std::string(argv[2]) + "'");
  }
  int64_t seed = 0;
  if (argc == 4 && !ParseInt(argv[3], seed)) {
    return Usage("SEED must be an integer, not '" + std::string(argv[3]) + "'");
  }
  run.config.rate = 10000000;  // the packages' defaults
  run.config.seed = seed;

  Sink sink;
  const double start = CpuSeconds();
  loop(run, sink);
  const double cpu_s = CpuSeconds() - start;
  const double per_s = cpu_s > 0 ? static_cast<double>(run.events) / cpu_s : 0;
  std::printf("query=%s events=%lld results=%lld bytes=%lld cpu_s=%.3f events_per_cpu_s=%lld\n",
              std::string(name).c_str(), static_cast<long long>(run.events),
              static_cast<long long>(sink.results), static_cast<long long>(sink.bytes), cpu_s,
              static_cast<long long>(std::llround(per_s)));
  return 0;
}
