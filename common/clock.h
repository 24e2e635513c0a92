// Wall-clock time for timestamps that leave a process (checkpoint trigger times, job start and end,
// restart windows): milliseconds since the Unix epoch.
#pragma once

#include <chrono>
#include <cstdint>

namespace sluice {

inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace sluice
