// Failures and cancellation on a real 2 TaskManager x 2 slot cluster: a TaskManager killed with
// SIGKILL, an operator that throws, and a user's cancel. In each case the job must reach the right
// terminal state, say why, and leave the JobManager serving with its slots free.

#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

class IntegrationFailure : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>();
    absl::Status started = cluster_->Start(ClusterOptions{});
    ASSERT_TRUE(started.ok()) << started;
  }

  // Whether every registered TaskManager has all its slots free.
  bool AllSlotsFree(int expected_taskmanagers) {
    absl::StatusOr<JsonValue> tms = cluster_->TaskManagers();
    if (!tms.ok() || tms->list_value().values_size() != expected_taskmanagers) return false;
    for (const JsonValue& tm : tms->list_value().values()) {
      if (IntField(tm, "free_slots") != IntField(tm, "slots")) return false;
    }
    return true;
  }

  std::unique_ptr<LocalCluster> cluster_;
};

bool IsTerminalSubtaskState(const std::string& state) {
  return state == "FINISHED" || state == "CANCELED" || state == "FAILED";
}

TEST_F(IntegrationFailure, KilledTaskManagerFailsJobNamingItAndJobManagerKeepsServing) {
  // An unbounded ledger at a modest rate; parallelism 2 puts a subtask on each TaskManager.
  absl::StatusOr<std::string> job =
      cluster_->SubmitDetached(ExamplePackage("ledger"), 2, {"transactions=0", "rate=200"});
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<JsonValue> running = cluster_->WaitForAllRunning(*job);
  ASSERT_TRUE(running.ok()) << running.status();

  absl::StatusOr<std::string> victim = cluster_->TaskManagerId(1);
  ASSERT_TRUE(victim.ok()) << victim.status();
  absl::StatusOr<std::string> survivor = cluster_->TaskManagerId(2);
  ASSERT_TRUE(survivor.ok()) << survivor.status();
  ASSERT_NE(*victim, *survivor);
  std::set<std::string> hosts;
  for (const auto& [vertex, s] : Subtasks(*running)) hosts.insert(StringField(*s, "taskmanager"));
  ASSERT_EQ(hosts, (std::set<std::string>{*victim, *survivor}))
      << "precondition: both TaskManagers run subtasks of the job";

  ASSERT_TRUE(cluster_->KillTaskManager(1).ok());

  absl::StatusOr<JsonValue> failed = cluster_->WaitForState(*job, "FAILED");
  ASSERT_TRUE(failed.ok()) << failed.status();
  std::string failure = StringField(*failed, "failure");
  CommandResult text = cluster_->Sluice({"status", *job});
  ASSERT_TRUE(text.ok()) << text.Describe();
  // The JSON "failure" or, in the text view, a failure line must name the lost TaskManager.
  std::string text_failures;
  for (absl::string_view line : absl::StrSplit(text.out, '\n')) {
    size_t at = line.find("ailure: ");
    if (at != absl::string_view::npos) absl::StrAppend(&text_failures, line.substr(at), "\n");
  }
  EXPECT_TRUE(failure.find(*victim) != std::string::npos ||
              text_failures.find(*victim) != std::string::npos)
      << "the failure should name the lost TaskManager " << *victim << "; JSON failure: '"
      << failure << "'; text status:\n"
      << text.out;
  // No subtask may still claim to run.
  absl::StatusOr<JsonValue> settled = cluster_->WaitForStatus(*job, [](const JsonValue& s) {
    auto subtasks = Subtasks(s);
    return std::all_of(subtasks.begin(), subtasks.end(), [](const auto& st) {
      return IsTerminalSubtaskState(StringField(*st.second, "state"));
    });
  });
  EXPECT_TRUE(settled.ok()) << settled.status();

  // The JobManager still serves, forgets the dead TaskManager and frees the survivor's slots.
  CommandResult list = cluster_->Sluice({"list"});
  EXPECT_TRUE(list.ok()) << list.Describe();
  EXPECT_NE(list.out.find(*job), std::string::npos) << list.out;
  EXPECT_TRUE(WaitUntil([&] {
    absl::StatusOr<JsonValue> tms = cluster_->TaskManagers();
    return tms.ok() && tms->list_value().values_size() == 1 &&
           StringField(tms->list_value().values(0), "id") == *survivor;
  })) << "the dead TaskManager should be dropped:\n"
      << cluster_->Sluice({"taskmanagers"}).out;
  EXPECT_TRUE(WaitUntil([&] { return AllSlotsFree(1); })) << cluster_->Sluice({"taskmanagers"}).out;

  // A new job runs on the remaining TaskManager.
  std::string input = cluster_->NewDir("in");
  std::string output = cluster_->ScratchPath("out");
  WriteFile(input + "/words.txt", "after the crash\nthe cluster works\n");
  CommandResult run =
      cluster_->Sluice({"run", ExamplePackage("wordcount"), "--json", "--parallelism", "2", "--arg",
                        "input=" + input, "--arg", "output=" + output});
  ASSERT_TRUE(run.ok()) << run.Describe();
  absl::StatusOr<JsonValue> result = ParseJson(run.out);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(StringField(*result, "state"), "FINISHED");
  absl::StatusOr<JsonValue> status = cluster_->JobStatus(StringField(*result, "id"));
  ASSERT_TRUE(status.ok()) << status.status();
  for (const auto& [vertex, s] : Subtasks(*status)) {
    EXPECT_EQ(StringField(*s, "taskmanager"), *survivor) << vertex;
  }
  std::string counts;
  for (const std::string& f : VisibleFiles(output)) counts += ReadFile(f);
  EXPECT_NE(counts.find("the\t2\n"), std::string::npos) << counts;
}

