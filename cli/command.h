#ifndef SLUICE_CLI_COMMAND_H_
#define SLUICE_CLI_COMMAND_H_

// What every `sluice` command receives, the exit codes, and the shared ways to report errors.
// Commands run on the main thread, print results to stdout and errors (prefixed "sluice: ")
// to stderr, and return the process exit code.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/args.h"
#include "common/config/config.h"

namespace sluice::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  //!< The operation failed (RPC error, job failed, ...).
inline constexpr int kExitUsage = 2;    //!< Bad command line or configuration.

//! One parsed and configured command line.
struct Invocation {
  ParsedArgs args;
  config::Configuration config;  //!< --config FILE with every -D applied.
  std::string config_path;       //!< The --config FILE, "" if not given.
  std::string jobmanager;        //!< HOST:PORT from --jobmanager, else from the configuration.
};

//! Prints "sluice: <message>" to stderr and returns kExitFailure.
int Fail(std::string_view message);
int Fail(const absl::Status& status);

//! Prints "sluice: <message>" and the usage line of `command` to stderr; returns kExitUsage.
int UsageError(std::string_view command, std::string_view message);

//! Parses a positive decimal integer ("0", "-1", "2x" and overflow give nullopt).
std::optional<int> ParsePositiveInt(std::string_view text);

//! Whether a job in `state` will not change state any more (FINISHED, FAILED, CANCELED,
//! SUSPENDED).
bool IsTerminalJobState(std::string_view state);

//! A savepoint or checkpoint location as the JobManager must get it: a relative path made
//! absolute against our working directory (and normalized); URIs ("file:///abs") unchanged.
absl::StatusOr<std::string> AbsoluteSnapshotPath(std::string_view path);  // commands_savepoints.cc

//! The --json outputs: objects keep their keys in the order they were set.
using Json = nlohmann::ordered_json;

//! Prints `json` to stdout, compact, on one line. Bytes that are not UTF-8 are written as U+FFFD,
//! so the output is always valid JSON.
void PrintJson(const Json& json);

//! Prints `rows` under `header` as left-aligned columns separated by two spaces.
void PrintTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// The commands, one per verb; each returns the exit code.
int ClusterStartCommand(const Invocation& invocation);           // commands_cluster.cc
int ClusterStopCommand(const Invocation& invocation);            // commands_cluster.cc
int ClusterAddTaskManagerCommand(const Invocation& invocation);  // commands_cluster.cc
int RunCommand(const Invocation& invocation);                    // commands_run.cc
int ListCommand(const Invocation& invocation);                   // commands_jobs.cc
int StatusCommand(const Invocation& invocation);                 // commands_jobs.cc
int ExceptionsCommand(const Invocation& invocation);             // commands_jobs.cc
int LogsCommand(const Invocation& invocation);                   // commands_logs.cc
int CancelCommand(const Invocation& invocation);                 // commands_jobs.cc
int TaskManagersCommand(const Invocation& invocation);           // commands_jobs.cc
int CheckpointsCommand(const Invocation& invocation);            // commands_checkpoints.cc
int SavepointCommand(const Invocation& invocation);              // commands_savepoints.cc
int StopCommand(const Invocation& invocation);                   // commands_savepoints.cc
int RescaleCommand(const Invocation& invocation);                // commands_savepoints.cc
int WatermarksCommand(const Invocation& invocation);             // commands_watermarks.cc

//! A watermark for people: an ISO 8601 UTC time, "none" (INT64_MIN) or "end of event time".
std::string FormatWatermark(int64_t watermark);  // commands_watermarks.cc

}  // namespace sluice::cli

#endif  // SLUICE_CLI_COMMAND_H_
