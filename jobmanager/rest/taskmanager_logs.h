// The REST API reaches a TaskManager's log files through the TaskManager's own gRPC service
// (ListLogs, ReadLog), as Flink's JobManager asks its TaskExecutors. Synchronous, with a deadline;
// runs on the REST server's threads, never on a JobMaster's.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/util/log_files.h"

namespace sluice::jobmanager::rest {

absl::StatusOr<std::vector<LogFileInfo>> ListTaskManagerLogs(const std::string& rpc_address);

//! The last `max_bytes` of log file `name`; the name is checked here too (CheckLogFileName).
absl::StatusOr<std::string> ReadTaskManagerLog(const std::string& rpc_address,
                                               const std::string& name, uint64_t max_bytes);

}  // namespace sluice::jobmanager::rest
