// Two-input operators (Connect) on a real cluster, with tests/packages/two_inputs.cc: a keyed
// co-process function whose one balance per account takes records of two inputs of different
// types stays exactly once through a killed TaskManager and a rescale 2 -> 3, on both backends;
// and its event-time timers fire on the minimum of both inputs' watermarks.
#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/ledger_check.h"

namespace sluice::testing {
namespace {

constexpr int64_t kAccounts = 100;

class IntegrationTwoInputs : public ::testing::TestWithParam<std::string> {};

TEST_P(IntegrationTwoInputs, KeyedCoProcessIsExactlyOnceThroughAKillAndARescale) {
  LocalCluster cluster;
  ClusterOptions options;
  options.taskmanagers = 2;
  options.slots = 2;
  absl::Status started = cluster.Start(options);
  ASSERT_TRUE(started.ok()) << started;
  std::string out = cluster.NewDir("ledger");
  constexpr int64_t kPerInput = 36000;  // at 1500/s per source subtask: about 12 s at 2
  std::vector<std::string> extra =
      CheckpointDefines(GetParam(), cluster.ScratchPath("chk"), cluster.ScratchPath("savepoints"));
  extra.insert(extra.end(), {"-D", "restart-strategy.type=fixed-delay", "-D",
                             "restart-strategy.fixed-delay.attempts=1000", "-D",
                             "restart-strategy.fixed-delay.delay=200ms"});
  absl::StatusOr<std::string> job =
      cluster.SubmitDetached(TestPackage("two_inputs"), 2,
                             {"mode=ledger", absl::StrCat("transactions=", kPerInput),
                              absl::StrCat("accounts=", kAccounts), "rate=1500", "output=" + out},
                             extra);
  ASSERT_TRUE(job.ok()) << job.status();

  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok()) << cluster.LogTails();
  absl::SleepFor(absl::Seconds(3));  // records in both inputs' state, and checkpoints
  ASSERT_TRUE(cluster.KillTaskManager(2).ok());
  absl::StatusOr<int> added = cluster.AddTaskManager();
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster.LogTails();
  absl::SleepFor(absl::Seconds(2));
  CommandResult rescale = cluster.Sluice({"rescale", *job, "--parallelism", "3"});
  ASSERT_TRUE(rescale.ok()) << rescale.Describe() << cluster.LogTails();

  absl::StatusOr<JsonValue> done = cluster.WaitEnded(*job);
  ASSERT_TRUE(done.ok()) << done.status() << cluster.LogTails();
  ASSERT_EQ(StringField(*done, "state"), "FINISHED") << StringField(*done, "failure");
  EXPECT_GE(IntField(*done, "numRestarts"), 1);
  // Deposits have the even ids, bonuses the odd ones: both inputs, every record once, and each
  // account's balance rising by exactly each record's amount, across both.
  ExpectExactlyOnce(ReadLedger(out), 2 * kPerInput, kAccounts);
}

INSTANTIATE_TEST_SUITE_P(Backends, IntegrationTwoInputs, ::testing::Values("hashmap", "rocksdb"));

TEST(IntegrationTwoInputsEventTime, TimersFireOnTheMinimumOfBothInputsWatermarks) {
  LocalCluster cluster;
  absl::Status started = cluster.Start(ClusterOptions{});
  ASSERT_TRUE(started.ok()) << started;
  std::string out = cluster.NewDir("out");
  constexpr int64_t kCount = 200;
  absl::StatusOr<std::string> job = cluster.SubmitDetached(
      TestPackage("two_inputs"), 1,
      {"mode=watermarks", absl::StrCat("count=", kCount), "slow_rate=20", "output=" + out});
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<JsonValue> done = cluster.WaitEnded(*job);
  ASSERT_TRUE(done.ok()) << done.status() << cluster.LogTails();
  ASSERT_EQ(StringField(*done, "state"), "FINISHED") << StringField(*done, "failure");

  std::vector<std::string> files = VisibleFiles(out);
  ASSERT_EQ(files.size(), 1u);
  std::vector<std::string> lines =
      absl::StrSplit(ReadFile(files[0]), '\n', absl::SkipEmpty());
  // The slow input's records come at times 0, 100, ..., its watermark is its time - 1, and a
  // timer at t may fire only once both watermarks reached t: after a slow record at a time above
  // t went by, or after the slow input's last record (it then ends: the maximum watermark).
  int64_t slow_seen = -1;  // the highest slow time written so far
  int timers = 0, early = 0;
  const int64_t slow_last = (kCount / 10 - 1) * 100;
  for (const std::string& line : lines) {
    std::istringstream in(line);
    std::string kind, wm_word;
    int64_t t = 0, wm = 0;
    in >> kind >> t;
    if (kind == "slow") {
      slow_seen = std::max(slow_seen, t);
      continue;
    }
    ASSERT_EQ(kind, "timer") << line;
    in >> wm_word >> wm;
    ++timers;
    EXPECT_GE(wm, t) << line;
    // Past the slow input's last time, only its end (the maximum watermark) lets a timer fire.
    const bool passed = slow_seen > t || slow_seen == slow_last;
    if (!passed) ++early;
  }
  EXPECT_EQ(timers, kCount) << "every timer fires once:\n" << ReadFile(files[0]);
  EXPECT_EQ(early, 0) << "timers fired before the slow input's watermark passed them:\n"
                      << ReadFile(files[0]);
}

}  // namespace
}  // namespace sluice::testing
