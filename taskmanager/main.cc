// sluice-taskmanager [--config FILE] [-D key=value]...
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/config/config.h"
#include "common/log.h"
#include "taskmanager/task_executor.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }
int Fail(const std::string& msg) {
  std::fprintf(stderr, "sluice-taskmanager: %s\n", msg.c_str());
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  // Debian builds abseil with mutex deadlock detection on; it costs on every lock in the data plane.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::string config_path;
  std::vector<std::string> overrides;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("usage: %s [--config FILE] [-D key=value]...\n\n%s", "sluice-taskmanager",
                  sluice::config::DescribeOptions().c_str());
      return 0;
    }
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "-D" && i + 1 < argc) {
      overrides.push_back(argv[++i]);
    } else if (a.rfind("-D", 0) == 0 && a.size() > 2) {
      overrides.push_back(a.substr(2));
    } else {
      return Fail(absl::StrCat("unknown argument '", a,
                               "' (usage: sluice-taskmanager [--config FILE] [-D key=value]...)"));
    }
  }
  auto config = sluice::config::Configuration::Load(config_path, overrides);
  if (!config.ok()) return Fail(std::string(config.status().message()));
  sluice::log::SetLevel(config->GetString("log.level"));
  auto options = sluice::taskmanager::TaskManagerOptions::FromConfig(*config);
  if (!options.ok()) return Fail(std::string(options.status().message()));
  signal(SIGPIPE, SIG_IGN);
  sluice::taskmanager::TaskExecutor executor(*options);
  if (auto s = executor.Start(); !s.ok()) return Fail(std::string(s.message()));
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  sluice::log::Get("taskmanager")->info("TaskManager shutting down");
  executor.Shutdown();
  return 0;
}