TEST_F(IntegrationFailure, FrozenTaskManagerIsDeclaredLostAfterHeartbeatTimeout) {
  // SIGSTOP keeps the TaskManager's connections open: only the missing heartbeats
  // (heartbeat.timeout=3s here) can reveal that it is gone.
  absl::StatusOr<std::string> job =
      cluster_->SubmitDetached(ExamplePackage("ledger"), 2, {"transactions=0", "rate=200"});
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<JsonValue> running = cluster_->WaitForAllRunning(*job);
  ASSERT_TRUE(running.ok()) << running.status();
  absl::StatusOr<std::string> frozen = cluster_->TaskManagerId(2);
  ASSERT_TRUE(frozen.ok()) << frozen.status();
  absl::StatusOr<std::string> survivor = cluster_->TaskManagerId(1);
  ASSERT_TRUE(survivor.ok()) << survivor.status();

  ASSERT_TRUE(cluster_->FreezeTaskManager(2).ok());
  absl::StatusOr<JsonValue> failed = cluster_->WaitForState(*job, "FAILED");
  ASSERT_TRUE(failed.ok()) << failed.status();
  EXPECT_NE(StringField(*failed, "failure").find(*frozen), std::string::npos)
      << "the failure should name the silent TaskManager " << *frozen << ": '"
      << StringField(*failed, "failure") << "'";

  EXPECT_TRUE(WaitUntil([&] {
    absl::StatusOr<JsonValue> tms = cluster_->TaskManagers();
    return tms.ok() && tms->list_value().values_size() == 1 &&
           StringField(tms->list_value().values(0), "id") == *survivor;
  })) << "the silent TaskManager should be dropped:\n"
      << cluster_->Sluice({"taskmanagers"}).out;
  EXPECT_TRUE(WaitUntil([&] { return AllSlotsFree(1); })) << cluster_->Sluice({"taskmanagers"}).out;
  CommandResult run = cluster_->Sluice(
      {"run", ExamplePackage("ledger"), "--parallelism", "2", "--arg", "transactions=1000"});
  EXPECT_TRUE(run.ok()) << run.Describe();
}

