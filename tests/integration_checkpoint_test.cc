// Checkpoints and exactly-once recovery on a real cluster (4 TaskManagers x 2 slots): the bounded,
// rate-limited ledger with checkpoints every second survives three SIGKILLed TaskManagers, and its
// committed output (one directory, written across every attempt) holds each transaction exactly
// once with balances that add up — for the hashmap and the incremental RocksDB backend. Plus the
// restart strategies on a job whose operator throws, and `sluice checkpoints`.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/ledger_check.h"

namespace sluice::testing {
namespace {

class IntegrationCheckpoint : public ::testing::TestWithParam<std::string> {
 protected:
  void StartCluster(int taskmanagers) {
    cluster_ = std::make_unique<LocalCluster>();
    ClusterOptions options;
    options.taskmanagers = taskmanagers;
    options.slots = 2;
    absl::Status started = cluster_->Start(options);
    ASSERT_TRUE(started.ok()) << started;
  }

  //! The job's configuration for `sluice run`: checkpoints every second into the scratch dir.
  std::vector<std::string> CheckpointDefines(const std::string& backend) {
    return testing::CheckpointDefines(backend, cluster_->ScratchPath("checkpoints"));
  }

  std::unique_ptr<LocalCluster> cluster_;
};

TEST_P(IntegrationCheckpoint, LedgerIsExactlyOnceAcrossThreeTaskManagerKills) {
  StartCluster(4);
  constexpr int64_t kTransactions = 400000;
  constexpr int64_t kAccounts = 1000;
  std::string out = cluster_->NewDir("ledger");
  std::vector<std::string> args = {"run",
                                   ExamplePackage("ledger"),
                                   "--detached",
                                   "--parallelism",
                                   "2",
                                   "--arg",
                                   absl::StrCat("transactions=", kTransactions),
                                   "--arg",
                                   absl::StrCat("accounts=", kAccounts),
                                   "--arg",
                                   "rate=4000",  // per source subtask: ~50 s without failures
                                   "--arg",
                                   "output=" + out};
  for (const std::string& d : CheckpointDefines(GetParam())) args.push_back(d);
  CommandResult run = cluster_->Sluice(args);
  ASSERT_TRUE(run.ok()) << run.Describe();
  std::string job = run.LastLine();

  std::mt19937 rng(std::random_device{}());
  std::set<int> killed;
  for (int round = 0; round < 3; ++round) {
    // Wait until every subtask runs and a checkpoint of this attempt has completed, then a random
    // moment more.
    absl::StatusOr<JsonValue> running = cluster_->WaitForAllRunning(job, absl::Seconds(120));
    ASSERT_TRUE(running.ok()) << running.status() << cluster_->LogTails();
    std::uniform_int_distribution<int> pause_ms(500, 4000);
    absl::SleepFor(absl::Milliseconds(pause_ms(rng)));
    running = cluster_->WaitForAllRunning(job, absl::Seconds(120));
    ASSERT_TRUE(running.ok()) << running.status() << cluster_->LogTails();
    std::set<std::string> hosts;
    for (const auto& [vertex, s] : Subtasks(*running)) hosts.insert(StringField(*s, "taskmanager"));
    std::vector<int> candidates;
    for (int i = 1; i <= 4; ++i) {
      if (killed.count(i)) continue;
      absl::StatusOr<std::string> id = cluster_->TaskManagerId(i);
      if (id.ok() && hosts.count(*id)) candidates.push_back(i);
    }
    ASSERT_FALSE(candidates.empty()) << "no live TaskManager runs the job";
    int victim = candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng)];
    absl::Status k = cluster_->KillTaskManager(victim);
    ASSERT_TRUE(k.ok()) << k;
    killed.insert(victim);
  }

  absl::StatusOr<JsonValue> done = cluster_->WaitEnded(job, absl::Minutes(6));
  ASSERT_TRUE(done.ok()) << done.status() << cluster_->LogTails();
  ASSERT_EQ(StringField(*done, "state"), "FINISHED")
      << StringField(*done, "failure") << cluster_->LogTails();
  EXPECT_GE(IntField(*done, "numRestarts"), 3);

  ExpectExactlyOnce(ReadLedger(out), kTransactions, kAccounts);
  EXPECT_EQ(HiddenFiles(out), std::vector<std::string>{})
      << "leftovers of uncommitted attempts must be removed";

