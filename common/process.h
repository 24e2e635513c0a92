// Child processes: run a helper to completion with captured output and a time limit.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sluice {

struct ProcessResult {
  int exit_code = -1;   // valid when term_signal == 0
  int term_signal = 0;  // the signal that ended the process, 0 if it exited
  bool timed_out = false;
  std::string out;
  std::string err;
};

//! Runs argv[0] with argv (no shell), stdin from /dev/null, capturing stdout and stderr (each
//! capped at max_output bytes). Kills the child with SIGKILL after `timeout`.
absl::StatusOr<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                         std::chrono::milliseconds timeout,
                                         size_t max_output = 64 << 20);

//! The running executable (readlink /proc/self/exe).
absl::StatusOr<std::string> ExecutablePath();

//! Directory of the running executable: where the daemons and helpers installed beside it are.
absl::StatusOr<std::string> ExecutableDirectory();

}  // namespace sluice
