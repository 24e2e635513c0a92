// sluice-taskmanager [--config FILE] [-D key=value]...
// A job process (taskmanager.process-per-job) is this executable started by its TaskManager with
// `--job-process JOB --control-fd FD` before the daemon's own arguments (job_processes.h).
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/snapshot/s3_client.h"
#include "taskmanager/failure_report.h"
#include "taskmanager/task_executor.h"

int main(int argc, char** argv) {
  const std::string kName = "sluice-taskmanager";
  std::string job_process;
  int control_fd = -1;
  std::vector<char*> args = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--job-process" && i + 1 < argc) {
      job_process = argv[++i];
    } else if (a == "--control-fd" && i + 1 < argc) {
      if (!absl::SimpleAtoi(argv[++i], &control_fd) || control_fd < 0) {
        return sluice::DaemonFailure(kName, "--control-fd needs a file descriptor number");
      }
    } else {
      args.push_back(argv[i]);
    }
  }
  if (job_process.empty() != (control_fd < 0)) {
    return sluice::DaemonFailure(kName, "--job-process and --control-fd go together");
  }
  int exit_code = 0;
  auto config =
      sluice::LoadDaemonConfig(kName, static_cast<int>(args.size()), args.data(), &exit_code);
  if (!config) return exit_code;
  // s3:// checkpoint and savepoint folders use the daemon's s3.* keys (Flink's file systems too).
  if (auto s3 = sluice::snapshot::S3OptionsFromConfig(*config); s3.ok()) {
    sluice::snapshot::SetDefaultS3Options(*std::move(s3));
  } else {
    return sluice::DaemonFailure(kName, std::string(s3.status().message()));
  }
  if (job_process.empty()) {
    // Before any thread starts: the watchdog is a fork of this process.
    sluice::taskmanager::StartCrashWatchdog();
  } else {
    sluice::taskmanager::UseCrashPipe(control_fd);  // the daemon is the watchdog
  }
  sluice::taskmanager::InstallCrashHandler();
  auto options = sluice::taskmanager::TaskManagerOptions::FromConfig(*config);
  if (!options.ok()) return sluice::DaemonFailure(kName, std::string(options.status().message()));
  options->daemon_args.assign(args.begin() + 1, args.end());
  options->job_process = job_process;
  options->control_fd = control_fd;
  sluice::taskmanager::TaskExecutor executor(*options);
  if (auto s = executor.Start(); !s.ok())
    return sluice::DaemonFailure(kName, std::string(s.message()));
  sluice::WaitForTerminationSignal();
  sluice::log::Get("taskmanager")
      ->info(job_process.empty() ? "TaskManager shutting down" : "job process shutting down");
  executor.Shutdown();
  return 0;
}
