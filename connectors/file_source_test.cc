// The text file source watching a directory (FileSourceOptions::monitor_interval): new files
// become splits at each scan, hidden ones wait, every file is read once across subtasks, and the
// seen files survive a restore and a rescale (the bounded source is in connectors_test.cc).
#include "sluice/connectors/file_source.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "connector_test_util.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice {
namespace {

using namespace connectors_test;
using testing::FakeRuntimeContext;

FileSourceOptions EverySecond() {
  FileSourceOptions o;
  o.monitor_interval = std::chrono::seconds(1);
  return o;
}

//! One subtask of a watching source, driven by the test.
struct Subtask {
  Subtask(const std::string& dir, int index, int parallelism,
          const std::map<std::string, std::vector<std::string>>* restored = nullptr)
      : ctx(index, parallelism), source(dir, std::nullopt, EverySecond()) {
    if (restored) {
      RestoringInit init(*restored);
      source.InitializeState(init);
    }
    source.Open(ctx, out);
  }
  ~Subtask() { source.Close(); }
  //! Polls until the source has nothing more now; fails if it ever ends.
  void Drain() {
    for (int polls = 0; polls < 1000; ++polls) {
      int64_t wait = 0;
      const SourceStatus s = source.PollNext(&wait);
      ASSERT_NE(s, SourceStatus::kEndOfInput) << "a watching source never ends";
      if (s == SourceStatus::kNothingAvailable) {
        EXPECT_GT(wait, 0);
        return;
      }
    }
    FAIL() << "the source kept producing";
  }
  FakeRuntimeContext ctx;
  CapturingOutput<std::string> out;
  TextFileSource source;
};

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(FileSourceMonitoringTest, NewFilesAreReadAtTheNextScanAndHiddenOnesWait) {
  TempDir dir;
  WriteFile(dir.path() / "a.txt", "a1\na2\n");
  Subtask sub(dir.str(), 0, 1);
  sub.ctx.now = 10000;
  sub.Drain();
  EXPECT_EQ(sub.out.records, (std::vector<std::string>{"a1", "a2"}));

  WriteFile(dir.path() / "b.txt", "b1\n");
  WriteFile(dir.path() / ".c.txt.inprogress", "c1\n");
  sub.Drain();  // not yet: the next scan is a second after the first
  EXPECT_EQ(sub.out.records.size(), 2u);
  sub.ctx.now = 11000;
  sub.Drain();
  EXPECT_EQ(sub.out.records, (std::vector<std::string>{"a1", "a2", "b1"}));

  fs::rename(dir.path() / ".c.txt.inprogress", dir.path() / "c.txt");  // published
  WriteFile(dir.path() / "a.txt", "a1\na2\nappended\n");               // seen: not read again
  sub.ctx.now = 12000;
  sub.Drain();
  EXPECT_EQ(sub.out.records, (std::vector<std::string>{"a1", "a2", "b1", "c1"}));
}

TEST(FileSourceMonitoringTest, SubtasksShareTheFilesEachReadOnce) {
  TempDir dir;
  std::vector<std::string> want;
  for (int f = 0; f < 20; ++f) {
    WriteFile(dir.path() / ("f" + std::to_string(f)), "line " + std::to_string(f) + "\n");
    want.push_back("line " + std::to_string(f));
  }
  Subtask s0(dir.str(), 0, 2), s1(dir.str(), 1, 2);
  s0.Drain();
  s1.Drain();
  EXPECT_FALSE(s0.out.records.empty());
  EXPECT_FALSE(s1.out.records.empty());
  std::vector<std::string> got = s0.out.records;
  got.insert(got.end(), s1.out.records.begin(), s1.out.records.end());
  EXPECT_EQ(Sorted(got), Sorted(want));
}

TEST(FileSourceMonitoringTest, SeenFilesSurviveARestoreIntoMoreSubtasks) {
  TempDir dir;
  std::string big;
  for (int i = 0; i < 2000; ++i) big += "big " + std::to_string(i) + "\n";
  WriteFile(dir.path() / "big.txt", big);  // more than one poll's batch: read in part
  WriteFile(dir.path() / "small.txt", "small\n");
  std::map<std::string, std::vector<std::string>> state;
  std::vector<std::string> before;
  {
    Subtask sub(dir.str(), 0, 1);
    int64_t wait = 0;
    ASSERT_EQ(sub.source.PollNext(&wait), SourceStatus::kMoreAvailable);
    CollectingSnapshot snap(1);
    sub.source.SnapshotState(snap);
    state = snap.lists;
    before = sub.out.records;
  }
  EXPECT_EQ(state["seen-files"].size(), 2u);
  WriteFile(dir.path() / "new.txt", "new\n");
  // Restored into two subtasks: the rest of what was being read, the file not started yet, and
  // the new file, each once; nothing read before comes again.
  std::vector<std::string> after;
  for (int index = 0; index < 2; ++index) {
    std::map<std::string, std::vector<std::string>> mine = state;
    auto& splits = mine["splits"];
    std::vector<std::string> dealt;
    for (size_t i = static_cast<size_t>(index); i < splits.size(); i += 2)
      dealt.push_back(splits[i]);
    splits = dealt;
    Subtask sub(dir.str(), index, 2, &mine);
    sub.Drain();
    after.insert(after.end(), sub.out.records.begin(), sub.out.records.end());
  }
  std::vector<std::string> all = before;
  all.insert(all.end(), after.begin(), after.end());
  std::vector<std::string> want = ExpectedLines(big);
  want.push_back("small");
  want.push_back("new");
  EXPECT_EQ(Sorted(all), Sorted(want));
}

TEST(FileSourceMonitoringTest, EachSeenFileIsInTheUnionOnce) {
  TempDir dir;
  for (int f = 0; f < 10; ++f) WriteFile(dir.path() / ("f" + std::to_string(f)), "x\n");
  std::vector<std::string> union_list;
  for (int index = 0; index < 3; ++index) {
    Subtask sub(dir.str(), index, 3);
    sub.Drain();
    CollectingSnapshot snap(1);
    sub.source.SnapshotState(snap);
    for (const std::string& p : snap.lists["seen-files"]) union_list.push_back(p);
  }
  EXPECT_EQ(union_list.size(), 10u);
  // Restored everywhere from that union, each subtask writes only the files it owns.
  std::map<std::string, std::vector<std::string>> restored = {{"seen-files", union_list}};
  std::vector<std::string> again;
  for (int index = 0; index < 2; ++index) {
    Subtask sub(dir.str(), index, 2, &restored);
    sub.Drain();
    EXPECT_TRUE(sub.out.records.empty()) << "a seen file was read again";
    CollectingSnapshot snap(2);
    sub.source.SnapshotState(snap);
    for (const std::string& p : snap.lists["seen-files"]) again.push_back(p);
  }
  EXPECT_EQ(Sorted(again), Sorted(union_list));
}

}  // namespace
}  // namespace sluice
