// Savepoints, stop-with-savepoint, restore and rescaling on a real cluster (3 TaskManagers x 2
// slots): the bounded, rate-limited ledger rescaled 2 -> 3 -> 1 while it runs, stopped and resumed
// from a moved savepoint or through `--restore latest`, restored across state backends — each time
// every transaction committed exactly once — and the bad inputs: a missing path, a corrupt
// `_metadata`, mismatched uids, a changed max parallelism, a rescale beyond the limits.

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/ledger_check.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kAccounts = 1000;

class IntegrationSavepoint : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>();
    ClusterOptions options;
    options.taskmanagers = 3;
    options.slots = 2;
    absl::Status started = cluster_->Start(options);
    ASSERT_TRUE(started.ok()) << started;
    checkpoints_ = cluster_->ScratchPath("checkpoints");
    savepoints_ = cluster_->ScratchPath("savepoints");
  }

  //! `sluice run ledger.so --detached` with checkpoints every second; returns the job id.
  std::string RunLedger(const std::string& backend, int parallelism, int64_t transactions,
                        int64_t rate, const std::string& output,
                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"run",
                                     ExamplePackage("ledger"),
                                     "--detached",
                                     "--parallelism",
                                     std::to_string(parallelism),
                                     "--arg",
                                     absl::StrCat("transactions=", transactions),
                                     "--arg",
                                     absl::StrCat("rate=", rate),
                                     "--arg",
                                     "output=" + output};
    for (const std::string& d : CheckpointDefines(backend, checkpoints_, savepoints_)) {
      args.push_back(d);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult run = cluster_->Sluice(args);
    EXPECT_TRUE(run.ok()) << run.Describe();
    return run.ok() ? run.LastLine() : "";
  }

  absl::StatusOr<JsonValue> WaitEnded(const std::string& job) { return cluster_->WaitEnded(job); }

  int Parallelism(const JsonValue& status) {
    return static_cast<int>(
        IntField(Field(status, "vertices").list_value().values(0), "parallelism"));
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::string checkpoints_;
  std::string savepoints_;
};

TEST_P(IntegrationSavepoint, RescaleTwoThreeOneWhileRunningIsExactlyOnce) {
  std::string out = cluster_->NewDir("ledger");
  constexpr int64_t kTransactions = 120000;
  // Six splits share out evenly at 2, 3 and 1: no subtask runs out of input long before the others
  // (a rescale needs every subtask running).
  std::string job = RunLedger(GetParam(), 2, kTransactions, 2500, out, {"--arg", "splits=6"});
  ASSERT_FALSE(job.empty());
  for (int p : {3, 1}) {
    ASSERT_TRUE(cluster_->WaitForAllRunning(job).ok()) << cluster_->LogTails();
    absl::SleepFor(absl::Seconds(3));  // some records and a checkpoint at this parallelism
    CommandResult rescale =
        cluster_->Sluice({"rescale", job, "--parallelism", std::to_string(p), "--json"});
    ASSERT_TRUE(rescale.ok()) << rescale.Describe() << cluster_->LogTails();
    absl::StatusOr<JsonValue> r = ParseJson(rescale.LastLine());
    ASSERT_TRUE(r.ok()) << rescale.out;
    EXPECT_EQ(StringField(*r, "id"), job);  // the job id stays the same
    absl::StatusOr<JsonValue> status = cluster_->JobStatus(job);
    ASSERT_TRUE(status.ok());
    EXPECT_EQ(Parallelism(*status), p);
  }
  absl::StatusOr<JsonValue> done = WaitEnded(job);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(StringField(*done, "state"), "FINISHED") << StringField(*done, "failure");
  ExpectExactlyOnce(ReadLedger(out), kTransactions, kAccounts);
  EXPECT_EQ(HiddenFiles(out), std::vector<std::string>{});
}

TEST_P(IntegrationSavepoint, StopMoveAndResumeIsExactlyOnceAcrossRuns) {
  std::string out = cluster_->NewDir("ledger");
  constexpr int64_t kTransactions = 60000;
  std::string first = RunLedger(GetParam(), 2, kTransactions, 3000, out);
  ASSERT_TRUE(cluster_->WaitForAllRunning(first).ok()) << cluster_->LogTails();
  absl::SleepFor(absl::Seconds(3));
  CommandResult stop = cluster_->Sluice({"stop", first, "--json"});
  ASSERT_TRUE(stop.ok()) << stop.Describe() << cluster_->LogTails();
  absl::StatusOr<JsonValue> path = ParseJson(stop.LastLine());
  ASSERT_TRUE(path.ok()) << stop.out;
  std::string savepoint = StringField(*path, "path");
  EXPECT_EQ(savepoint.rfind(savepoints_, 0), 0u) << savepoint;
  absl::StatusOr<JsonValue> stopped = cluster_->JobStatus(first);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(StringField(*stopped, "state"), "FINISHED");
  int64_t committed = static_cast<int64_t>(ReadLedger(out).size());
  EXPECT_GT(committed, 0);
  EXPECT_LT(committed, kTransactions);

  CommandResult listed = cluster_->Sluice({"checkpoints", first, "--json"});
  ASSERT_TRUE(listed.ok());
  EXPECT_NE(listed.out.find("\"kind\":\"savepoint\""), std::string::npos) << listed.out;

  // Savepoints are relocatable: move it and resume from the new place.
  std::string moved = cluster_->ScratchPath("moved-savepoint");
  fs::rename(savepoint, moved);
  std::string second =
      RunLedger(GetParam(), 2, kTransactions, 3000, out, {"--from-savepoint", "file://" + moved});
  ASSERT_FALSE(second.empty());
  absl::StatusOr<JsonValue> done = WaitEnded(second);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(StringField(*done, "state"), "FINISHED") << StringField(*done, "failure");
  ExpectExactlyOnce(ReadLedger(out), kTransactions, kAccounts);
}

