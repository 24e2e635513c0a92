// sluice-jobmanager [--config FILE] [-D key=value]...
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/rpc.h"
#include "jobmanager/grpc_taskmanager_gateway.h"
#include "jobmanager/services.h"

int main(int argc, char** argv) {
  const std::string kName = "sluice-jobmanager";
  int exit_code = 0;
  auto config = sluice::LoadDaemonConfig(kName, argc, argv, &exit_code);
  if (!config) return exit_code;
  auto Fail = [&](const std::string& msg) { return sluice::DaemonFailure(kName, msg); };
  auto log = sluice::log::Get("jobmanager");

  using namespace sluice::jobmanager;
  std::chrono::milliseconds hb_interval(config->GetDurationMs("heartbeat.interval"));
  std::chrono::milliseconds hb_timeout(config->GetDurationMs("heartbeat.timeout"));
  BlobStore blobs(config->GetString("blob.storage.directory"));
  if (auto s = blobs.Init(); !s.ok()) return Fail(std::string(s.message()));
  ResourceManager rm(GrpcTaskManagerGatewayFactory(), hb_interval, hb_timeout);
  DispatcherOptions dopts;
  dopts.graph_builder_timeout =
      std::chrono::milliseconds(config->GetDurationMs("jobmanager.graph-builder.timeout"));
  dopts.config = *config;
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
  log->info("JobManager listening on {} (advertised as {})",
            bind.substr(0, bind.rfind(':')) + ":" + std::to_string(port), advertised);
  std::string address_file = config->GetString("jobmanager.address-file");
  if (!address_file.empty()) {
    std::string tmp = address_file + ".tmp";
    std::ofstream(tmp) << advertised << "\n";
    std::filesystem::rename(tmp, address_file);
  }

  sluice::WaitForTerminationSignal();
  log->info("JobManager shutting down");
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
