// Windows on a real cluster (examples/clicks.cc): 10 s tumbling counts with allowed lateness and a
// late side output, and 1 s sessions, with both state backends. Checked against what the example's
// formula says, recomputed here: exactly once through a killed TaskManager, the same results after
// a stop with a savepoint and a restore at another parallelism as in one uninterrupted run, and
// `stop --drain` firing the windows still open.
#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

constexpr int64_t kStart = 1767225600000;
constexpr int64_t kUsers = 20, kStepMs = 20, kDisorderMs = 2000;
constexpr int64_t kWindowMs = 10000, kGapMs = 1000;

struct Click {
  int64_t user, ts;
};

//! examples/clicks.cc's MakeClick.
Click MakeClick(int64_t i, int64_t late_every) {
  int64_t ts = kStart + i * kStepMs - (i * 7919) % (kDisorderMs + 1);
  if (late_every > 0 && i % late_every == late_every - 1) ts -= 30000;
  return Click{(i / 50) % kUsers, ts};
}

int64_t WindowStart(int64_t ts) { return ts - ((ts % kWindowMs) + kWindowMs) % kWindowMs; }

std::vector<std::vector<int64_t>> Rows(const std::string& dir, size_t fields) {
  std::vector<std::vector<int64_t>> rows;
  for (const std::string& f : VisibleFiles(dir)) {
    for (absl::string_view l : absl::StrSplit(ReadFile(f), '\n', absl::SkipEmpty())) {
      std::vector<int64_t> row;
      for (absl::string_view v : absl::StrSplit(l, ',')) {
        int64_t n = 0;
        EXPECT_TRUE(absl::SimpleAtoi(v, &n)) << l;
        row.push_back(n);
      }
      EXPECT_EQ(row.size(), fields) << l;
      if (row.size() == fields) rows.push_back(std::move(row));
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

//! Sessions of each user as the formula makes them: a click joins the session when it falls
//! within the gap of its latest click (touching windows merge, as Flink's TimeWindow.intersects).
std::vector<std::vector<int64_t>> ExpectedSessions(int64_t clicks) {
  std::map<int64_t, std::vector<int64_t>> times;
  for (int64_t i = 0; i < clicks; ++i) {
    Click c = MakeClick(i, 0);
    times[c.user].push_back(c.ts);
  }
  std::vector<std::vector<int64_t>> sessions;
  for (auto& [user, ts] : times) {
    std::sort(ts.begin(), ts.end());
    int64_t start = ts[0], end = ts[0] + kGapMs, n = 0;
    for (int64_t t : ts) {
      if (t > end) {
        sessions.push_back({user, start, end, n});
        start = t;
        n = 0;
      }
      end = std::max(end, t + kGapMs);
      ++n;
    }
    sessions.push_back({user, start, end, n});
  }
  std::sort(sessions.begin(), sessions.end());
  return sessions;
}

std::vector<std::vector<int64_t>> ExpectedCounts(int64_t clicks) {
  std::map<std::pair<int64_t, int64_t>, int64_t> counts;
  for (int64_t i = 0; i < clicks; ++i) {
    Click c = MakeClick(i, 0);
    ++counts[{c.user, WindowStart(c.ts)}];
  }
  std::vector<std::vector<int64_t>> rows;
  for (const auto& [k, n] : counts) rows.push_back({k.first, k.second, k.second + kWindowMs, n});
  return rows;
}

std::string Row(const std::vector<int64_t>& row) {
  std::string s;
  for (int64_t v : row) absl::StrAppend(&s, s.empty() ? "" : ",", v);
  return s;
}

//! Equal, or the rows missing and the rows unexpected (not the whole lists).
void ExpectRows(const std::vector<std::vector<int64_t>>& actual,
                const std::vector<std::vector<int64_t>>& expected, const std::string& what) {
  if (actual == expected) return;
  std::vector<std::vector<int64_t>> missing, extra;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(),
                      std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(),
                      std::back_inserter(extra));
  std::string text;
  for (size_t i = 0; i < missing.size() && i < 10; ++i)
    absl::StrAppend(&text, " -", Row(missing[i]));
  for (size_t i = 0; i < extra.size() && i < 10; ++i) absl::StrAppend(&text, " +", Row(extra[i]));
  ADD_FAILURE() << what << ": " << missing.size() << " missing, " << extra.size()
                << " unexpected:" << text;
}

class IntegrationWindows : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>();
    ClusterOptions options;
    options.taskmanagers = 3;
    options.slots = 2;
    absl::Status started = cluster_->Start(options);
    ASSERT_TRUE(started.ok()) << started;
    out_ = cluster_->NewDir("clicks");
  }

  //! `run clicks.so --detached` with checkpoints every second; returns the job id.
  std::string RunClicks(int parallelism, int64_t clicks, int64_t rate, int64_t late_every,
                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> options = CheckpointDefines(
        GetParam(), cluster_->ScratchPath("checkpoints"), cluster_->ScratchPath("savepoints"));
    options.insert(options.end(), extra.begin(), extra.end());
    absl::StatusOr<std::string> job =
        cluster_->SubmitDetached(ExamplePackage("clicks"), parallelism,
                                 {absl::StrCat("clicks=", clicks), absl::StrCat("rate=", rate),
                                  absl::StrCat("late_every=", late_every), "output=" + out_},
                                 options);
    EXPECT_TRUE(job.ok()) << job.status();
    return job.ok() ? *job : "";
  }

  void ExpectFinished(const std::string& job) {
    absl::StatusOr<JsonValue> done = cluster_->WaitEnded(job, absl::Seconds(180));
    ASSERT_TRUE(done.ok()) << done.status() << cluster_->LogTails();
    ASSERT_EQ(StringField(*done, "state"), "FINISHED") << StringField(*done, "failure");
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::string out_;
};

// A TaskManager dies while windows and sessions are open: the job restarts from its last
// checkpoint, and the transactional file sinks commit every window result exactly once — without
// late clicks, exactly the windows and sessions of the formula.
TEST_P(IntegrationWindows, WindowResultsAreExactlyOnceThroughAKilledTaskManager) {
  constexpr int64_t kClicks = 24000;
  std::string job = RunClicks(2, kClicks, /*rate=*/1200, /*late_every=*/0);
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(cluster_->WaitForAllRunning(job, absl::Seconds(60)).ok()) << cluster_->LogTails();
  absl::SleepFor(absl::Seconds(4));  // a few checkpoints and fired windows
  absl::StatusOr<JsonValue> running = cluster_->WaitForAllRunning(job, absl::Seconds(60));
  ASSERT_TRUE(running.ok()) << running.status();
  std::string victim_id = StringField(*Subtasks(*running).back().second, "taskmanager");
  for (int i = 1; i <= 3; ++i) {
    absl::StatusOr<std::string> id = cluster_->TaskManagerId(i);
    if (id.ok() && *id == victim_id) {
      ASSERT_TRUE(cluster_->KillTaskManager(i).ok());
      break;
    }
  }
  ExpectFinished(job);
  ExpectRows(Rows(out_ + "/counts", 4), ExpectedCounts(kClicks), "counts");
  ExpectRows(Rows(out_ + "/sessions", 4), ExpectedSessions(kClicks), "sessions");
}

// Late clicks, in one run without failures: a click within the allowed lateness fires its window
// again with the new count, one beyond it goes to the late side output, so for every window its
// last firing plus its late clicks is every click of the window.
TEST_P(IntegrationWindows, LateClicksFireTheirWindowAgainOrGoToTheSideOutput) {
  constexpr int64_t kClicks = 12000, kLateEvery = 97;
  // Slow enough that periodic watermarks (every 200 ms) pass the late clicks' windows.
  std::string job = RunClicks(2, kClicks, /*rate=*/1500, kLateEvery);
  ASSERT_FALSE(job.empty());
  ExpectFinished(job);
  std::map<std::pair<int64_t, int64_t>, int64_t> total, fired, late;
  for (int64_t i = 0; i < kClicks; ++i) {
    Click c = MakeClick(i, kLateEvery);
    ++total[{c.user, WindowStart(c.ts)}];
  }
  for (const auto& row : Rows(out_ + "/counts", 4)) {
    EXPECT_EQ(row[2] - row[1], kWindowMs);
    int64_t& n = fired[{row[0], row[1]}];
    n = std::max(n, row[3]);
  }
  int64_t late_clicks = 0;
  for (const auto& row : Rows(out_ + "/late", 2)) {
    ++late[{row[0], WindowStart(row[1])}];
    ++late_clicks;
  }
  EXPECT_GT(late_clicks, 0);
  for (const auto& [window, n] : total) {
    EXPECT_EQ(fired[window] + late[window], n)
        << "user " << window.first << " window " << window.second;
  }
}

// Without late clicks the results are determined: a run stopped with a savepoint and restored at
// parallelism 3 (pending windows, session state and timers move by key group) commits exactly
// the counts and sessions that the formula gives, as one uninterrupted run does.
TEST_P(IntegrationWindows, StopAndRestoreAtAnotherParallelismGivesTheSameWindows) {
  constexpr int64_t kClicks = 16000;
  std::string job = RunClicks(2, kClicks, /*rate=*/1000, /*late_every=*/0);
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(cluster_->WaitForAllRunning(job, absl::Seconds(60)).ok()) << cluster_->LogTails();
  absl::SleepFor(absl::Seconds(3));
  CommandResult stop = cluster_->Sluice({"stop", job, "--json"});
  ASSERT_TRUE(stop.ok()) << stop.Describe() << cluster_->LogTails();
  absl::StatusOr<JsonValue> path = ParseJson(stop.LastLine());
  ASSERT_TRUE(path.ok()) << stop.out;
  const size_t before = Rows(out_ + "/counts", 4).size();
  EXPECT_GT(before, 0u);
  EXPECT_LT(before, ExpectedCounts(kClicks).size());

  std::string resumed =
      RunClicks(3, kClicks, 1000, 0, {"--from-savepoint", StringField(*path, "path")});
  ASSERT_FALSE(resumed.empty());
  ExpectFinished(resumed);
  ExpectRows(Rows(out_ + "/counts", 4), ExpectedCounts(kClicks), "counts");
  ExpectRows(Rows(out_ + "/sessions", 4), ExpectedSessions(kClicks), "sessions");
  EXPECT_EQ(Rows(out_ + "/late", 2).size(), 0u);
}

// `stop --drain` ends event time: every window still open fires before the job finishes, so the
// tumbling counts and the sessions account for the same clicks. A plain stop would leave the last
// windows unfired.
TEST_P(IntegrationWindows, StopWithDrainFiresTheOpenWindows) {
  std::string job = RunClicks(2, /*clicks=*/0, /*rate=*/500, /*late_every=*/0);
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(cluster_->WaitForAllRunning(job, absl::Seconds(60)).ok()) << cluster_->LogTails();
  absl::SleepFor(absl::Seconds(3));
  CommandResult stop = cluster_->Sluice({"stop", job, "--drain"});
  ASSERT_TRUE(stop.ok()) << stop.Describe() << cluster_->LogTails();
  int64_t counted = 0, sessioned = 0;
  for (const auto& row : Rows(out_ + "/counts", 4)) counted += row[3];
  for (const auto& row : Rows(out_ + "/sessions", 4)) sessioned += row[3];
  EXPECT_GT(counted, 0);
  EXPECT_EQ(counted, sessioned);
}

INSTANTIATE_TEST_SUITE_P(Backends, IntegrationWindows, ::testing::Values("hashmap", "rocksdb"));

}  // namespace
}  // namespace sluice::testing