  CommandResult cps = cluster_->Sluice({"checkpoints", job, "--json"});
  ASSERT_TRUE(cps.ok()) << cps.Describe();
  absl::StatusOr<JsonValue> parsed = ParseJson(cps.out);
  ASSERT_TRUE(parsed.ok()) << cps.out;
  EXPECT_GE(IntField(*parsed, "restarts"), 3);
}

INSTANTIATE_TEST_SUITE_P(Backends, IntegrationCheckpoint, ::testing::Values("hashmap", "rocksdb"),
                         [](const auto& info) { return info.param; });

class IntegrationRestart : public IntegrationCheckpoint {};

TEST_F(IntegrationRestart, ThrowingOperatorRestartsUntilTheStrategyGivesUp) {
  StartCluster(2);
  std::vector<std::string> args = {
      "run", TestPackage("failing_job"), "--detached", "--parallelism", "2", "--arg", "rate=1000"};
  for (const std::string& d : CheckpointDefines("hashmap")) args.push_back(d);
  args.insert(args.end(), {"-D", "restart-strategy.type=fixed-delay", "-D",
                           "restart-strategy.fixed-delay.attempts=2", "-D",
                           "restart-strategy.fixed-delay.delay=100ms"});
  CommandResult run = cluster_->Sluice(args);
  ASSERT_TRUE(run.ok()) << run.Describe();
  std::string job = run.LastLine();
  absl::StatusOr<JsonValue> failed = cluster_->WaitForState(job, "FAILED", absl::Seconds(90));
  ASSERT_TRUE(failed.ok()) << failed.status() << cluster_->LogTails();
  EXPECT_EQ(IntField(*failed, "numRestarts"), 2);
  EXPECT_NE(StringField(*failed, "failure").find("bad record 42"), std::string::npos)
      << StringField(*failed, "failure");
  CommandResult cps = cluster_->Sluice({"checkpoints", job, "--json"});
  ASSERT_TRUE(cps.ok()) << cps.Describe();
  absl::StatusOr<JsonValue> parsed = ParseJson(cps.out);
  ASSERT_TRUE(parsed.ok()) << cps.out;
  EXPECT_EQ(IntField(*parsed, "restarts"), 2);
  EXPECT_EQ(Keys(*parsed),
            (std::vector<std::string>{"completed", "failed", "in_progress", "restarts"}));
}

TEST_F(IntegrationRestart, NoneStrategyFailsAtOnceWithTheException) {
  StartCluster(2);
  std::vector<std::string> args = {
      "run", TestPackage("failing_job"), "--detached", "--parallelism", "2", "--arg", "rate=1000"};
  for (const std::string& d : CheckpointDefines("hashmap")) args.push_back(d);
  args.insert(args.end(), {"-D", "restart-strategy.type=none"});
  CommandResult run = cluster_->Sluice(args);
  ASSERT_TRUE(run.ok()) << run.Describe();
  std::string job = run.LastLine();
  absl::StatusOr<JsonValue> failed = cluster_->WaitForState(job, "FAILED", absl::Seconds(60));
  ASSERT_TRUE(failed.ok()) << failed.status() << cluster_->LogTails();
  EXPECT_EQ(IntField(*failed, "numRestarts"), 0);
  EXPECT_NE(StringField(*failed, "failure").find("bad record 42"), std::string::npos);

  CommandResult unknown = cluster_->Sluice({"checkpoints", "no-such-job"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("no-such-job"), std::string::npos) << unknown.Describe();
}

TEST_F(IntegrationRestart, JobsThatRetainNothingLeaveNoCheckpointFolder) {
  StartCluster(1);
  const std::string root = cluster_->ScratchPath("checkpoints");
  // Without checkpointing: the job's folder (made at submission) goes when the job ends.
  CommandResult plain = cluster_->Sluice(
      {"run", ExamplePackage("ledger"), "--parallelism", "1", "--arg", "transactions=1000", "--arg",
       "output=" + cluster_->NewDir("plain"), "-D", "state.checkpoints.dir=" + root, "--json"});
  ASSERT_TRUE(plain.ok()) << plain.Describe();
  ASSERT_NE(plain.out.find("\"FINISHED\""), std::string::npos) << plain.out;
  // A submission rejected after its folder was made (here: a savepoint that is not there).
  CommandResult rejected = cluster_->Sluice({"run", ExamplePackage("ledger"), "--from-savepoint",
                                             cluster_->ScratchPath("no-such-savepoint"), "-D",
                                             "state.checkpoints.dir=" + root});
  ASSERT_NE(rejected.exit_code, 0) << rejected.Describe();
  // With checkpoints retained (a rate-limited job that lives through a few of them): it stays.
  std::vector<std::string> args = {"run",           ExamplePackage("ledger"),
                                   "--parallelism", "1",
                                   "--arg",         "transactions=3000",
                                   "--arg",         "rate=1000",
                                   "--arg",         "output=" + cluster_->NewDir("checkpointed")};
  for (const std::string& d : CheckpointDefines("hashmap")) args.push_back(d);
  CommandResult checkpointed = cluster_->Sluice(args);
  ASSERT_TRUE(checkpointed.ok()) << checkpointed.Describe();
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    left.push_back(entry.path().filename().string());
  }
  ASSERT_EQ(left.size(), 1u) << "only the checkpointed job keeps a folder";  // not the rejected one
  EXPECT_NE(checkpointed.out.find(left[0]), std::string::npos) << checkpointed.out;
}

