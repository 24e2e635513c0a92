// Regressions of the fault probe's gaps, each on a real cluster: a damaged savepoint refused at
// submission (gap 5), job names that forge log lines (gap 7), a builder that never returns (gap
// 8), TaskManager settings on `sluice run` (gap 9) and the local state of dead TaskManagers
// (gap 10). The defects (damaged checkpoints, a frozen TaskManager, full disks, a failed stop) are
// in tests/chaos/.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/ledger_check.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

class IntegrationFault : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> defines = {}, int taskmanagers = 2) {
    cluster_ = std::make_unique<LocalCluster>();
    ClusterOptions options;
    options.taskmanagers = taskmanagers;
    options.defines = std::move(defines);
    absl::Status started = cluster_->Start(options);
    ASSERT_TRUE(started.ok()) << started;
  }
  std::string JobManagerLog() { return ReadFile(cluster_->cluster_dir() + "/log/jobmanager.log"); }
  int JobCount() {
    absl::StatusOr<JsonValue> jobs = cluster_->Jobs();
    return jobs.ok() ? jobs->list_value().values_size() : -1;
  }

  std::unique_ptr<LocalCluster> cluster_;
};

// Regression (fault probe, gap 5): a savepoint whose `_metadata` was intact but a state file
// flipped, missing or a symbolic link was accepted, and the job then restarted forever.
TEST_F(IntegrationFault, DamagedSavepointIsRefusedAtSubmissionNamingTheFile) {
  Start();
  CommandResult run = cluster_->Sluice(
      {"run", ExamplePackage("ledger"), "--detached", "--parallelism", "2", "--arg",
       "transactions=0", "--arg", "rate=500", "-D", "execution.checkpointing.interval=1s", "-D",
       "state.checkpoints.dir=" + cluster_->ScratchPath("checkpoints")});
  ASSERT_TRUE(run.ok()) << run.Describe();
  const std::string checkpointed = run.LastLine();
  ASSERT_TRUE(cluster_->WaitForAllRunning(checkpointed).ok());
  CommandResult stop = cluster_->Sluice(
      {"stop", checkpointed, "--target-directory", cluster_->ScratchPath("savepoints")});
  ASSERT_TRUE(stop.ok()) << stop.Describe();
  const std::string savepoint = stop.LastLine();
  std::string keyed;
  for (const auto& e : fs::recursive_directory_iterator(savepoint)) {
    if (e.is_regular_file() && e.path().extension() == ".keyed") keyed = e.path().string();
  }
  ASSERT_FALSE(keyed.empty()) << "the savepoint holds keyed state files";
  const std::string intact = ReadFile(keyed);
  const int jobs_before = JobCount();
  auto expect_refused = [&](const std::string& what, const std::vector<std::string>& needles) {
    SCOPED_TRACE(what);
    CommandResult r = cluster_->Sluice({"run", ExamplePackage("ledger"), "--from-savepoint",
                                        savepoint, "--arg", "transactions=1000"});
    EXPECT_NE(r.exit_code, 0) << r.Describe();
    for (const std::string& n : needles) {
      EXPECT_NE(r.err.find(n), std::string::npos)
          << "stderr should name '" << n << "': " << r.Describe();
    }
    EXPECT_EQ(JobCount(), jobs_before) << "nothing is started";
  };

  std::string flipped = intact;
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x55);
  WriteFile(keyed, flipped);
  expect_refused("flipped", {fs::path(keyed).filename().string(), "crc32"});
  fs::remove(keyed);
  expect_refused("missing", {fs::path(keyed).filename().string(), "missing"});
  WriteFile(cluster_->ScratchPath("copy"), intact);
  fs::create_symlink(cluster_->ScratchPath("copy"), keyed);
  expect_refused("symlink", {fs::path(keyed).filename().string(), "symbolic link"});

  fs::remove(keyed);
  WriteFile(keyed, intact);
  CommandResult ok = cluster_->Sluice({"run", ExamplePackage("ledger"), "--from-savepoint",
                                       savepoint, "--arg", "transactions=1000"});
  EXPECT_TRUE(ok.ok()) << "the intact savepoint restores: " << ok.Describe();
}

// Regression (fault probe, gap 7): a job name with newlines forged lines in jobmanager.log and
// broke the `list` table; a 10 KB name padded every row.
TEST_F(IntegrationFault, JobNamesWithControlCharactersOrTooLongAreRefused) {
  Start();
  const std::string forged = "2026-01-01 00:00:00.000 error [jobmaster] forged line";
  auto refused = [&](std::vector<std::string> args, const std::string& needle) {
    CommandResult r = cluster_->Sluice(std::move(args));
    EXPECT_NE(r.exit_code, 0) << r.Describe();
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.Describe();
  };
  refused(
      {"run", ExamplePackage("ledger"), "--name", "ledger\n" + forged, "--arg", "transactions=10"},
      "control character");
  refused({"run", TestPackage("named_job"), "--arg", "name=x\r\n" + forged}, "control character");
  refused({"run", ExamplePackage("ledger"), "--name", std::string(10 * 1024, 'n'), "--arg",
           "transactions=10"},
          "at most 256");
  EXPECT_EQ(JobCount(), 0);
  for (absl::string_view line : absl::StrSplit(JobManagerLog(), '\n')) {
    EXPECT_FALSE(absl::StartsWith(line, "2026-01-01")) << "a client forged a log line: " << line;
    EXPECT_LT(line.size(), 4096u) << "a client flooded the log";
  }
  CommandResult fine = cluster_->Sluice({"run", TestPackage("named_job"), "--arg", "name=tidy"});
  EXPECT_TRUE(fine.ok()) << fine.Describe();
}

