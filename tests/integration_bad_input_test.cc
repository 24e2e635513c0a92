// Bad input from users: files that are not job packages, packages that misbehave while building
// their graph, impossible requests and bad configuration. Each must be refused with a clear message
// on stderr and a non-zero exit, and the JobManager must keep serving afterwards.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

class IntegrationBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>();
    absl::Status started = cluster_->Start(ClusterOptions{});
    ASSERT_TRUE(started.ok()) << started;
  }

  // Runs `sluice <args>` against the cluster and checks that it is refused: a non-zero exit
  // (`exit_code` if given), no crash or hang, and stderr containing every one of `needles`
  // (case-insensitively). Then checks that the JobManager still serves.
  void ExpectRefused(const std::vector<std::string>& args, const std::vector<std::string>& needles,
                     int exit_code = -1) {
    SCOPED_TRACE(absl::StrCat("sluice ", absl::StrJoin(args, " ")));
    CommandResult r = cluster_->Sluice(args);
    EXPECT_FALSE(r.timed_out) << r.Describe();
    EXPECT_EQ(r.term_signal, 0) << r.Describe();
    EXPECT_NE(r.exit_code, 0) << r.Describe();
    if (exit_code >= 0) {
      EXPECT_EQ(r.exit_code, exit_code) << r.Describe();
    }
    std::string err = absl::AsciiStrToLower(r.err);
    for (const std::string& needle : needles) {
      EXPECT_NE(err.find(absl::AsciiStrToLower(needle)), std::string::npos)
          << "stderr should mention '" << needle << "': " << r.Describe();
    }
    ExpectJobManagerServes();
  }

  void ExpectJobManagerServes() {
    EXPECT_TRUE(cluster_->JobManagerAlive());
    CommandResult list = cluster_->Sluice({"list"});
    EXPECT_TRUE(list.ok()) << "the JobManager should still serve: " << list.Describe();
  }

  //! Submits bad_windows.so with `--arg mode=<mode>` detached, waits until the job is FAILED and
  //! checks that its failure names every one of `needles` (case-insensitively). Then checks that
  //! both TaskManagers are still registered and take a job that needs all their slots.
  void ExpectWindowJobFails(const std::string& mode, const std::vector<std::string>& needles) {
    SCOPED_TRACE(absl::StrCat("bad_windows mode=", mode));
    absl::StatusOr<std::string> job =
        cluster_->SubmitDetached(TestPackage("bad_windows"), 2, {"mode=" + mode});
    ASSERT_TRUE(job.ok()) << job.status();
    absl::StatusOr<JsonValue> failed = cluster_->WaitForState(*job, "FAILED");
    ASSERT_TRUE(failed.ok()) << failed.status();
    std::string failure = StringField(*failed, "failure");
    for (const std::string& needle : needles) {
      EXPECT_NE(absl::AsciiStrToLower(failure).find(absl::AsciiStrToLower(needle)),
                std::string::npos)
          << "the failure should mention '" << needle << "': '" << failure << "'";
    }
    ExpectTaskManagersServe();
  }

  //! Both TaskManagers are registered, get every slot back, and run a job that uses all of them.
  void ExpectTaskManagersServe() {
    EXPECT_TRUE(WaitUntil([&] {
      absl::StatusOr<JsonValue> tms = cluster_->TaskManagers();
      if (!tms.ok() || tms->list_value().values_size() != 2) return false;
      for (const JsonValue& tm : tms->list_value().values()) {
        if (IntField(tm, "free_slots") != IntField(tm, "slots")) return false;
      }
      return true;
    })) << cluster_->Sluice({"taskmanagers"}).out;
    CommandResult run = cluster_->Sluice(
        {"run", ExamplePackage("ledger"), "--parallelism", "4", "--arg", "transactions=1000"});
    EXPECT_TRUE(run.ok()) << "the TaskManagers should still run jobs: " << run.Describe();
  }

  std::unique_ptr<LocalCluster> cluster_;
};

TEST_F(IntegrationBadInput, PackagesThatAreNotJobsAreRefused) {
  std::string text_file = cluster_->ScratchPath("notes.so");
  WriteFile(text_file, "this is a text file, not a shared library\n");
  ExpectRefused({"run", text_file}, {"not a job package"});

  std::string empty_file = cluster_->ScratchPath("empty.so");
  WriteFile(empty_file, "");
  ExpectRefused({"run", empty_file}, {"empty"});

  ExpectRefused({"run", cluster_->ScratchPath("does-not-exist.so")}, {"does-not-exist.so"});
  ExpectRefused({"run", cluster_->NewDir("a-directory")}, {"a-directory"});

  // A shared library without SLUICE_JOB.
  ExpectRefused({"run", TestPackage("no_entry")}, {"not a job package"});
  // The ABI version symbol but no builder entry point.
  ExpectRefused({"run", TestPackage("abi_only")}, {"entry point"});
  // Built against another SDK.
  ExpectRefused({"run", TestPackage("other_abi")}, {"ABI version", "999"});

  // None of these became a job.
  absl::StatusOr<JsonValue> jobs = cluster_->Jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->list_value().values_size(), 0);
}

