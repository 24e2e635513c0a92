#include "taskmanager/memory_budget.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sluice::taskmanager {
std::string DescribeBytes(int64_t bytes) {
  constexpr int64_t kMiB = int64_t{1} << 20;
  constexpr int64_t kGiB = int64_t{1} << 30;
  if (bytes >= kGiB && bytes % (kGiB / 10) == 0) {
    return absl::StrFormat("%.1f GiB", static_cast<double>(bytes) / static_cast<double>(kGiB));
  }
  return absl::StrCat(bytes / kMiB, " MiB");
}

namespace {

int64_t Fraction(double fraction, int64_t of) {
  return static_cast<int64_t>(std::floor(fraction * static_cast<double>(of)));
}

}  // namespace

absl::StatusOr<MemoryBudget> MemoryBudget::FromConfig(const config::Configuration& c) {
  MemoryBudget b;
  b.process = c.GetMemoryBytes("taskmanager.memory.process.size");
  b.framework = c.GetMemoryBytes("taskmanager.memory.framework.off-heap.size");
  b.network = c.GetMemoryBytes("taskmanager.memory.network.size");
  b.managed = c.GetMemoryBytes("taskmanager.memory.managed.size");
  if (b.process == 0) {
    b.framework = 0;
    return b;
  }
  if (!c.IsSet("taskmanager.memory.network.size")) {
    const int64_t low = c.GetMemoryBytes("taskmanager.memory.network.min");
    const int64_t high = c.GetMemoryBytes("taskmanager.memory.network.max");
    if (low > high) {
      return absl::InvalidArgumentError(
          absl::StrCat("taskmanager.memory.network.min (", DescribeBytes(low),
                       ") is above taskmanager.memory.network.max (", DescribeBytes(high), ")"));
    }
    b.network = std::clamp(Fraction(c.GetDouble("taskmanager.memory.network.fraction"), b.process),
                           low, high);
  }
  if (!c.IsSet("taskmanager.memory.managed.size")) {
    b.managed = Fraction(c.GetDouble("taskmanager.memory.managed.fraction"), b.process);
  }
  b.task_heap = b.process - b.framework - b.network - b.managed;
  if (b.task_heap <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "taskmanager.memory.process.size (", DescribeBytes(b.process),
        ") is too small for what it must contain: framework ", DescribeBytes(b.framework),
        " + network ", DescribeBytes(b.network), " + managed ", DescribeBytes(b.managed),
        ", and some task heap; raise it, or lower taskmanager.memory.network.size or "
        "taskmanager.memory.managed.size"));
  }
  return b;
}

std::string MemoryBudget::Describe() const {
  if (process == 0) {
    return absl::StrCat("network ", DescribeBytes(network), ", managed ", DescribeBytes(managed),
                        " (no taskmanager.memory.process.size: the rest is not bounded)");
  }
  return absl::StrCat("process ", DescribeBytes(process), " = framework ", DescribeBytes(framework),
                      " + network ", DescribeBytes(network), " + managed ", DescribeBytes(managed),
                      " + task heap ", DescribeBytes(task_heap));
}

}  // namespace sluice::taskmanager