// Regression (fault probe, gap 8): the CLI said only "did not answer within 1m"; the reason was in
// the JobManager's log alone.
TEST_F(IntegrationFault, BuilderThatNeverReturnsIsExplainedToTheClient) {
  Start({"jobmanager.graph-builder.timeout=2s"});
  CommandResult r = cluster_->Sluice({"run", TestPackage("hanging_builder")});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.err.find("the job's builder did not finish within 2000 ms"), std::string::npos)
      << r.Describe();
  EXPECT_TRUE(cluster_->Sluice({"list"}).ok());
}

// Regression (fault probe, gap 9): TaskManager settings on `sluice run` were accepted and ignored.
// They are refused saying where they belong; state.backend.rocksdb.localdir applies per job.
TEST_F(IntegrationFault, DaemonSettingsOnRunAreRefusedAndTheRocksDbFolderAppliesPerJob) {
  Start();
  for (const auto& [define, needle] : std::vector<std::pair<std::string, std::string>>{
           {"taskmanager.numberOfTaskSlots=8", "a TaskManager setting"},
           {"taskmanager.memory.network.size=1gb", "a TaskManager setting"},
           {"heartbeat.timeout=1s", "a cluster setting"},
           {"blob.storage.directory=/tmp/x", "a JobManager setting"}}) {
    CommandResult r = cluster_->Sluice(
        {"run", ExamplePackage("ledger"), "--arg", "transactions=10", "-D", define});
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.Describe();
    EXPECT_NE(r.err.find("sluice cluster start"), std::string::npos) << r.Describe();
  }
  EXPECT_EQ(JobCount(), 0);

  const std::string localdir = cluster_->NewDir("rocks-of-this-job");
  CommandResult run = cluster_->Sluice(
      {"run", ExamplePackage("ledger"), "--detached", "--parallelism", "2", "--arg",
       "transactions=0", "--arg", "rate=300", "-D", "execution.checkpointing.interval=1s", "-D",
       "state.checkpoints.dir=" + cluster_->ScratchPath("checkpoints"), "-D",
       "state.backend.type=rocksdb", "-D", "state.backend.rocksdb.localdir=" + localdir});
  ASSERT_TRUE(run.ok()) << run.Describe();
  const std::string job = run.LastLine();
  ASSERT_TRUE(cluster_->WaitForAllRunning(job).ok());
  bool rocksdb_there = WaitUntil([&] {
    std::error_code ec;
    for (const auto& e : fs::recursive_directory_iterator(localdir, ec)) {
      if (e.path().filename().string().rfind("MANIFEST-", 0) == 0) return true;
    }
    return false;
  });
  EXPECT_TRUE(rocksdb_there) << "the job's RocksDB instances live in its own folder";
  EXPECT_TRUE(cluster_->Sluice({"cancel", job}).ok());
  // -D on the daemons is where the TaskManager setting goes: that still works.
  CommandResult bad = cluster_->Sluice(
      {"run", ExamplePackage("ledger"), "-D", "state.backend.rocksdb.localdir=relative/path"});
  EXPECT_NE(bad.exit_code, 0) << bad.Describe();
  EXPECT_NE(bad.err.find("absolute"), std::string::npos) << bad.Describe();
}

// Regression (fault probe, gap 10): the local state folders of TaskManagers killed with SIGKILL
// were never removed when a replacement used the same folder.
TEST_F(IntegrationFault, ReplacementTaskManagerRemovesTheLocalStateOfTheDeadOne) {
  Start({}, 2);
  CommandResult run = cluster_->Sluice(
      {"run", ExamplePackage("ledger"), "--detached", "--parallelism", "2", "--arg",
       "transactions=0", "--arg", "rate=300", "-D", "execution.checkpointing.interval=1s", "-D",
       "state.checkpoints.dir=" + cluster_->ScratchPath("checkpoints"), "-D",
       "state.backend.type=rocksdb"});
  ASSERT_TRUE(run.ok()) << run.Describe();
  const std::string job = run.LastLine();
  ASSERT_TRUE(cluster_->WaitForAllRunning(job).ok());
  absl::StatusOr<std::string> dead = cluster_->TaskManagerId(1);
  ASSERT_TRUE(dead.ok()) << dead.status();
  const std::string state_root = cluster_->cluster_dir() + "/taskmanager-1/state";
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(state_root + "/" + *dead); }));
  ASSERT_TRUE(cluster_->KillTaskManager(1).ok());
  EXPECT_TRUE(fs::exists(state_root + "/" + *dead)) << "SIGKILL leaves it behind";

  absl::StatusOr<int> added = cluster_->AddTaskManager();
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_EQ(*added, 1) << "the replacement takes the dead one's place and folders";
  absl::StatusOr<std::string> replacement = cluster_->TaskManagerId(1);
  ASSERT_TRUE(replacement.ok()) << replacement.status();
  EXPECT_NE(*replacement, *dead);
  EXPECT_FALSE(fs::exists(state_root + "/" + *dead)) << "the dead one's state is removed";
  EXPECT_FALSE(fs::exists(state_root + "/" + *dead + ".lock"));
  EXPECT_TRUE(fs::exists(state_root + "/" + *replacement));
  absl::StatusOr<JsonValue> again = cluster_->WaitForAllRunning(job, absl::Minutes(2));
  EXPECT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(cluster_->Sluice({"cancel", job}).ok());
}

}  // namespace
}  // namespace sluice::testing