TEST_F(IntegrationBadInput, MisbehavingBuildersAreRefusedAndJobManagerSurvives) {
  ExpectRefused({"run", TestPackage("throwing_builder")}, {"boom from builder"});
  ExpectRefused({"run", TestPackage("crashing_builder")}, {"crash", "signal"});
  ExpectRefused({"run", TestPackage("crashing_builder"), "--arg", "how=segv"}, {"crash", "signal"});
  // A builder that rejects its arguments.
  ExpectRefused({"run", ExamplePackage("wordcount")}, {"input"});
  ExpectRefused({"run", ExamplePackage("ledger"), "--arg", "transactions=many"}, {"transactions"});

  absl::StatusOr<JsonValue> jobs = cluster_->Jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->list_value().values_size(), 0);

  // The cluster still runs a good job afterwards.
  CommandResult run = cluster_->Sluice(
      {"run", ExamplePackage("ledger"), "--parallelism", "2", "--arg", "transactions=1000"});
  EXPECT_TRUE(run.ok()) << run.Describe();
}

TEST_F(IntegrationBadInput, ImpossibleRequestsAreRefused) {
  ExpectRefused({"status", "0123456789abcdef0123456789abcdef"}, {"0123456789abcdef"});
  ExpectRefused({"cancel", "0123456789abcdef0123456789abcdef"}, {"0123456789abcdef"});
  ExpectRefused({"status", "../../etc/passwd"}, {"no job"});

  ExpectRefused({"run", ExamplePackage("ledger"), "--parallelism", "0"}, {"parallelism"}, 2);
  ExpectRefused({"run", ExamplePackage("ledger"), "--parallelism", "-3"}, {"parallelism"}, 2);
  ExpectRefused({"run", ExamplePackage("ledger"), "--parallelism", "two"}, {"parallelism"}, 2);

  // More slots than the cluster has (2 TaskManagers x 2 slots).
  ExpectRefused(
      {"run", ExamplePackage("ledger"), "--parallelism", "5", "--arg", "transactions=1000"},
      {"needs 5 slot(s)", "4 of 4"});

  // More slots than are free while another job holds two of them.
  absl::StatusOr<std::string> job =
      cluster_->SubmitDetached(ExamplePackage("ledger"), 2, {"transactions=0", "rate=100"});
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<JsonValue> running = cluster_->WaitForAllRunning(*job);
  ASSERT_TRUE(running.ok()) << running.status();
  ExpectRefused(
      {"run", ExamplePackage("ledger"), "--parallelism", "3", "--arg", "transactions=1000"},
      {"needs 3 slot(s)", "2 of 4"});
  CommandResult cancel = cluster_->Sluice({"cancel", *job});
  EXPECT_TRUE(cancel.ok()) << cancel.Describe();

  // Only the job that was accepted exists.
  absl::StatusOr<JsonValue> jobs = cluster_->Jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->list_value().values_size(), 1);
}

TEST_F(IntegrationBadInput, BadConfigurationIsRejectedNamingTheKey) {
  // On CLI commands.
  ExpectRefused({"list", "-D", "no.such.key=1"}, {"no.such.key"});
  ExpectRefused({"list", "-D", "heartbeat.interval=abc"}, {"heartbeat.interval", "abc"});
  ExpectRefused({"run", ExamplePackage("ledger"), "-D", "no.such.key=1"}, {"no.such.key"});
  ExpectRefused({"status", "x", "-Dtaskmanager.numberOfTaskSlots=0"},
                {"taskmanager.numberOfTaskSlots"});

  // On `cluster start`: refused before any daemon starts.
  std::string dir = cluster_->ScratchPath("other-cluster");
  CommandResult start = RunSluice({"cluster", "start", "--dir", dir, "-D", "jobmanager.rpc.port=0",
                                   "-D", "rest.port=0", "-D", "no.such.key=1"});
  EXPECT_NE(start.exit_code, 0) << start.Describe();
  EXPECT_NE(start.err.find("no.such.key"), std::string::npos) << start.Describe();
  EXPECT_TRUE(VisibleFiles(dir).empty()) << "no pid file may be written";

  // On the daemons started directly; each would otherwise run (on ephemeral ports) until the
  // timeout kills it.
  std::string scratch = cluster_->NewDir("direct");
  std::vector<std::string> jm = {BinaryPath("sluice-jobmanager"),
                                 "-D",
                                 "jobmanager.rpc.port=0",
                                 "-D",
                                 "rest.port=0",
                                 "-D",
                                 "metrics.reporter.prom.port=0",
                                 "-D",
                                 "blob.storage.directory=" + scratch + "/blobs",
                                 "-D",
                                 "jobmanager.address-file=" + scratch + "/address"};
  std::vector<std::string> tm = {BinaryPath("sluice-taskmanager"), "-D", "jobmanager.rpc.port=1",
                                 "-D", "taskmanager.cache.directory=" + scratch + "/cache"};
  struct Case {
    std::vector<std::string> daemon;
    std::string define;
    std::string key;
  };
  for (const Case& c :
       std::vector<Case>{{jm, "no.such.key=1", "no.such.key"},
                         {jm, "heartbeat.interval=abc", "heartbeat.interval"},
                         {jm, "jobmanager.rpc.port=70000", "jobmanager.rpc.port"},
                         {tm, "no.such.key=1", "no.such.key"},
                         {tm, "heartbeat.timeout=abc", "heartbeat.timeout"},
                         {jm, "metrics.reporter.prom.port=9300-9200", "metrics.reporter.prom.port"},
                         {tm, "metrics.reporter.prom.port=abc", "metrics.reporter.prom.port"}}) {
    std::vector<std::string> argv = c.daemon;
    argv.insert(argv.end(), {"-D", c.define});
    CommandResult r = RunCommand(argv, absl::Seconds(20));
    SCOPED_TRACE(absl::StrJoin(argv, " "));
    EXPECT_FALSE(r.timed_out) << "the daemon should refuse to start: " << r.Describe();
    EXPECT_EQ(r.term_signal, 0) << r.Describe();
    EXPECT_NE(r.exit_code, 0) << r.Describe();
    EXPECT_NE((r.err + r.out).find(c.key), std::string::npos) << r.Describe();
  }
  ExpectJobManagerServes();
}