TEST_P(IntegrationSavepoint, RestoreLatestPicksUpTheNewestSnapshotOfTheJobName) {
  std::string out = cluster_->NewDir("ledger");
  constexpr int64_t kTransactions = 40000;
  std::string first = RunLedger(GetParam(), 2, kTransactions, 3000, out);
  ASSERT_TRUE(cluster_->WaitForAllRunning(first).ok());
  absl::SleepFor(absl::Seconds(3));
  CommandResult stop = cluster_->Sluice({"stop", first});
  ASSERT_TRUE(stop.ok()) << stop.Describe();
  std::string second =
      RunLedger(GetParam(), 1, kTransactions, 3000, out, {"--restore", "latest"});  // rescaled too
  ASSERT_FALSE(second.empty());
  absl::StatusOr<JsonValue> done = WaitEnded(second);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(StringField(*done, "state"), "FINISHED") << StringField(*done, "failure");
  ExpectExactlyOnce(ReadLedger(out), kTransactions, kAccounts);
}

TEST_P(IntegrationSavepoint, NewPackageVersionResumesFromTheOldOnesSavepoint) {
  std::string out = cluster_->NewDir("ledger");
  constexpr int64_t kTransactions = 40000;
  std::string v1 = RunLedger(GetParam(), 2, kTransactions, 3000, out);
  ASSERT_TRUE(cluster_->WaitForAllRunning(v1).ok());
  absl::SleepFor(absl::Seconds(3));
  CommandResult stop = cluster_->Sluice({"stop", v1});
  ASSERT_TRUE(stop.ok()) << stop.Describe();
  // ledger_v2 adds an operator; the stateful ones keep their uids.
  std::vector<std::string> args = {"run",
                                   TestPackage("ledger_v2"),
                                   "--detached",
                                   "--parallelism",
                                   "2",
                                   "--from-savepoint",
                                   stop.LastLine(),
                                   "--arg",
                                   absl::StrCat("transactions=", kTransactions),
                                   "--arg",
                                   "rate=3000",
                                   "--arg",
                                   "output=" + out,
                                   "-D",
                                   "execution.checkpointing.interval=1s",
                                   "-D",
                                   "state.checkpoints.dir=" + checkpoints_};
  if (GetParam() == "rocksdb") args.insert(args.end(), {"-D", "state.backend.type=rocksdb"});
  CommandResult v2 = cluster_->Sluice(args);
  ASSERT_TRUE(v2.ok()) << v2.Describe();
  absl::StatusOr<JsonValue> done = WaitEnded(v2.LastLine());
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(StringField(*done, "state"), "FINISHED") << StringField(*done, "failure");
  ExpectExactlyOnce(ReadLedger(out), kTransactions, kAccounts);
}

INSTANTIATE_TEST_SUITE_P(Backends, IntegrationSavepoint, ::testing::Values("hashmap", "rocksdb"),
                         [](const auto& info) { return info.param; });

class IntegrationSavepointErrors : public IntegrationSavepoint {};

