// Two-input operators on a real cluster, with tests/packages/two_inputs.cc: a keyed co-process
// function whose one balance per account takes records of two inputs of different types, and an
// interval join with its buffered records, stay exactly once through a killed TaskManager and a
// rescale 2 -> 3, on both backends; and event-time timers of a two-input operator fire on the
// minimum of both inputs' watermarks. Async I/O (tests/packages/async_io.cc), ordered and
// unordered, keeps its requests in flight through the same kill and rescale: each deposit once,
// with the amount its request looked up.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "examples/customer_service.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/ledger_check.h"

namespace sluice::testing {
namespace {

constexpr int64_t kAccounts = 100;

class IntegrationTwoInputs : public ::testing::TestWithParam<std::string> {
 protected:
  //! Runs tests/packages/two_inputs.so in `mode` with `args` (plus the output folder) at
  //! parallelism 2 with checkpoints; once it runs, kills a TaskManager (a new one replaces it),
  //! and once it runs again, rescales it to 3. Returns the output folder once it FINISHED.
  std::string RunThroughAKillAndARescale(const std::string& mode, std::vector<std::string> args,
                                         const std::string& package = "two_inputs") {
    ClusterOptions options;
    options.taskmanagers = 2;
    options.slots = 2;
    absl::Status started = cluster_.Start(options);
    EXPECT_TRUE(started.ok()) << started;
    if (!started.ok()) return "";
    std::string out = cluster_.NewDir("out");
    const std::vector<std::string> extra = RestartingCheckpointDefines(
        GetParam(), cluster_.ScratchPath("chk"), cluster_.ScratchPath("savepoints"));
    if (!mode.empty()) args.push_back("mode=" + mode);
    args.push_back("output=" + out);
    absl::StatusOr<std::string> job = cluster_.SubmitDetached(TestPackage(package), 2, args, extra);
    EXPECT_TRUE(job.ok()) << job.status();
    if (!job.ok()) return "";

    EXPECT_TRUE(cluster_.WaitForAllRunning(*job).ok()) << cluster_.LogTails();
    absl::SleepFor(absl::Seconds(3));  // records in both inputs' state, and checkpoints
    EXPECT_TRUE(cluster_.KillTaskManager(2).ok());
    absl::StatusOr<int> added = cluster_.AddTaskManager();
    EXPECT_TRUE(added.ok()) << added.status();
    EXPECT_TRUE(cluster_.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster_.LogTails();
    absl::SleepFor(absl::Seconds(2));
    CommandResult rescale = cluster_.Sluice({"rescale", *job, "--parallelism", "3"});
    EXPECT_TRUE(rescale.ok()) << rescale.Describe() << cluster_.LogTails();

    absl::StatusOr<JsonValue> done = cluster_.WaitEnded(*job);
    EXPECT_TRUE(done.ok()) << done.status() << cluster_.LogTails();
    if (!done.ok()) return "";
    EXPECT_EQ(StringField(*done, "state"), "FINISHED") << StringField(*done, "failure");
    EXPECT_GE(IntField(*done, "numRestarts"), 1);
    return out;
  }

  LocalCluster cluster_;
};

TEST_P(IntegrationTwoInputs, KeyedCoProcessIsExactlyOnceThroughAKillAndARescale) {
  constexpr int64_t kPerInput = 36000;  // at 1500/s per source subtask: about 12 s at 2
  std::string out = RunThroughAKillAndARescale(
      "ledger", {absl::StrCat("transactions=", kPerInput), absl::StrCat("accounts=", kAccounts),
                 "rate=1500", "ttl_ms=3600000"});
  ASSERT_FALSE(out.empty());
  // Deposits have the even ids, bonuses the odd ones: both inputs, every record once, and each
  // account's balance — state with a time-to-live of an hour, its times stored with it — rising
  // by exactly each record's amount, across both.
  ExpectExactlyOnce(ReadLedger(out), 2 * kPerInput, kAccounts);
}

TEST_P(IntegrationTwoInputs, IntervalJoinIsExactlyOnceThroughAKillAndARescale) {
  constexpr int64_t kPerInput = 30000;
  constexpr int64_t kUsers = 7;
  std::string out = RunThroughAKillAndARescale(
      "interval",
      {absl::StrCat("transactions=", kPerInput), absl::StrCat("users=", kUsers), "rate=1250"});
  ASSERT_FALSE(out.empty());
  // The package's formula: click i at 10i, view j at 10j + 3, user (time / 100) % users; a pair
  // when the users are equal and the view is within [-15, 15] ms of the click.
  constexpr int64_t kBase = 1700000000000;
  std::vector<std::string> want;
  for (int64_t i = 0; i < kPerInput; ++i) {
    const int64_t click = kBase + 10 * i;
    for (int64_t j = std::max<int64_t>(0, i - 2); j <= std::min(kPerInput - 1, i + 2); ++j) {
      const int64_t view = kBase + 10 * j + 3;
      if ((click / 100) % kUsers != (view / 100) % kUsers) continue;
      if (view < click - 15 || view > click + 15) continue;
      want.push_back(absl::StrCat(i, ",", j));
    }
  }
  std::vector<std::string> got;
  for (const std::string& file : VisibleFiles(out)) {
    for (absl::string_view line : absl::StrSplit(ReadFile(file), '\n', absl::SkipEmpty())) {
      got.emplace_back(line);
    }
  }
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got.size(), want.size());
  std::vector<std::string> missing, extra;
  std::set_difference(want.begin(), want.end(), got.begin(), got.end(),
                      std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
  EXPECT_TRUE(missing.empty()) << missing.size() << " pairs missing, the first " << missing[0];
  EXPECT_TRUE(extra.empty()) << extra.size() << " pairs extra or repeated, the first " << extra[0];
}

TEST_P(IntegrationTwoInputs, BroadcastStateReachesEverySubtaskThroughAKillAndARescale) {
  constexpr int64_t kDeposits = 36000;
  // At 4 per second: 16 s, past the kill and the rescale (a rescale needs every subtask running).
  constexpr int64_t kRules = 64;
  std::string report = cluster_.NewDir("report");
  std::string out = RunThroughAKillAndARescale(
      "broadcast",
      {absl::StrCat("transactions=", kDeposits), absl::StrCat("accounts=", kAccounts), "rate=1500",
       absl::StrCat("rules=", kRules), "rule_rate=4", "report=" + report});
  ASSERT_FALSE(out.empty());
  ExpectExactlyOnce(ReadLedger(out), kDeposits, kAccounts);
  // Each of the 3 subtasks after the rescale held every rule at its end: those it saw, and those
  // the snapshot of subtask 0 gave it whole.
  std::vector<std::string> lines;
  for (const std::string& file : VisibleFiles(report)) {
    for (absl::string_view line : absl::StrSplit(ReadFile(file), '\n', absl::SkipEmpty())) {
      lines.emplace_back(line);
    }
  }
  const std::string every_rule = absl::StrCat("rules ", kRules, " ", kRules * (kRules + 1) / 2);
  EXPECT_EQ(lines, std::vector<std::string>(3, every_rule));
}

INSTANTIATE_TEST_SUITE_P(Backends, IntegrationTwoInputs, ::testing::Values("hashmap", "rocksdb"));

TEST_P(IntegrationTwoInputs, AsyncRequestsInFlightSurviveAKillAndARescale) {
  constexpr int64_t kDeposits = 36000;
  // Both orders, one per backend: the backend holds the balances after the async operator.
  const std::string order = GetParam() == "hashmap" ? "unordered" : "ordered";
  std::string out = RunThroughAKillAndARescale(
      "",
      {absl::StrCat("transactions=", kDeposits), absl::StrCat("accounts=", kAccounts), "rate=1500",
       "order=" + order, "capacity=20", "max_delay_us=20000"},
      "async_io");
  ASSERT_FALSE(out.empty());
  std::vector<LedgerLine> lines = ReadLedger(out);
  ExpectExactlyOnce(lines, kDeposits, kAccounts);
  int64_t wrong = 0;
  for (const LedgerLine& l : lines) wrong += l.amount != l.id % 1000 + 1;
  EXPECT_EQ(wrong, 0) << "lines without the looked-up amount";
}

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
  std::vector<std::string> lines = absl::StrSplit(ReadFile(files[0]), '\n', absl::SkipEmpty());
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

// examples/fraud.cc (what `make demo` runs): rules arrive while transactions flow, so which
// transactions meet which limits depends on timing; every alert must still be over the limit it
// names, and with 20000 transactions (one in ten large) some must come.
TEST(IntegrationExamples, FraudAlertsOnlyOnTransactionsOverTheirLimit) {
  LocalCluster cluster;
  ASSERT_TRUE(cluster.Start(ClusterOptions{}).ok());
  std::string out = cluster.NewDir("alerts");
  CommandResult run =
      cluster.Sluice({"run", ExamplePackage("fraud"), "--parallelism", "2", "--arg",
                      "transactions=20000", "--arg", "rate=2500", "--arg", "output=" + out});
  ASSERT_TRUE(run.ok()) << run.Describe() << cluster.LogTails();
  int alerts = 0;
  for (const std::string& file : VisibleFiles(out)) {
    for (absl::string_view line : absl::StrSplit(ReadFile(file), '\n', absl::SkipEmpty())) {
      // "alert card <card>: <amount> <category> at <time> (<limit> allowed)"
      std::istringstream in{std::string(line)};
      std::string alert, card_word, card, category, at, limit_text;
      int64_t amount = 0, time = 0;
      in >> alert >> card_word >> card >> amount >> category >> at >> time >> limit_text;
      ASSERT_EQ(alert, "alert") << line;
      const int64_t limit = std::stoll(limit_text.substr(1));
      EXPECT_GT(amount, limit) << line;
      ++alerts;
    }
  }
  EXPECT_GT(alerts, 0);
}

// examples/enrich.cc against its HTTP service (examples/customer_service.h, here in the test's
// process on a free port of the loopback): every order once, with the customer the service gives
// its id, looked up over HTTP.
TEST(IntegrationExamples, EnrichLooksEveryOrderUpInTheHttpService) {
  constexpr int64_t kOrders = 5000;
  constexpr int64_t kCustomers = 500;
  examples::CustomerService service(std::chrono::milliseconds(1));
  const int port = service.Start();
  ASSERT_GT(port, 0);
  LocalCluster cluster;
  ASSERT_TRUE(cluster.Start(ClusterOptions{}).ok());
  std::string out = cluster.NewDir("enriched");
  CommandResult run = cluster.Sluice({"run", ExamplePackage("enrich"), "--parallelism", "2",
                                      "--arg", absl::StrCat("service=http://127.0.0.1:", port),
                                      "--arg", absl::StrCat("orders=", kOrders), "--arg",
                                      absl::StrCat("customers=", kCustomers), "--arg",
                                      "timeout_ms=60000", "--arg", "output=" + out});
  ASSERT_TRUE(run.ok()) << run.Describe() << cluster.LogTails();
  std::vector<std::string> got;
  for (const std::string& file : VisibleFiles(out)) {
    for (absl::string_view line : absl::StrSplit(ReadFile(file), '\n', absl::SkipEmpty())) {
      got.emplace_back(line);
    }
  }
  std::vector<std::string> want;
  for (int64_t id = 0; id < kOrders; ++id) {
    const int64_t customer = (id * 37) % kCustomers;
    const int64_t cents = (id * 7919) % 10000 + 100;
    char amount[32];
    std::snprintf(amount, sizeof amount, "%lld.%02lld", static_cast<long long>(cents / 100),
                  static_cast<long long>(cents % 100));
    want.push_back(absl::StrCat("order ", id, ": ", amount, " by ",
                                examples::CustomerName(customer), " (",
                                examples::CustomerTier(customer), ")"));
  }
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_GE(service.requests(), kOrders);
}

}  // namespace
}  // namespace sluice::testing
