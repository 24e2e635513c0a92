// The CLI as a job author meets it, against real clusters: finding the JobManager each way
// (--jobmanager, --dir, SLUICE_JOBMANAGER, --config, SLUICE_CONF_DIR), a Flink config.yaml with
// keys Sluice lacks starting a cluster with one warning, `status` saying why a restart waits and
// since when, the exceptions history, and `logs` for the JobManager and a TaskManager.

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

//! Sets an environment variable for the scope (the CLI inherits the test's environment).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

int CountLines(const std::string& text, const std::string& part) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) n += absl::StrContains(line, part);
  return n;
}

TEST(IntegrationCli, FindsTheJobManagerEachWay) {
  LocalCluster cluster;
  ASSERT_TRUE(cluster.Start({.taskmanagers = 1, .slots = 1}).ok());
  const std::string address = cluster.address();
  const size_t colon = address.rfind(':');
  const std::string yaml =
      absl::StrCat("jobmanager:\n  rpc:\n    address: ", address.substr(0, colon),
                   "\n    port: ", address.substr(colon + 1), "\n");

  CommandResult flag = RunSluice({"list", "--jobmanager", address});
  EXPECT_TRUE(flag.ok()) << flag.Describe();
  CommandResult dir = RunSluice({"list", "--dir", cluster.cluster_dir()});
  EXPECT_TRUE(dir.ok()) << dir.Describe();
  {
    ScopedEnv env("SLUICE_JOBMANAGER", address);
    CommandResult from_env = RunSluice({"taskmanagers"});
    EXPECT_TRUE(from_env.ok()) << from_env.Describe();
    EXPECT_TRUE(absl::StrContains(from_env.out, "SLOTS")) << from_env.Describe();
  }
  const std::string conf_dir = cluster.NewDir("conf");
  WriteFile(conf_dir + "/sluice.yaml", yaml);
  CommandResult config = RunSluice({"list", "--config", conf_dir + "/sluice.yaml"});
  EXPECT_TRUE(config.ok()) << config.Describe();
  {
    ScopedEnv env("SLUICE_CONF_DIR", conf_dir);
    CommandResult conf_env = RunSluice({"list"});
    EXPECT_TRUE(conf_env.ok()) << conf_env.Describe();
  }
  // --dir wins over a wrong SLUICE_JOBMANAGER.
  {
    ScopedEnv env("SLUICE_JOBMANAGER", "127.0.0.1:1");
    CommandResult both = RunSluice({"list", "--dir", cluster.cluster_dir()});
    EXPECT_TRUE(both.ok()) << both.Describe();
  }
  // None of them, and a configuration that cannot say: a usage error naming the ways.
  CommandResult none = RunSluice({"list", "-D", "jobmanager.rpc.port=0"});
  EXPECT_EQ(none.exit_code, 2) << none.Describe();
  EXPECT_TRUE(absl::StrContains(none.err, "--dir CLUSTER_DIR, set SLUICE_JOBMANAGER"))
      << none.Describe();
  CommandResult no_cluster = RunSluice({"list", "--dir", conf_dir});
  EXPECT_EQ(no_cluster.exit_code, 2) << no_cluster.Describe();
  EXPECT_TRUE(absl::StrContains(no_cluster.err, "no cluster in")) << no_cluster.Describe();

  CommandResult version = RunSluice({"--version"});
  EXPECT_TRUE(version.ok()) << version.Describe();
  EXPECT_TRUE(absl::StartsWith(version.out, "sluice ")) << version.Describe();
}

// A Flink 1.19+ config.yaml (nested keys) with keys Sluice does not implement.
TEST(IntegrationCli, FlinkConfigYamlStartsAClusterWithOneWarning) {
  LocalCluster cluster;
  const std::string conf_dir = cluster.NewDir("flink-conf");
  WriteFile(conf_dir + "/config.yaml", R"(jobmanager:
  rpc:
    address: 127.0.0.1
  memory:
    process:
      size: 1600m
  execution:
    failover-strategy: region
taskmanager:
  memory:
    process:
      size: 1728m
parallelism:
  default: 1
pipeline:
  max-parallelism: 64
state:
  backend: hashmap
execution:
  runtime-mode: STREAMING
high-availability:
  type: NONE
)");
  ASSERT_TRUE(cluster
                  .Start({.taskmanagers = 1,
                          .slots = 2,
                          .extra_args = {"--config", conf_dir + "/config.yaml"}})
                  .ok())
      << cluster.start_result().Describe();
  const std::string& err = cluster.start_result().err;
  EXPECT_EQ(CountLines(err, "warning"), 1) << err;
  EXPECT_TRUE(
      absl::StrContains(err,
                        "ignoring 4 Flink configuration key(s) that Sluice does not implement: "
                        "jobmanager.memory.process.size, jobmanager.execution.failover-strategy, "
                        "execution.runtime-mode, high-availability.type"))
      << err;
  const std::string jm_log = ReadFile(cluster.cluster_dir() + "/log/jobmanager.log");
  EXPECT_EQ(CountLines(jm_log, "ignoring 4 Flink configuration key(s)"), 1) << jm_log;
  // The TaskManager divides Flink's process size as Flink would (docs/state-backends.md).
  const std::string tm_log = ReadFile(cluster.cluster_dir() + "/log/taskmanager-1.log");
  EXPECT_TRUE(absl::StrContains(
      tm_log, "memory: process 1728 MiB = framework 64 MiB + network 172 MiB + managed 691 MiB"))
      << tm_log;

  // pipeline.max-parallelism reaches the job and its two operators.
  absl::StatusOr<std::string> job =
      cluster.SubmitDetached(BuildDir() + "/examples/ledger.so", 2, {"transactions=0", "rate=10"});
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok()) << cluster.LogTails();
  CommandResult details =
      RunCommand({"/usr/bin/curl", "-s", absl::StrCat(cluster.RestAddress(), "/jobs/", *job)});
  ASSERT_TRUE(details.ok()) << details.Describe();
  EXPECT_EQ(CountLines(absl::StrReplaceAll(details.out, {{",", "\n"}}), "\"maxParallelism\":64"), 3)
      << details.out;
}

