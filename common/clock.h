// Clocks: wall-clock time for timestamps that leave a process (checkpoint trigger times, job start
// and end, restart windows), and a monotonic clock for durations inside one.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice {

//! Milliseconds since the Unix epoch.
inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

//! steady_clock nanoseconds: waits, timeouts and the "since" counters of metrics.
inline int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

//! Whole milliseconds of steady_clock since `start`: durations for log lines.
inline int64_t MsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

}  // namespace sluice