TEST_F(IntegrationSavepointErrors, HeapSavepointRestoresIntoRocksDbButNotTheOtherWayRound) {
  std::string out = cluster_->NewDir("ledger");
  constexpr int64_t kTransactions = 30000;
  // The first two runs go slowly enough to be stopped long before their end on a loaded machine;
  // the last one runs to the end quickly.
  std::string heap_job = RunLedger("hashmap", 2, kTransactions, 1000, out);
  ASSERT_TRUE(cluster_->WaitForAllRunning(heap_job).ok());
  absl::SleepFor(absl::Seconds(2));
  CommandResult stop = cluster_->Sluice({"stop", heap_job});
  ASSERT_TRUE(stop.ok()) << stop.Describe();
  std::string heap_savepoint = stop.LastLine();

  std::string rocks_job =
      RunLedger("rocksdb", 2, kTransactions, 1000, out, {"--from-savepoint", heap_savepoint});
  ASSERT_TRUE(cluster_->WaitForAllRunning(rocks_job).ok()) << cluster_->LogTails();
  absl::SleepFor(absl::Seconds(2));
  CommandResult stop2 = cluster_->Sluice({"stop", rocks_job});
  ASSERT_TRUE(stop2.ok()) << stop2.Describe();
  std::string rocks_savepoint = stop2.LastLine();

  CommandResult back =
      cluster_->Sluice({"run", ExamplePackage("ledger"), "--detached", "--from-savepoint",
                        rocks_savepoint, "--arg", "output=" + out});
  EXPECT_NE(back.exit_code, 0);
  EXPECT_NE(back.err.find("RocksDB"), std::string::npos) << back.Describe();

  std::string last =
      RunLedger("rocksdb", 2, kTransactions, 3000, out, {"--from-savepoint", rocks_savepoint});
  absl::StatusOr<JsonValue> done = WaitEnded(last);
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(StringField(*done, "state"), "FINISHED") << StringField(*done, "failure");
  ExpectExactlyOnce(ReadLedger(out), kTransactions, kAccounts);
}

TEST_F(IntegrationSavepointErrors, BadRestoresAndRescalesAreClearErrorsAndTheJobKeepsRunning) {
  std::string out = cluster_->NewDir("ledger");
  std::string job = RunLedger("hashmap", 2, 0, 500, out, {"--arg", "max_parallelism=16"});
  ASSERT_TRUE(cluster_->WaitForAllRunning(job).ok()) << cluster_->LogTails();

  // Rescale beyond the max parallelism, beyond the slots, to nonsense; and one that works.
  CommandResult too_wide = cluster_->Sluice({"rescale", job, "--parallelism", "17"});
  EXPECT_EQ(too_wide.exit_code, 1) << too_wide.Describe();
  EXPECT_NE(too_wide.err.find("max parallelism 16"), std::string::npos) << too_wide.Describe();
  CommandResult no_slots = cluster_->Sluice({"rescale", job, "--parallelism", "7"});
  EXPECT_EQ(no_slots.exit_code, 1) << no_slots.Describe();  // 6 slots in the cluster
  EXPECT_NE(no_slots.err.find("not enough task slots"), std::string::npos) << no_slots.Describe();
  EXPECT_EQ(StringField(*cluster_->JobStatus(job), "state"), "RUNNING");
  CommandResult works = cluster_->Sluice({"rescale", job, "--parallelism", "4"});
  ASSERT_TRUE(works.ok()) << works.Describe() << cluster_->LogTails();
  CommandResult zero = cluster_->Sluice({"rescale", job, "--parallelism", "0"});
  EXPECT_EQ(zero.exit_code, 2) << zero.Describe();
  EXPECT_EQ(StringField(*cluster_->JobStatus(job), "state"), "RUNNING");

  CommandResult saved = cluster_->Sluice({"savepoint", job});
  ASSERT_TRUE(saved.ok()) << saved.Describe();
  std::string savepoint = saved.LastLine();

  // A missing path.
  CommandResult missing = cluster_->Sluice(
      {"run", ExamplePackage("ledger"), "--detached", "--from-savepoint", savepoint + "-nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no savepoint"), std::string::npos) << missing.Describe();
  // Mismatched uids: wordcount has none of the ledger's operators.
  CommandResult other =
      cluster_->Sluice({"run", ExamplePackage("wordcount"), "--detached", "--from-savepoint",
                        savepoint, "--arg", "input=" + out, "--arg", "output=" + out + "-wc"});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("transactions"), std::string::npos) << other.Describe();
  EXPECT_NE(other.err.find("--allow-non-restored-state"), std::string::npos) << other.Describe();
  // A changed max parallelism.
  CommandResult changed =
      cluster_->Sluice({"run", ExamplePackage("ledger"), "--detached", "--from-savepoint",
                        savepoint, "--arg", "max_parallelism=32", "--arg", "output=" + out});
  EXPECT_EQ(changed.exit_code, 1);
  EXPECT_NE(changed.err.find("max parallelism"), std::string::npos) << changed.Describe();
  // A corrupt _metadata.
  std::string copy = cluster_->ScratchPath("corrupt");
  fs::copy(savepoint, copy, fs::copy_options::recursive);
  {
    std::fstream f(copy + "/_metadata", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);
    f.put('\x7f');
  }
  CommandResult corrupt =
      cluster_->Sluice({"run", ExamplePackage("ledger"), "--detached", "--from-savepoint", copy});
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_NE(corrupt.err.find("_metadata"), std::string::npos) << corrupt.Describe();

  absl::StatusOr<JsonValue> status = cluster_->JobStatus(job);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(StringField(*status, "state"), "RUNNING");
  EXPECT_EQ(IntField(*status, "numRestarts"), 0);
  absl::StatusOr<JsonValue> jobs = cluster_->Jobs();
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->list_value().values_size(), 1) << "no bad submission started a job";
}

}  // namespace
}  // namespace sluice::testing