TEST(IntegrationCli, StatusSaysWhyARestartWaitsAndLogsShowEachDaemon) {
  LocalCluster cluster;
  ASSERT_TRUE(cluster.Start({.taskmanagers = 1, .slots = 2}).ok());
  absl::StatusOr<std::string> job = cluster.SubmitDetached(
      BuildDir() + "/examples/ledger.so", 2, {"transactions=0", "rate=10"},
      {"-D", "restart-strategy=fixed-delay", "-D", "restart-strategy.fixed-delay.attempts=1000",
       "-D", "restart-strategy.fixed-delay.delay=200ms"});
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok()) << cluster.LogTails();
  absl::StatusOr<std::string> tm = cluster.TaskManagerId(1);
  ASSERT_TRUE(tm.ok()) << tm.status();

  CommandResult jm_log = cluster.Sluice({"logs", "jobmanager", "--lines", "5"});
  ASSERT_TRUE(jm_log.ok()) << jm_log.Describe();
  EXPECT_EQ(CountLines(jm_log.out, "[") >= 1, true) << jm_log.out;
  EXPECT_LE(CountLines(jm_log.out, "\n"), 5) << jm_log.out;
  CommandResult tm_log = cluster.Sluice({"logs", *tm});
  ASSERT_TRUE(tm_log.ok()) << tm_log.Describe();
  EXPECT_TRUE(absl::StrContains(tm_log.out, "registered at the JobManager")) << tm_log.out;
  CommandResult unknown = cluster.Sluice({"logs", "tm-nosuch"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.Describe();
  EXPECT_TRUE(absl::StrContains(unknown.err, *tm)) << unknown.Describe();

  ASSERT_TRUE(cluster.KillTaskManager(1).ok());
  absl::StatusOr<JsonValue> waiting = cluster.WaitForStatus(*job, [](const JsonValue& s) {
    return StringField(s, "state") == "RESTARTING" &&
           absl::StrContains(StringField(s, "waitingFor"), "task slots");
  });
  ASSERT_TRUE(waiting.ok()) << waiting.status() << cluster.LogTails();
  EXPECT_TRUE(absl::StrContains(StringField(*waiting, "waitingFor"), "needs 2 slot(s)"))
      << StringField(*waiting, "waitingFor");
  CommandResult status = cluster.Sluice({"status", *job});
  ASSERT_TRUE(status.ok()) << status.Describe();
  EXPECT_TRUE(absl::StrContains(status.out, ": RESTARTING since ")) << status.out;
  EXPECT_TRUE(absl::StrContains(status.out, "Waiting for: task slots")) << status.out;
  CommandResult exceptions = cluster.Sluice({"exceptions", *job});
  ASSERT_TRUE(exceptions.ok()) << exceptions.Describe();
  EXPECT_TRUE(absl::StrContains(exceptions.out, "the job restarted")) << exceptions.out;
  EXPECT_TRUE(absl::StrContains(exceptions.out, absl::StrCat("TaskManager ", *tm)))
      << exceptions.out;

  // A new TaskManager: the job runs again, and the wait is over.
  ASSERT_TRUE(cluster.AddTaskManager().ok()) << cluster.LogTails();
  absl::StatusOr<JsonValue> running = cluster.WaitForAllRunning(*job);
  ASSERT_TRUE(running.ok()) << running.status() << cluster.LogTails();
  EXPECT_EQ(StringField(*running, "waitingFor"), "");
}

// The print sink flushes each line: a running job's output is in the TaskManager's log at once,
// and `sluice logs --follow` shows it as it comes.
TEST(IntegrationCli, PrintSinkLinesShowInTheLogWhileTheJobRuns) {
  LocalCluster cluster;
  ASSERT_TRUE(cluster.Start({.taskmanagers = 1, .slots = 1}).ok());
  absl::StatusOr<std::string> job = cluster.SubmitDetached(TestPackage("print_job"), 1, {});
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<std::string> tm = cluster.TaskManagerId(1);
  ASSERT_TRUE(tm.ok()) << tm.status();
  std::string seen;
  EXPECT_TRUE(WaitUntil([&] {
    seen = cluster.Sluice({"logs", *tm, "--lines", "20"}).out;
    return absl::StrContains(seen, "tick 3\n");
  })) << seen;
  absl::StatusOr<JsonValue> status = cluster.JobStatus(*job);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(StringField(*status, "state"), "RUNNING");
  // --follow keeps printing new lines until it is stopped (here: by the command's time-out).
  CommandResult follow =
      cluster.Sluice({"logs", *tm, "--lines", "1", "--follow"}, absl::Seconds(3));
  EXPECT_TRUE(follow.timed_out) << follow.Describe();
  EXPECT_GE(CountLines(follow.out, "tick "), 3) << follow.out;
}

}  // namespace
}  // namespace sluice::testing