// Event-time windows defined with impossible parameters are refused while the job graph is built,
// with a message naming the parameter and the value given.
TEST_F(IntegrationBadInput, BadWindowDefinitionsAreRefusedNamingTheValue) {
  const std::string package = TestPackage("bad_windows");
  ExpectRefused({"run", package, "--arg", "mode=negative_size"},
                {"TumblingEventTimeWindows", "window size must be positive", "got -10000 ms"});
  ExpectRefused({"run", package, "--arg", "mode=slide_larger_than_size"},
                {"SlidingEventTimeWindows", "slide must not be larger than the window size",
                 "slide 20000 ms", "size 10000 ms"});
  ExpectRefused({"run", package, "--arg", "mode=zero_gap"},
                {"EventTimeSessionWindows", "session gap must be positive", "got 0 ms"});
  ExpectRefused({"run", package, "--arg", "mode=no_such_mode"}, {"mode", "no_such_mode"});

  // None of them became a job.
  absl::StatusOr<JsonValue> jobs = cluster_->Jobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  EXPECT_EQ(jobs->list_value().values_size(), 0);
  ExpectTaskManagersServe();
}

// An event-time window on a stream without timestamps fails the job at its first record, telling
// the user to call AssignTimestampsAndWatermarks; the TaskManagers survive.
TEST_F(IntegrationBadInput, WindowWithoutTimestampsFailsTheJobSayingHowToAssignThem) {
  ExpectWindowJobFails("no_timestamps",
                       {"needs timestamps", "AssignTimestampsAndWatermarks", "Count"});
}

// A timestamp assigner that throws fails the job with the exception's text; the TaskManagers
// survive.
TEST_F(IntegrationBadInput, ThrowingTimestampAssignerFailsTheJobWithItsMessage) {
  ExpectWindowJobFails("throwing_assigner",
                       {"timestamp assigner", "click 42 has an unreadable timestamp"});

  // Attached, the same failure is a non-zero exit that shows the message.
  CommandResult run = cluster_->Sluice(
      {"run", TestPackage("bad_windows"), "--parallelism", "2", "--arg", "mode=throwing_assigner"});
  EXPECT_FALSE(run.timed_out) << run.Describe();
  EXPECT_NE(run.exit_code, 0) << run.Describe();
  EXPECT_NE(run.out.find("FAILED"), std::string::npos) << run.Describe();
  EXPECT_NE((run.out + run.err).find("timestamp assigner"), std::string::npos) << run.Describe();
  EXPECT_NE((run.out + run.err).find("click 42 has an unreadable timestamp"), std::string::npos)
      << run.Describe();
}

TEST(IntegrationCli, TypoExitsWithUsageErrorAndSuggestion) {
  CommandResult r = RunSluice({"lst"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("did you mean 'list'"), std::string::npos) << r.Describe();

  CommandResult status = RunSluice({"stauts", "abc"});
  EXPECT_EQ(status.exit_code, 2) << status.Describe();
  EXPECT_NE(status.err.find("did you mean 'status'"), std::string::npos) << status.Describe();

  // A command that needs a JobManager, with none listening: a clear failure, not a hang.
  CommandResult unreachable = RunSluice({"list", "--jobmanager", "127.0.0.1:1"}, absl::Seconds(60));
  EXPECT_FALSE(unreachable.timed_out) << unreachable.Describe();
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable.Describe();
  EXPECT_FALSE(unreachable.err.empty()) << unreachable.Describe();
}

}  // namespace
}  // namespace sluice::testing
