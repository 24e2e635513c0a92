// sluice-jobmanager [--config FILE] [-D key=value]...
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/config/config.h"
#include "common/log.h"
#include "common/rpc.h"
#include "jobmanager/services.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

int Fail(const std::string& msg) {
  std::fprintf(stderr, "sluice-jobmanager: %s\n", msg.c_str());
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
      std::printf("usage: %s [--config FILE] [-D key=value]...\n\n%s", "sluice-jobmanager",
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
      return Fail(absl::StrCat("unknown argument '", a, "' (usage: sluice-jobmanager [--config FILE] [-D key=value]...)"));
    }
  }
  auto config = sluice::config::Configuration::Load(config_path, overrides);
  if (!config.ok()) return Fail(std::string(config.status().message()));
  sluice::log::SetLevel(config->GetString("log.level"));
  auto log = sluice::log::Get("jobmanager");

  using namespace sluice::jobmanager;
  std::chrono::milliseconds hb_interval(config->GetDurationMs("heartbeat.interval"));
  std::chrono::milliseconds hb_timeout(config->GetDurationMs("heartbeat.timeout"));
  BlobStore blobs(config->GetString("blob.storage.directory"));
  if (auto s = blobs.Init(); !s.ok()) return Fail(std::string(s.message()));
  ResourceManager rm(hb_interval, hb_timeout);
  DispatcherOptions dopts;
  dopts.default_parallelism = static_cast<int>(config->GetInt("parallelism.default"));
  dopts.buffer_timeout_ms = config->GetDurationMs("execution.buffer-timeout");
  dopts.graph_builder_timeout =
      std::chrono::milliseconds(config->GetDurationMs("jobmanager.graph-builder.timeout"));
  Dispatcher dispatcher(dopts, &blobs, &rm);
  rm.SetLostListener([&dispatcher](const std::string& id, const std::string& reason) {
    dispatcher.OnTaskManagerLost(id, reason);
  });

  ClientServiceImpl client_service(&dispatcher, &rm, &blobs);
  ClusterServiceImpl cluster_service(&dispatcher, &rm, &blobs, hb_interval.count());
  std::string bind = absl::StrCat(config->GetString("jobmanager.bind-host"), ":",
                                  config->GetInt("jobmanager.rpc.port"));
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(bind, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.RegisterService(&client_service);
  builder.RegisterService(&cluster_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return Fail(absl::StrCat("cannot listen on ", bind));
  std::string advertised = absl::StrCat(config->GetString("jobmanager.rpc.address"), ":", port);
  log->info("JobManager listening on {} (advertised as {})", bind.substr(0, bind.rfind(':')) + ":" +
                                                                 std::to_string(port), advertised);
  std::string address_file = config->GetString("jobmanager.address-file");
  if (!address_file.empty()) {
    std::string tmp = address_file + ".tmp";
    std::ofstream(tmp) << advertised << "\n";
    std::filesystem::rename(tmp, address_file);
  }

  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  log->info("JobManager shutting down");
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
