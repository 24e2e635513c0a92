#include "common/daemon.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/process.h"

namespace sluice {
namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

}  // namespace

int DaemonFailure(const std::string& daemon, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", daemon.c_str(), message.c_str());
  return 2;
}

std::optional<config::Configuration> LoadDaemonConfig(const std::string& daemon, int argc,
                                                      char** argv, int* exit_code) {
  // Debian builds abseil with mutex deadlock detection on; it costs on every lock in the data
  // plane.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string usage = "usage: " + daemon + " [--config FILE] [-D key=value]...";
  std::string config_path;
  std::vector<std::string> overrides;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("%s\n\n%s", usage.c_str(), config::DescribeOptions().c_str());
      *exit_code = 0;
      return std::nullopt;
    }
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "-D" && i + 1 < argc) {
      overrides.push_back(argv[++i]);
    } else if (a.rfind("-D", 0) == 0 && a.size() > 2) {
      overrides.push_back(a.substr(2));
    } else {
      *exit_code = DaemonFailure(daemon, "unknown argument '" + a + "' (" + usage + ")");
      return std::nullopt;
    }
  }
  absl::StatusOr<std::string> config_file = ConfigFileOfThisProcess(config_path);
  if (!config_file.ok()) {
    *exit_code = DaemonFailure(daemon, std::string(config_file.status().message()));
    return std::nullopt;
  }
  auto config = config::Configuration::Load(*config_file, overrides);
  if (!config.ok()) {
    *exit_code = DaemonFailure(daemon, std::string(config.status().message()));
    return std::nullopt;
  }
  log::SetLevel(config->GetString("log.level"));
  if (absl::Status s = log::SetFormat(config->GetString("log.format")); !s.ok()) {
    *exit_code = DaemonFailure(daemon, std::string(s.message()));
    return std::nullopt;
  }
  if (std::string warning = config->IgnoredKeysWarning(); !warning.empty()) {
    log::Get(daemon)->warn("{}", warning);
  }
  signal(SIGPIPE, SIG_IGN);
  return *std::move(config);
}

absl::StatusOr<std::string> ConfigFileOfThisProcess(const std::string& explicit_path) {
  absl::StatusOr<std::string> bin_dir = ExecutableDirectory();
  return config::FindConfigFile(explicit_path, std::getenv("SLUICE_CONF_DIR"),
                                bin_dir.ok() ? *bin_dir + "/../conf/sluice.yaml" : "");
}

void WaitForTerminationSignal() {
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

}  // namespace sluice
