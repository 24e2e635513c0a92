// sluice-jobmanager [--config FILE] [-D key=value]...
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/metrics/prometheus_server.h"
#include "common/process.h"
#include "common/rpc.h"
#include "common/snapshot/s3_client.h"
#include "jobmanager/grpc_taskmanager_gateway.h"
#include "jobmanager/rest/jobmanager_metrics.h"
#include "jobmanager/rest/rest_server.h"
#include "jobmanager/services.h"

namespace {

//! Writes `text` to `path` atomically (a reader never sees half of it).
void WriteAddressFile(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text << "\n";
  std::filesystem::rename(tmp, path);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string kName = "sluice-jobmanager";
  int exit_code = 0;
  auto config = sluice::LoadDaemonConfig(kName, argc, argv, &exit_code);
  if (!config) return exit_code;
  // s3:// checkpoint and savepoint folders use the daemon's s3.* keys (Flink's file systems too).
  if (auto s3 = sluice::snapshot::S3OptionsFromConfig(*config); s3.ok()) {
    sluice::snapshot::SetDefaultS3Options(*std::move(s3));
  } else {
    return sluice::DaemonFailure(kName, std::string(s3.status().message()));
  }
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
  rm.SetCrashListener([&dispatcher](const std::string&, const std::string& old_reason,
                                    const std::string& new_reason) {
    dispatcher.CorrectFailureReason(old_reason, new_reason);
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

  // Prometheus' /metrics.
  std::unique_ptr<sluice::metrics::PrometheusServer> prometheus;
  std::string metrics_address;
  const std::string host = config->GetString("jobmanager.rpc.address");
  if (config->GetString("metrics.reporter.prom.port") != "none") {
    prometheus = std::make_unique<sluice::metrics::PrometheusServer>(
        config->GetString("jobmanager.bind-host"), config->GetString("metrics.reporter.prom.port"),
        [&dispatcher, &rm, host] { return rest::RenderJobManagerMetrics(dispatcher, rm, host); });
    auto prom_port = prometheus->Start();
    if (!prom_port.ok()) {
      server->Shutdown(std::chrono::system_clock::now());
      return Fail(std::string(prom_port.status().message()));
    }
    metrics_address = absl::StrCat(host, ":", *prom_port);
    log->info("Prometheus metrics at http://{}/metrics", metrics_address);
  }

  // The REST API: the same Dispatcher and ResourceManager the gRPC client API calls.
  std::string upload_dir = config->GetString("web.upload.dir");
  if (upload_dir.empty()) upload_dir = config->GetString("blob.storage.directory") + "/jars";
  rest::JarStore jars(upload_dir, &blobs);
  rest::Operations operations;
  std::unique_ptr<rest::RestServer> rest_server;
  if (config->GetInt("rest.port") >= 0) {
    if (auto s = jars.Init(); !s.ok()) return Fail(std::string(s.message()));
    rest::RestServerOptions ropts;
    ropts.bind_address = config->GetString("rest.bind-address");
    ropts.port = static_cast<int>(config->GetInt("rest.port"));
    ropts.advertised_host = config->GetString("rest.address");
    ropts.max_content_length =
        static_cast<size_t>(config->GetMemoryBytes("rest.server.max-content-length"));
    ropts.threads = static_cast<int>(config->GetInt("rest.server.numThreads"));
    ropts.web_dir = config->GetString("web.dashboard.dir");
    if (ropts.web_dir.empty()) {
      if (auto bin = sluice::ExecutableDirectory(); bin.ok()) ropts.web_dir = *bin + "/../web";
    }
    rest::RestContext rctx;
    rctx.dispatcher = &dispatcher;
    rctx.resource_manager = &rm;
    rctx.jars = &jars;
    rctx.operations = &operations;
    rctx.config = &*config;
    rctx.log_dir = config->GetString("env.log.dir");
    rctx.metrics_address = metrics_address;
    rest_server = std::make_unique<rest::RestServer>(ropts, rctx);
    auto rest_port = rest_server->Start();
    if (!rest_port.ok()) {
      server->Shutdown(std::chrono::system_clock::now());
      return Fail(std::string(rest_port.status().message()));
    }
    log->info("REST API and dashboard listening on {}:{} (advertised as {})", ropts.bind_address,
              *rest_port, rest_server->web_address());
    WriteAddressFile(config->GetString("rest.address-file"), rest_server->web_address());
  }
  // Last: `cluster start` waits for this file, and then finds the REST address too.
  WriteAddressFile(config->GetString("jobmanager.address-file"), advertised);

  sluice::WaitForTerminationSignal();
  log->info("JobManager shutting down");
  if (rest_server) rest_server->Stop();
  if (prometheus) prometheus->Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
