// sluice-taskmanager [--config FILE] [-D key=value]...
#include "common/daemon.h"
#include "common/log.h"
#include "taskmanager/failure_report.h"
#include "taskmanager/task_executor.h"

int main(int argc, char** argv) {
  const std::string kName = "sluice-taskmanager";
  int exit_code = 0;
  auto config = sluice::LoadDaemonConfig(kName, argc, argv, &exit_code);
  if (!config) return exit_code;
  // Before any thread starts: the watchdog is a fork of this process.
  sluice::taskmanager::StartCrashWatchdog();
  sluice::taskmanager::InstallCrashHandler();
  auto options = sluice::taskmanager::TaskManagerOptions::FromConfig(*config);
  if (!options.ok()) return sluice::DaemonFailure(kName, std::string(options.status().message()));
  sluice::taskmanager::TaskExecutor executor(*options);
  if (auto s = executor.Start(); !s.ok())
    return sluice::DaemonFailure(kName, std::string(s.message()));
  sluice::WaitForTerminationSignal();
  sluice::log::Get("taskmanager")->info("TaskManager shutting down");
  executor.Shutdown();
  return 0;
}
