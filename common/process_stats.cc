#include "common/process_stats.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace sluice {

proto::ProcessStats ReadProcessStats() {
  proto::ProcessStats s;
  const long page = ::sysconf(_SC_PAGESIZE);
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  if (page > 0 && pages > 0) {
    s.set_physical_memory_bytes(static_cast<uint64_t>(page) * static_cast<uint64_t>(pages));
  }
  s.set_cpu_cores(static_cast<int32_t>(std::thread::hardware_concurrency()));
  {
    std::ifstream statm("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    if (statm >> size >> resident && page > 0) {
      s.set_virtual_bytes(size * static_cast<uint64_t>(page));
      s.set_rss_bytes(resident * static_cast<uint64_t>(page));
    }
  }
  {
    // /proc/self/stat: field 2 (comm) may hold spaces; the fields after its ')' are fixed.
    std::ifstream stat("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(text.substr(close + 2));
      std::string field;
      uint64_t utime = 0, stime = 0;
      int64_t threads = 0;
      // After ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
      // utime(14) stime(15) cutime cstime priority nice num_threads(20).
      for (int i = 3; i <= 20 && rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
        if (i == 20) threads = std::stoll(field);
      }
      const long ticks = ::sysconf(_SC_CLK_TCK);
      if (ticks > 0) s.set_cpu_time_ms((utime + stime) * 1000 / static_cast<uint64_t>(ticks));
      s.set_threads(static_cast<int32_t>(threads));
    }
  }
  return s;
}

}  // namespace sluice