TEST_F(IntegrationFailure, OperatorExceptionFailsJobWithItsMessage) {
  CommandResult run = cluster_->Sluice({"run", TestPackage("failing_job"), "--parallelism", "2"});
  EXPECT_FALSE(run.ok()) << run.Describe();
  EXPECT_FALSE(run.timed_out);
  EXPECT_NE(run.exit_code, 0) << run.Describe();
  EXPECT_NE((run.out + run.err).find("bad record 42"), std::string::npos) << run.Describe();
  EXPECT_NE(run.out.find("FAILED"), std::string::npos) << run.Describe();

  absl::StatusOr<JsonValue> jobs = cluster_->Jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->list_value().values_size(), 1);
  std::string job = StringField(jobs->list_value().values(0), "id");
  absl::StatusOr<JsonValue> failed = cluster_->WaitForState(job, "FAILED");
  ASSERT_TRUE(failed.ok()) << failed.status();
  // The failure explains itself: the exception's type and message, the operator, the task and
  // job, the record, and the stack where it was thrown (the package's frames).
  const std::string failure = StringField(*failed, "failure");
  for (const std::string& part :
       {std::string("std::runtime_error: bad record 42"),
        std::string("in operator 'Check' (uid check) of task 'Check -> Discard ("),
        absl::StrCat(" of job ", job), std::string("while processing record: 42"),
        std::string("thrown at:\n    #0 "), std::string("in job package"),
        std::string("(the TaskManager's task loop)")}) {
    EXPECT_TRUE(absl::StrContains(failure, part)) << "no '" << part << "' in:\n" << failure;
  }
  // The same in the exceptions history, with the time, the task and its TaskManager.
  CommandResult exceptions = cluster_->Sluice({"exceptions", job, "--json"});
  ASSERT_TRUE(exceptions.ok()) << exceptions.Describe();
  EXPECT_TRUE(absl::StrContains(exceptions.out, "std::runtime_error: bad record 42"))
      << exceptions.out;
  EXPECT_TRUE(absl::StrContains(exceptions.out, "\"task\":\"Check -> Discard (")) << exceptions.out;
  EXPECT_TRUE(absl::StrContains(exceptions.out, "\"taskmanager\":\"tm-")) << exceptions.out;

  // The other subtasks (the job is unbounded enough to still be running) are stopped, and every
  // slot is released.
  absl::StatusOr<JsonValue> settled = cluster_->WaitForStatus(job, [](const JsonValue& s) {
    auto subtasks = Subtasks(s);
    return !subtasks.empty() && std::all_of(subtasks.begin(), subtasks.end(), [](const auto& st) {
      return IsTerminalSubtaskState(StringField(*st.second, "state"));
    });
  });
  EXPECT_TRUE(settled.ok()) << settled.status();
  int failed_subtasks = 0;
  if (settled.ok()) {
    for (const auto& [vertex, s] : Subtasks(*settled)) {
      failed_subtasks += StringField(*s, "state") == "FAILED";
    }
  }
  EXPECT_GE(failed_subtasks, 1);
  EXPECT_TRUE(WaitUntil([&] { return AllSlotsFree(2); })) << cluster_->Sluice({"taskmanagers"}).out;
  EXPECT_TRUE(cluster_->Sluice({"list"}).ok());
}

// A segfault in user code: the TaskManager writes the signal, the task and the stack to its log
// before it dies, and its watchdog tells the JobManager, whose failure reason says so.
TEST(IntegrationCrash, CrashInUserCodeIsReportedInTheLogAndTheJobFailure) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's runtime takes over fatal signals and backtrace(): the crash report does
  // not reach the JobManager there (even with handle_segv=0; to be looked into). The regular
  // build runs this test.
  GTEST_SKIP() << "crash reports are not tested under AddressSanitizer";
#endif
  LocalCluster cluster;
  absl::Status started = cluster.Start(ClusterOptions{});
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<std::string> job = cluster.SubmitDetached(TestPackage("crashing_job"), 1, {});
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<JsonValue> failed = cluster.WaitForStatus(*job, [](const JsonValue& s) {
    return StringField(s, "state") == "FAILED" &&
           absl::StrContains(StringField(s, "failure"), "crashed (SIGSEGV)");
  });
  ASSERT_TRUE(failed.ok()) << failed.status() << cluster.LogTails();
  EXPECT_TRUE(
      absl::StrContains(StringField(*failed, "failure"),
                        "crashed (SIGSEGV) while running task 'Crash -> Discard (1/1)'; its log "
                        "has the stack"))
      << StringField(*failed, "failure");
  CommandResult exceptions = cluster.Sluice({"exceptions", *job});
  EXPECT_TRUE(absl::StrContains(exceptions.out, "crashed (SIGSEGV)")) << exceptions.Describe();

  std::string crash_log;
  for (int i = 1; i <= 2; ++i) {
    std::string log = ReadFile(absl::StrCat(cluster.cluster_dir(), "/log/taskmanager-", i, ".log"));
    if (absl::StrContains(log, "crashed (SIGSEGV)")) crash_log = log;
  }
  ASSERT_FALSE(crash_log.empty()) << cluster.LogTails();
  EXPECT_TRUE(absl::StrContains(crash_log,
                                "*** sluice-taskmanager crashed (SIGSEGV) while running task "
                                "'Crash -> Discard (1/1)'; the stack of the crashing thread:"))
      << crash_log;
  EXPECT_TRUE(absl::StrContains(crash_log, "*** end of the crash report")) << crash_log;
  EXPECT_TRUE(absl::StrContains(crash_log, "sluice-taskmanager(")) << crash_log;  // a frame
}

