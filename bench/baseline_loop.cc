// baseline_loop: the computation of bench/throughput_job.cc written by hand as one single-threaded
// loop — generate record i, map it, add its value to its key's sum in a hash map, "emit" the new
// sum (folded into a checksum so that the compiler cannot drop the work). Its records per CPU
// second is the ceiling the cluster's per-core rate is compared with (bench/README.md).
//   usage: baseline_loop [records (20000000)] [keys (10000)]
// Prints one line of key=value pairs: records, keys, cpu_s, wall_s, records_per_cpu_s, checksum.
#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "bench/bench_util.h"

namespace {

struct Event {
  int64_t key;
  int64_t value;
};

using sluice::bench::ParsePositive;
using sluice::bench::ProcessCpuSeconds;

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 20'000'000;
  uint64_t keys = 10'000;
  if (argc > 3 || (argc > 1 && !ParsePositive(argv[1], &records)) ||
      (argc > 2 && !ParsePositive(argv[2], &keys))) {
    std::fprintf(stderr, "usage: %s [records (positive)] [keys (positive)]\n", argv[0]);
    return 2;
  }

  auto wall_start = std::chrono::steady_clock::now();
  double cpu_start = ProcessCpuSeconds();

  // The same state layout as the heap backend's ValueState<Event>: key -> running aggregate.
  std::unordered_map<int64_t, Event> sums;
  uint64_t checksum = 0;
  for (uint64_t i = 0; i < records; ++i) {
    // generate
    Event e{static_cast<int64_t>((i * 2654435761u) % keys), static_cast<int64_t>(i % 100)};
    // map
    Event m{e.key, e.value * 2 + 1};
    // keyed sum
    auto [it, inserted] = sums.try_emplace(m.key, m);
    if (!inserted) it->second.value += m.value;
    // the discarding sink
    checksum = checksum * 31 + static_cast<uint64_t>(it->second.value);
  }

  double cpu_s = ProcessCpuSeconds() - cpu_start;
  double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  std::printf(
      "records=%llu keys=%llu distinct_keys=%zu cpu_s=%.3f wall_s=%.3f records_per_cpu_s=%.0f "
      "checksum=%llu\n",
      static_cast<unsigned long long>(records), static_cast<unsigned long long>(keys), sums.size(),
      cpu_s, wall_s, static_cast<double>(records) / cpu_s,
      static_cast<unsigned long long>(checksum));
  return 0;
}
