// Event time end to end on a real cluster (tests/packages/event_timers.cc): record timestamps
// across the network, in-band watermarks through a keyed exchange, event-time timers fired by the
// watermark, a side output for late records, and the maximum watermark at the end of the bounded
// input firing what is left. The expected output is recomputed here from the package's formula.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
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

constexpr int64_t kBucketMs = 10000;
constexpr int64_t kOutOfOrdernessMs = 2000;

struct Click {
  int64_t user, ts;
};

Click MakeClick(int64_t i, int64_t users) {
  int64_t ts = 1000000 + i * 100 - ((i * 7919) % 50) * 100;
  if (i % 50 == 49) ts -= 20000;
  return Click{i % users, ts};
}

int64_t Bucket(int64_t ts) { return ts - ts % kBucketMs; }

std::vector<std::string> Lines(const std::string& dir) {
  std::vector<std::string> lines;
  for (const std::string& f : VisibleFiles(dir)) {
    for (absl::string_view l : absl::StrSplit(ReadFile(f), '\n', absl::SkipEmpty())) {
      lines.emplace_back(l);
    }
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

class IntegrationEventTime : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<LocalCluster>();
    absl::Status started = cluster_->Start(ClusterOptions{});
    ASSERT_TRUE(started.ok()) << started;
  }

  CommandResult Run(int64_t count, int64_t users, int source_parallelism, int parallelism) {
    counts_ = cluster_->ScratchPath("counts");
    late_ = cluster_->ScratchPath("late");
    return cluster_->Sluice({"run", TestPackage("event_timers"), "--parallelism",
                             std::to_string(parallelism), "--arg", absl::StrCat("count=", count),
                             "--arg", absl::StrCat("users=", users), "--arg",
                             absl::StrCat("source_parallelism=", source_parallelism), "--arg",
                             "counts=" + counts_, "--arg", "late=" + late_});
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::string counts_, late_;
};

// One source subtask: the watermark every keyed subtask sees before click i is exactly the one
// the generator emitted after click i-1, so which clicks are late is determined, and so is every
// bucket's count.
TEST_F(IntegrationEventTime, TimersFireByWatermarkAndLateClicksGoToTheSideOutput) {
  constexpr int64_t kCount = 20000, kUsers = 10;
  CommandResult run = Run(kCount, kUsers, /*source_parallelism=*/1, /*parallelism=*/3);
  ASSERT_TRUE(run.ok()) << run.Describe();

  std::map<std::pair<int64_t, int64_t>, int64_t> counts;
  std::vector<std::string> late;
  int64_t max_ts = INT64_MIN + kOutOfOrdernessMs + 1;
  int64_t watermark = INT64_MIN;
  for (int64_t i = 0; i < kCount; ++i) {
    Click c = MakeClick(i, kUsers);
    if (c.ts <= watermark) {
      late.push_back(absl::StrCat(c.user, ",", c.ts));
    } else {
      ++counts[{c.user, Bucket(c.ts)}];
    }
    max_ts = std::max(max_ts, c.ts);
    watermark = max_ts - kOutOfOrdernessMs - 1;
  }
  std::vector<std::string> expected;
  for (const auto& [key, n] : counts) {
    expected.push_back(absl::StrCat(key.first, ",", key.second, ",", n));
  }
  std::sort(expected.begin(), expected.end());
  std::sort(late.begin(), late.end());
  ASSERT_GT(late.size(), 100u);  // the formula makes every 50th click 20 s late

  EXPECT_EQ(Lines(counts_), expected);
  EXPECT_EQ(Lines(late_), late);
}

// Two source subtasks: the keyed subtasks take the minimum of two channels' watermarks, so which
// clicks are late depends on timing; none is lost or counted twice, and every bucket fires once.
TEST_F(IntegrationEventTime, TwoSourceChannelsLoseNothing) {
  constexpr int64_t kCount = 20000, kUsers = 7;
  CommandResult run = Run(kCount, kUsers, /*source_parallelism=*/2, /*parallelism=*/2);
  ASSERT_TRUE(run.ok()) << run.Describe();

  std::map<std::pair<int64_t, int64_t>, int64_t> total;
  for (int64_t i = 0; i < kCount; ++i) {
    Click c = MakeClick(i, kUsers);
    ++total[{c.user, Bucket(c.ts)}];
  }
  std::map<std::pair<int64_t, int64_t>, int64_t> seen;
  for (const std::string& l : Lines(counts_)) {
    std::vector<std::string> f = absl::StrSplit(l, ',');
    ASSERT_EQ(f.size(), 3u) << l;
    int64_t user, bucket, n;
    ASSERT_TRUE(absl::SimpleAtoi(f[0], &user) && absl::SimpleAtoi(f[1], &bucket) &&
                absl::SimpleAtoi(f[2], &n))
        << l;
    auto [it, inserted] = seen.emplace(std::make_pair(user, bucket), n);
    EXPECT_TRUE(inserted) << "bucket fired twice: " << l;
  }
  for (const std::string& l : Lines(late_)) {
    std::vector<std::string> f = absl::StrSplit(l, ',');
    ASSERT_EQ(f.size(), 2u) << l;
    int64_t user, ts;
    ASSERT_TRUE(absl::SimpleAtoi(f[0], &user) && absl::SimpleAtoi(f[1], &ts)) << l;
    ++seen[{user, Bucket(ts)}];
  }
  EXPECT_EQ(seen, total);
}

// The input watermark of the window's subtask, from `sluice watermarks --json` (nullopt: none yet).
std::optional<int64_t> WindowInputWatermark(LocalCluster& cluster, const std::string& job,
                                            std::string* held_by = nullptr) {
  CommandResult r = cluster.Sluice({"watermarks", job, "--json"});
  if (!r.ok()) return std::nullopt;
  absl::StatusOr<JsonValue> view = ParseJson(r.LastLine());
  if (!view.ok()) return std::nullopt;
  for (const JsonValue& v : Field(*view, "vertices").list_value().values()) {
    if (StringField(v, "name").find("Count per second") == std::string::npos) continue;
    for (const JsonValue& s : Field(v, "subtasks").list_value().values()) {
      if (held_by && Field(s, "heldBackBy").has_string_value()) {
        *held_by = StringField(s, "heldBackBy");
      }
      const JsonValue& wm = Field(s, "inputWatermark");
      if (wm.has_number_value()) return static_cast<int64_t>(wm.number_value());
    }
  }
  return std::nullopt;
}

constexpr int64_t kIdleStart = 1767225600000;  // tests/packages/idle_split.cc

// A source split that goes quiet holds the watermark back until idleness marks it idle; then event
// time follows the busy split and windows fire. `sluice watermarks` shows both.
TEST_F(IntegrationEventTime, AnIdleSplitStopsHoldingTheWatermarkBack) {
  CommandResult held = cluster_->Sluice({"run", TestPackage("idle_split"), "--detached",
                                         "--parallelism", "1", "--arg", "idleness_ms=0"});
  ASSERT_TRUE(held.ok()) << held.Describe();
  std::string held_job = held.LastLine();
  ASSERT_TRUE(cluster_->WaitForAllRunning(held_job).ok()) << cluster_->LogTails();
  absl::SleepFor(absl::Seconds(3));
  std::string held_by;
  std::optional<int64_t> wm = WindowInputWatermark(*cluster_, held_job, &held_by);
  // The quiet split's one record (monotonous: its watermark is the record's time - 1).
  EXPECT_TRUE(!wm || *wm <= kIdleStart) << *wm - kIdleStart;
  // The source names the split that holds it back.
  std::string shown;
  EXPECT_TRUE(WaitUntil(
      [&] {
        shown = cluster_->Sluice({"watermarks", held_job}).out;
        return shown.find("held back by split quiet") != std::string::npos;
      },
      absl::Seconds(30)))
      << shown;
  EXPECT_TRUE(cluster_->Sluice({"cancel", held_job}).ok());

  CommandResult idle = cluster_->Sluice({"run", TestPackage("idle_split"), "--detached",
                                         "--parallelism", "1", "--arg", "idleness_ms=300"});
  ASSERT_TRUE(idle.ok()) << idle.Describe();
  std::string job = idle.LastLine();
  ASSERT_TRUE(cluster_->WaitForAllRunning(job).ok()) << cluster_->LogTails();
  held_by.clear();
  EXPECT_TRUE(WaitUntil(
      [&] {
        std::optional<int64_t> w = WindowInputWatermark(*cluster_, job, &held_by);
        return w && *w > kIdleStart + 5000;
      },
      absl::Seconds(30)))
      << cluster_->LogTails();
  EXPECT_EQ(held_by, "Two splits (1/1)");
  CommandResult text = cluster_->Sluice({"watermarks", job});
  ASSERT_TRUE(text.ok()) << text.Describe();
  EXPECT_NE(text.out.find("held back by Two splits (1/1)"), std::string::npos) << text.out;
  EXPECT_TRUE(cluster_->Sluice({"cancel", job}).ok());
}

// tests/packages/aligned_splits.cc: split 0's event time runs three times as fast as split 1's,
// at the same record rate, on two source subtasks. In one alignment group with a max drift of 1 s,
// split 0 waits for split 1; unaligned, it would be 30 s ahead when split 1 ends (and 22 s when
// split 1 is three quarters through). The sink's lines come in arrival order, so the lead of
// split 0 over split 1 can be read off them.
TEST_F(IntegrationEventTime, WatermarkAlignmentPausesTheSplitThatRunsAheadOfItsGroup) {
  constexpr int64_t kCount = 30000;  // 15000 per split: split 1 spans 15 s of event time
  std::string out = cluster_->ScratchPath("aligned");
  CommandResult run = cluster_->Sluice({"run", TestPackage("aligned_splits"), "--detached", "--arg",
                                        "align_ms=1000", "--arg", absl::StrCat("count=", kCount),
                                        "--arg", "rate=2000", "--arg", "output=" + out});
  ASSERT_TRUE(run.ok()) << run.Describe();
  const std::string job = run.LastLine();
  std::string shown;
  EXPECT_TRUE(WaitUntil(
      [&] {
        CommandResult r = cluster_->Sluice({"watermarks", job});
        shown = r.out;
        return r.out.find("split(s) paused by watermark alignment") != std::string::npos;
      },
      absl::Seconds(30)))
      << shown << cluster_->LogTails();
  absl::StatusOr<JsonValue> done = cluster_->WaitForState(job, "FINISHED", absl::Minutes(3));
  ASSERT_TRUE(done.ok()) << done.status() << cluster_->LogTails();

  // Arrival order: the sink has one subtask, and its part files are named in order.
  std::vector<std::pair<int64_t, int64_t>> ticks;  // (split, ts)
  for (const std::string& f : VisibleFiles(out)) {
    for (absl::string_view l : absl::StrSplit(ReadFile(f), '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> p = absl::StrSplit(l, ' ');
      ASSERT_EQ(p.size(), 2u) << l;
      int64_t split = 0, ts = 0;
      ASSERT_TRUE(absl::SimpleAtoi(p[0], &split) && absl::SimpleAtoi(p[1], &ts)) << l;
      ticks.emplace_back(split, ts);
    }
  }
  ASSERT_EQ(ticks.size(), static_cast<size_t>(kCount));
  size_t last_slow = 0;
  for (size_t i = 0; i < ticks.size(); ++i) {
    if (ticks[i].first == 1) last_slow = i;
  }
  // Until split 1 ends, split 0 stays within the drift, plus what it can run in one periodic
  // watermark and one alignment update (and the network's flush delay) before it is paused.
  int64_t fast = INT64_MIN, slow = INT64_MIN, lead_at_end = 0, worst_late_lead = 0;
  for (size_t i = 0; i <= last_slow; ++i) {
    (ticks[i].first == 0 ? fast : slow) = ticks[i].second;
    if (fast == INT64_MIN || slow == INT64_MIN) continue;
    lead_at_end = fast - slow;
    // The first seconds run free (the group's first allowance comes with the first report), and
    // on a loaded machine the catching up takes a while: the last quarter is the steady state.
    if (i >= last_slow / 4 * 3) worst_late_lead = std::max(worst_late_lead, fast - slow);
  }
  EXPECT_LT(lead_at_end, 10000);
  EXPECT_LT(worst_late_lead, 10000);
}

}  // namespace
}  // namespace sluice::testing
