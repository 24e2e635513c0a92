// Prometheus scrapes a real cluster: Debian's Prometheus server, started by the test on loopback,
// discovers the JobManager and every TaskManager through the JobManager's /metrics/targets (HTTP
// service discovery) and scrapes their /metrics. The test then asks Prometheus' HTTP API for what
// the job did: the records per second its sources emit (they are rate-limited, so the figure is
// known) and numRestarts after one TaskManager is killed.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/prometheus_process.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

TEST(IntegrationPrometheus, PrometheusScrapesEveryDaemonAndSeesWhatTheJobDid) {
  ASSERT_TRUE(fs::exists(kPrometheusBinary))
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
  ASSERT_TRUE(WaitUntil([&] { return prometheus.Ready(); })) << prometheus.Log();

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
