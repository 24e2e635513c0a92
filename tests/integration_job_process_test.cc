// taskmanager.process-per-job on a real 2 TaskManager x 2 slot cluster: each job's tasks run in a
// process of their own on every TaskManager, so a job whose user code segfaults fails alone,
// saying why, while another job on the same TaskManagers runs on untouched and exactly-once.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/ledger_check.h"

namespace sluice::testing {
namespace {

std::string TaskManagerLogs(const LocalCluster& cluster) {
  std::string logs;
  for (int i = 1; i <= 2; ++i) {
    logs += ReadFile(absl::StrCat(cluster.cluster_dir(), "/log/taskmanager-", i, ".log"));
  }
  return logs;
}

TEST(IntegrationJobProcess, CrashingJobLeavesAnotherJobOnTheSameTaskManagersRunningExactlyOnce) {
  LocalCluster cluster;
  absl::Status started =
      cluster.Start(ClusterOptions{.defines = {"taskmanager.process-per-job=true"}});
  ASSERT_TRUE(started.ok()) << started;

  // The ledger at parallelism 2: one subtask on each TaskManager, checkpointing, exactly-once file
  // output; slow enough to run through the other job's whole life.
  constexpr int64_t kTransactions = 12000;
  std::string out = cluster.NewDir("ledger");
  std::vector<std::string> run = {"run",
                                  ExamplePackage("ledger"),
                                  "--detached",
                                  "--parallelism",
                                  "2",
                                  "--arg",
                                  absl::StrCat("transactions=", kTransactions),
                                  "--arg",
                                  "rate=250",
                                  "--arg",
                                  "output=" + out};
  for (const std::string& d : CheckpointDefines("hashmap", cluster.NewDir("checkpoints"))) {
    run.push_back(d);
  }
  CommandResult submitted = cluster.Sluice(run);
  ASSERT_TRUE(submitted.ok()) << submitted.Describe();
  const std::string ledger = submitted.LastLine();
  ASSERT_TRUE(cluster.WaitForAllRunning(ledger).ok()) << cluster.LogTails();

  // The crashing job takes the other two slots, again one on each TaskManager.
  absl::StatusOr<std::string> crash = cluster.SubmitDetached(TestPackage("crashing_job"), 2, {});
  ASSERT_TRUE(crash.ok()) << crash.status();
  // The crash report may come a moment after the job failed for a consumer's lost connection:
  // the JobManager then puts the crash in its place (the root cause).
  absl::StatusOr<JsonValue> failed = cluster.WaitForStatus(*crash, [](const JsonValue& s) {
    return StringField(s, "state") == "FAILED" &&
           absl::StrContains(StringField(s, "failure"), "the process of job");
  });
  ASSERT_TRUE(failed.ok()) << failed.status() << cluster.LogTails();
  const std::string failure = StringField(*failed, "failure");
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's runtime takes over SIGSEGV: the process ends with its report instead.
  EXPECT_TRUE(absl::StrContains(failure, "the process of job " + *crash)) << failure;
#else
  EXPECT_TRUE(absl::StrContains(
      failure, absl::StrCat("the process of job ", *crash,
                            " crashed (SIGSEGV) while running task 'Crash -> Discard (")))
      << failure;
  EXPECT_TRUE(absl::StrContains(TaskManagerLogs(cluster),
                                "*** sluice-taskmanager crashed (SIGSEGV) while running task "
                                "'Crash -> Discard ("))
      << cluster.LogTails();
#endif

  // The ledger never noticed: it finishes without a restart, every transaction exactly once.
  absl::StatusOr<JsonValue> done = cluster.WaitForState(ledger, "FINISHED", absl::Minutes(3));
  ASSERT_TRUE(done.ok()) << done.status() << cluster.LogTails();
  EXPECT_EQ(IntField(*done, "numRestarts"), 0) << StringField(*done, "failure");
  ExpectExactlyOnce(ReadLedger(out), kTransactions, 1000);

  // Each job had a process of its own on each TaskManager.
  const std::string logs = TaskManagerLogs(cluster);
  for (const std::string& job : {ledger, *crash}) {
    EXPECT_TRUE(absl::StrContains(logs, "started the process of job " + job)) << logs;
  }
  // The TaskManagers stayed registered all along.
  CommandResult tms = cluster.Sluice({"taskmanagers"});
  ASSERT_TRUE(tms.ok()) << tms.Describe();
  for (int i = 1; i <= 2; ++i) {
    absl::StatusOr<std::string> id = cluster.TaskManagerId(i);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_TRUE(absl::StrContains(tms.out, *id)) << tms.out;
  }
}

}  // namespace
}  // namespace sluice::testing