//! A TaskManager process started by the test itself (SIGKILLed and reaped at the end).
class ExtraTaskManager {
 public:
  ExtraTaskManager(const std::string& jobmanager, const std::string& dir) {
    size_t colon = jobmanager.rfind(':');
    std::vector<std::string> args = {BinaryPath("sluice-taskmanager"),
                                     "-D",
                                     "jobmanager.rpc.address=" + jobmanager.substr(0, colon),
                                     "-D",
                                     "jobmanager.rpc.port=" + jobmanager.substr(colon + 1),
                                     "-D",
                                     "taskmanager.numberOfTaskSlots=2",
                                     "-D",
                                     "metrics.reporter.prom.port=0",
                                     "-D",
                                     "taskmanager.cache.directory=" + dir};
    std::string log = dir + ".log";
    pid_ = fork();
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~ExtraTaskManager() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

TEST_F(IntegrationRestart, RestartingJobWaitsForSlotsAndUsesATaskManagerThatRegistersLater) {
  StartCluster(2);  // 2 x 2 slots; the job takes 2, one on each TaskManager
  std::string out = cluster_->NewDir("ledger");
  std::vector<std::string> args = {
      "run",          ExamplePackage("ledger"), "--detached", "--parallelism", "2",
      "--arg",        "transactions=40000",     "--arg",      "rate=2000",     "--arg",
      "output=" + out};
  for (const std::string& d : CheckpointDefines("hashmap")) args.push_back(d);
  // The surviving TaskManager's free slots must not be enough: make the job need 3.
  args[4] = "3";
  CommandResult run = cluster_->Sluice(args);
  ASSERT_TRUE(run.ok()) << run.Describe();
  std::string job = run.LastLine();
  ASSERT_TRUE(cluster_->WaitForAllRunning(job).ok()) << cluster_->LogTails();
  ASSERT_TRUE(cluster_->KillTaskManager(1).ok());
  absl::StatusOr<JsonValue> restarting = cluster_->WaitForState(job, "RESTARTING");
  ASSERT_TRUE(restarting.ok()) << restarting.status() << cluster_->LogTails();
  // 2 slots left, 3 needed: the job waits (and says so in the JobManager's log).
  ASSERT_TRUE(WaitUntil([&] {
    return ReadFile(cluster_->cluster_dir() + "/log/jobmanager.log").find("waits for slots") !=
           std::string::npos;
  })) << cluster_->LogTails();
  absl::StatusOr<JsonValue> still = cluster_->JobStatus(job);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(StringField(*still, "state"), "RESTARTING");

  ExtraTaskManager extra(cluster_->address(), cluster_->ScratchPath("tm-extra"));
  ASSERT_TRUE(extra.started());
  absl::StatusOr<JsonValue> done = cluster_->WaitForState(job, "FINISHED", absl::Minutes(3));
  ASSERT_TRUE(done.ok()) << done.status() << cluster_->LogTails();
  EXPECT_EQ(IntField(*done, "numRestarts"), 1);
  ExpectExactlyOnce(ReadLedger(out), 40000, 1000);
}

}  // namespace
}  // namespace sluice::testing
