// Prometheus scrapes a real cluster: Debian's Prometheus server, started by the test on loopback,
// discovers the JobManager and every TaskManager through the JobManager's /metrics/targets (HTTP
// service discovery) and scrapes their /metrics. The test then asks Prometheus' HTTP API for what
// the job did: the records per second its sources emit (they are rate-limited, so the figure is
// known) and numRestarts after one TaskManager is killed.

#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr char kPrometheus[] = "/usr/bin/prometheus";

//! A free loopback port (bound and released: Prometheus cannot be told to pick one itself).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

//! A Prometheus server process, killed (by pid) and reaped when this goes.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& dir, const std::string& targets_url) {
    port_ = FreePort();
    const std::string config = dir + "/prometheus.yml";
    WriteFile(config, absl::StrCat("global:\n"
                                   "  scrape_interval: 1s\n"
                                   "  evaluation_interval: 1s\n"
                                   "scrape_configs:\n"
                                   "  - job_name: sluice\n"
                                   "    http_sd_configs:\n"
                                   "      - url: ",
                                   targets_url,
                                   "\n"
                                   "        refresh_interval: 1s\n"));
    std::vector<std::string> args = {
        kPrometheus, "--config.file=" + config, "--storage.tsdb.path=" + dir + "/data",
        absl::StrCat("--web.listen-address=127.0.0.1:", port_), "--log.level=warn"};
    const std::string log = dir + "/prometheus.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      FILE* out = std::fopen(log.c_str(), "w");
      if (out) {
        ::dup2(fileno(out), STDOUT_FILENO);
        ::dup2(fileno(out), STDERR_FILENO);
      }
      ::execv(kPrometheus, argv.data());
      ::_exit(127);
    }
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool Ready() {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(2);
    auto r = c.Get("/-/ready");
    return r && r->status == 200;
  }
  //! Whether Prometheus accepts the query (status success), whatever it finds.
  bool Accepts(const std::string& promql) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10);
    auto r = c.Get("/api/v1/query?" + httplib::detail::params_to_query_str({{"query", promql}}));
    if (!r || r->status != 200) return false;
    Json j = Json::parse(r->body, nullptr, false);
    return !j.is_discarded() && j["status"] == "success";
  }
  //! The value of an instant query's first sample; nullopt when the result is empty.
  std::optional<double> Query(const std::string& promql) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10);
    auto r = c.Get("/api/v1/query?" + httplib::detail::params_to_query_str({{"query", promql}}));
    if (!r || r->status != 200) return std::nullopt;
    Json j = Json::parse(r->body, nullptr, false);
    if (j.is_discarded() || j["status"] != "success" || j["data"]["result"].empty()) {
      return std::nullopt;
    }
    return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
  }

 private:
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST(IntegrationPrometheus, PrometheusScrapesEveryDaemonAndSeesWhatTheJobDid) {
  ASSERT_TRUE(fs::exists(kPrometheus))
      << "Debian's prometheus is missing: `make test` installs it (scripts/install-deps.sh)";
  LocalCluster cluster;
  ClusterOptions options;
  options.taskmanagers = 2;
  options.slots = 2;
  ASSERT_TRUE(cluster.Start(options).ok());
  const std::string rest = cluster.RestAddress();

  // Two sources, each rate-limited to 500 records per second.
  absl::StatusOr<std::string> job =
      cluster.SubmitDetached(ExamplePackage("ledger"), 2,
                             {"transactions=0", "rate=500", "output=" + cluster.NewDir("out")},
                             CheckpointDefines("hashmap", cluster.ScratchPath("chk")));
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok());

  PrometheusProcess prometheus(cluster.NewDir("prometheus"), rest + "/metrics/targets");
  ASSERT_TRUE(WaitUntil([&] { return prometheus.Ready(); }))
      << ReadFile(cluster.ScratchPath("prometheus") + "/prometheus.log");

  // Every daemon is discovered and up.
  ASSERT_TRUE(WaitUntil([&] { return prometheus.Query("count(up == 1)") == 3.0; }))
      << "count(up == 1): " << prometheus.Query("count(up == 1)").value_or(-1);
  EXPECT_EQ(prometheus.Query("flink_jobmanager_numRegisteredTaskManagers"), 2.0);
  EXPECT_EQ(prometheus.Query("flink_jobmanager_taskSlotsTotal"), 4.0);

  // The sources emit 2 x 500 records per second.
  const std::string rate =
      "sum(flink_taskmanager_job_task_numRecordsOutPerSecond{task_name=~\""
      "Transactions.*\",job_id=\"" +
      *job + "\"})";
  std::optional<double> out;
  EXPECT_TRUE(WaitUntil([&] {
    out = prometheus.Query(rate);
    return out && *out > 800 && *out < 1200;
  })) << rate
      << " = " << out.value_or(-1);
  EXPECT_TRUE(prometheus.Query("flink_taskmanager_Status_Process_ResidentMemory").value_or(0) > 0);
  EXPECT_TRUE(prometheus.Query("sum(flink_taskmanager_Status_Shuffle_Netty_UsedMemorySegments)")
                  .value_or(0) > 0);
  // The memory budget's parts: each TaskManager's managed memory, its network part in use.
  EXPECT_EQ(prometheus.Query("count(flink_taskmanager_Status_Flink_Memory_Managed_Total > 0)"),
            2.0);
  EXPECT_TRUE(
      prometheus.Query("sum(sluice_taskmanager_memory_used_bytes{part=\"network\"})").value_or(0) >
      0);

  // Every query of the Grafana dashboard in deploy/ is one Prometheus accepts, and those over the
  // job's tasks find series.
  Json dashboard =
      Json::parse(ReadFile(std::string(SLUICE_SOURCE_DIR) + "/deploy/grafana-dashboard.json"));
  int queries = 0;
  for (const Json& panel : dashboard["panels"]) {
    for (const Json& target : panel["targets"]) {
      std::string expr = target["expr"];
      for (size_t at; (at = expr.find("$job")) != std::string::npos;) expr.replace(at, 4, ".*");
      EXPECT_TRUE(prometheus.Accepts(expr)) << panel["title"] << ": " << expr;
      ++queries;
    }
  }
  EXPECT_GE(queries, 10);
  EXPECT_TRUE(prometheus.Query("sum(flink_taskmanager_job_task_busyTimeMsPerSecond)").has_value());

  // One TaskManager killed: one restart, and Prometheus sees it.
  const std::string restarts = "flink_jobmanager_job_numRestarts{job_id=\"" + *job + "\"}";
  EXPECT_EQ(prometheus.Query(restarts), 0.0);
  ASSERT_TRUE(cluster.KillTaskManager(1).ok());
  ASSERT_TRUE(cluster.AddTaskManager().ok());
  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok());
  std::optional<double> seen;
  EXPECT_TRUE(WaitUntil([&] {
    seen = prometheus.Query(restarts);
    return seen == 1.0;
  })) << restarts
      << " = " << seen.value_or(-1);
}

}  // namespace
}  // namespace sluice::testing
