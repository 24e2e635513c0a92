#ifndef SLUICE_CLI_DAEMONS_H_
#define SLUICE_CLI_DAEMONS_H_

// Process plumbing for `sluice cluster start|stop`: starting a daemon detached in its own
// session, pid files, liveness checks that are safe against pid reuse, and log tails.
// Linux-only (uses /proc). Called from the CLI's single thread, before any gRPC channel exists
// when it forks.

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sluice::cli {

//! Starts `binary` with `args` in a new session: stdin from /dev/null, stdout and stderr
//! appended to `log_path`, signal dispositions and mask reset. Fails (without leaving a child
//! behind) if the binary cannot be executed.
absl::StatusOr<pid_t> SpawnDaemon(const std::string& binary, const std::vector<std::string>& args,
                                  const std::string& log_path);

//! For a child of this process: reaps it if it has exited and describes how ("exit code 1",
//! "killed by signal 9"). Returns false while it is still running.
bool ChildExited(pid_t pid, std::string* how);

//! Whether `pid` names a process that has not exited (zombies count as exited).
bool IsAlive(pid_t pid);

//! Whether the program of `pid` (the file name of argv[0] in /proc/<pid>/cmdline) is
//! `program`, e.g. "sluice-taskmanager". Guards against signalling a recycled pid.
bool IsProgram(pid_t pid, std::string_view program);

//! Sends SIGTERM and waits up to `grace` for the process to go; then SIGKILL and a short wait.
//! Returns "stopped", "killed" (needed SIGKILL) or an error if it survived even that.
absl::StatusOr<std::string> StopProcess(pid_t pid, absl::Duration grace);

//! Waits until none of `pids` is alive or `timeout` passes; returns those still alive.
std::vector<pid_t> WaitForExit(const std::vector<pid_t>& pids, absl::Duration timeout);

absl::StatusOr<pid_t> ReadPidFile(const std::string& path);
absl::Status WritePidFile(const std::string& path, pid_t pid);

//! The last `n` lines of the file at `path` (reads at most its last 64 KiB); "" if unreadable.
std::string TailLines(const std::string& path, int n);

}  // namespace sluice::cli

#endif  // SLUICE_CLI_DAEMONS_H_
