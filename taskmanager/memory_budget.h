// MemoryBudget: the parts of a TaskManager's memory, after Flink's model, in the parts Sluice
// has. With `taskmanager.memory.process.size` set, the process's whole budget is divided:
//   framework  taskmanager.memory.framework.off-heap.size: the process itself (code, gRPC,
//              threads, the write-back caches of RocksDB state for now)
//   network    taskmanager.memory.network.size when set, else network.fraction of the process
//              size within network.min and network.max
//   managed    taskmanager.memory.managed.size when set, else managed.fraction of the process
//              size: the bound of all RocksDB state (rocksdb_backend.h, RocksDbSharedMemory)
//   task heap  what is left: records in flight in operators, heap state
// A budget too small for its fixed parts is an error that names each part. Without a process
// size the parts are their own keys and the task heap has no bound.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/config/config.h"

namespace sluice::taskmanager {

struct MemoryBudget {
  int64_t process = 0;  //!< 0: no overall budget
  int64_t framework = 0;
  int64_t network = 0;
  int64_t managed = 0;
  int64_t task_heap = 0;  //!< 0 without an overall budget

  static absl::StatusOr<MemoryBudget> FromConfig(const config::Configuration& config);
  //! "process 1 GiB = framework 64 MiB + network 102 MiB + managed 409 MiB + task heap 449 MiB"
  std::string Describe() const;
};

//! "612 MiB", or "1.5 GiB" for a whole tenth of a GiB.
std::string DescribeBytes(int64_t bytes);

}  // namespace sluice::taskmanager
