// Helpers shared by the hand-written benchmark baselines.
#pragma once

#include <time.h>

#include <cstdint>
#include <cstdlib>

namespace sluice::bench {

//! CPU seconds this process has used so far (all threads).
inline double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

//! A positive decimal integer, the whole of `text`.
inline bool ParsePositive(const char* text, uint64_t* out) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v == 0) return false;
  *out = v;
  return true;
}

}  // namespace sluice::bench