TEST_F(IntegrationFailure, CancelStopsUnboundedJobAndFreesSlots) {
  absl::StatusOr<std::string> job =
      cluster_->SubmitDetached(ExamplePackage("ledger"), 3, {"transactions=0", "rate=500"});
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<JsonValue> running = cluster_->WaitForAllRunning(*job);
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_FALSE(AllSlotsFree(2)) << "a running job holds slots";

  CommandResult cancel = cluster_->Sluice({"cancel", *job});
  ASSERT_TRUE(cancel.ok()) << cancel.Describe();
  EXPECT_NE(cancel.out.find("CANCELED"), std::string::npos) << cancel.Describe();

  absl::StatusOr<JsonValue> status = cluster_->JobStatus(*job);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(StringField(*status, "state"), "CANCELED");
  absl::StatusOr<JsonValue> settled = cluster_->WaitForStatus(*job, [](const JsonValue& s) {
    auto subtasks = Subtasks(s);
    return !subtasks.empty() && std::all_of(subtasks.begin(), subtasks.end(), [](const auto& st) {
      return StringField(*st.second, "state") == "CANCELED";
    });
  });
  EXPECT_TRUE(settled.ok()) << "every subtask should end CANCELED: " << settled.status();
  EXPECT_TRUE(WaitUntil([&] { return AllSlotsFree(2); })) << cluster_->Sluice({"taskmanagers"}).out;

  // Cancelling again is harmless, and the job stays CANCELED.
  CommandResult again = cluster_->Sluice({"cancel", *job});
  EXPECT_TRUE(again.ok()) << again.Describe();
  absl::StatusOr<JsonValue> jobs = cluster_->Jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->list_value().values_size(), 1);
  EXPECT_EQ(StringField(jobs->list_value().values(0), "state"), "CANCELED");
}

// A TaskManager whose network memory is too small for a task fails that deployment with a message
// that says how much memory the task needs; the job goes FAILED and the cluster keeps serving.
TEST(IntegrationNetworkMemory, DeploymentWithoutEnoughNetworkMemoryFailsWithTheNeed) {
  LocalCluster cluster;
  ClusterOptions options;
  options.defines = {"taskmanager.memory.network.size=64kb",
                     "taskmanager.memory.segment-size=32kb"};
  absl::Status started = cluster.Start(options);
  ASSERT_TRUE(started.ok()) << started;
  CommandResult run = cluster.Sluice(
      {"run", ExamplePackage("ledger"), "--parallelism", "2", "--arg", "transactions=1000"});
  EXPECT_NE(run.exit_code, 0) << run.Describe();
  std::string all = run.out + run.err;
  EXPECT_NE(all.find("not enough network memory"), std::string::npos) << run.Describe();
  EXPECT_NE(all.find("taskmanager.memory.network.size"), std::string::npos) << run.Describe();
  EXPECT_NE(all.find("needs"), std::string::npos) << run.Describe();
  EXPECT_TRUE(cluster.Sluice({"list"}).ok());
}

// Regression: the network buffers of a finished job were returned only at the TaskManager's next
// heartbeat, so jobs run back to back on a small network memory failed to deploy.
TEST(IntegrationNetworkMemory, BackToBackJobsReuseTheNetworkMemoryOfFinishedOnes) {
  LocalCluster cluster;
  ClusterOptions options;
  // 64 segments per TaskManager; one ledger job at parallelism 2 takes about 22 of them.
  options.defines = {"taskmanager.memory.network.size=2mb", "heartbeat.interval=10s",
                     "heartbeat.timeout=50s"};
  absl::Status started = cluster.Start(options);
  ASSERT_TRUE(started.ok()) << started;
  for (int i = 0; i < 5; ++i) {
    CommandResult run = cluster.Sluice(
        {"run", ExamplePackage("ledger"), "--parallelism", "2", "--arg", "transactions=1000"});
    ASSERT_TRUE(run.ok()) << "job " << i << ": " << run.Describe();
  }
}

}  // namespace
}  // namespace sluice::testing
