#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "connector_test_util.h"
#include "sluice/connectors/file_source.h"
#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

using testing::FakeRuntimeContext;
using namespace connectors_test;

//! Polls a source until end of input (bounded, so a source that never ends fails instead of hangs).
void PollToEnd(StreamOperator& source) {
  for (int polls = 0; polls < 1000000; ++polls) {
    int64_t wait = 0;
    SourceStatus s = source.PollNext(&wait);
    if (s == SourceStatus::kEndOfInput) return;
    ASSERT_EQ(s, SourceStatus::kMoreAvailable);
  }
  FAIL() << "source did not reach end of input";
}

//! Runs every subtask of a source node and returns each subtask's records.
template <typename T>
std::vector<std::vector<T>> RunSourceSubtasks(const NodeSpec& node, int parallelism) {
  std::vector<std::vector<T>> per_subtask;
  for (int s = 0; s < parallelism; ++s) {
    FakeRuntimeContext ctx(s, parallelism);
    CapturingOutput<T> out;
    std::unique_ptr<StreamOperator> op = node.factory();
    op->Open(ctx, out);
    PollToEnd(*op);
    op->Close();
    per_subtask.push_back(std::move(out.records));
  }
  return per_subtask;
}

// ---- GeneratorSource ----

using Generated = std::pair<uint64_t, std::string>;

Generated MakeRecord(uint64_t i) { return Generated(i, "rec-" + std::to_string(i)); }

TEST(GeneratorSourceTest, SubtasksTogetherEmitEveryIdOnceWithSplitsDealtRoundRobin) {
  StreamEnvironment env({}, 3);
  GeneratorOptions options;
  options.count = 1000;
  options.splits = 8;
  AddGenerator(env, options, [](uint64_t i) { return MakeRecord(i); });
  env.Finalize();
  ASSERT_EQ(env.nodes().size(), 1u);
  EXPECT_TRUE(env.nodes()[0].is_source);
  EXPECT_EQ(env.nodes()[0].name, "Generator");

  auto per_subtask = RunSourceSubtasks<Generated>(env.nodes()[0], 3);
  std::vector<int> seen(1000, 0);
  for (int s = 0; s < 3; ++s) {
    std::map<uint64_t, uint64_t> last_of_split;
    for (const Generated& r : per_subtask[s]) {
      uint64_t id = r.first;
      ASSERT_LT(id, 1000u);
      EXPECT_EQ(r.second, "rec-" + std::to_string(id));
      uint64_t split = id % 8;
      EXPECT_EQ(static_cast<int>(split % 3), s) << "id " << id << " came from subtask " << s;
      // Within a split, ids go up by the number of splits.
      auto it = last_of_split.find(split);
      if (it != last_of_split.end()) {
        EXPECT_EQ(id, it->second + 8);
      }
      last_of_split[split] = id;
      ++seen[id];
    }
  }
  for (uint64_t id = 0; id < 1000; ++id) EXPECT_EQ(seen[id], 1) << "id " << id;
  // Subtasks 0 and 1 own three splits of 125 ids each; subtask 2 owns two.
  EXPECT_EQ(per_subtask[0].size(), 375u);
  EXPECT_EQ(per_subtask[1].size(), 375u);
  EXPECT_EQ(per_subtask[2].size(), 250u);
}

TEST(GeneratorSourceTest, CountNotAMultipleOfSplits) {
  StreamEnvironment env({}, 2);
  GeneratorOptions options;
  options.count = 10;
  options.splits = 3;
  AddGenerator(env, options, [](uint64_t i) { return i; });
  auto per_subtask = RunSourceSubtasks<uint64_t>(env.nodes()[0], 2);
  // Subtask 0 owns splits 0 and 2 (0,3,6,9 and 2,5,8), subtask 1 owns split 1 (1,4,7).
  std::vector<uint64_t> zero = per_subtask[0];
  std::sort(zero.begin(), zero.end());
  EXPECT_EQ(zero, (std::vector<uint64_t>{0, 2, 3, 5, 6, 8, 9}));
  EXPECT_EQ(per_subtask[1], (std::vector<uint64_t>{1, 4, 7}));
}

TEST(GeneratorSourceTest, SubtasksWithoutSplitsEndImmediately) {
  StreamEnvironment env({}, 1);
  GeneratorOptions options;
  options.count = 100;
  options.splits = 2;
  AddGenerator(env, options, [](uint64_t i) { return i; });
  auto per_subtask = RunSourceSubtasks<uint64_t>(env.nodes()[0], 4);
  EXPECT_EQ(per_subtask[0].size(), 50u);
  EXPECT_EQ(per_subtask[1].size(), 50u);
  EXPECT_TRUE(per_subtask[2].empty());
  EXPECT_TRUE(per_subtask[3].empty());
}

TEST(GeneratorSourceTest, UnboundedKeepsProducing) {
  StreamEnvironment env({}, 1);
  GeneratorOptions options;  // count 0: unbounded
  options.splits = 1;
  AddGenerator(env, options, [](uint64_t i) { return i; });
  FakeRuntimeContext ctx(0, 1);
  CapturingOutput<uint64_t> out;
  auto op = env.nodes()[0].factory();
  op->Open(ctx, out);
  int64_t wait = 0;
  for (int i = 0; i < 20; ++i) ASSERT_EQ(op->PollNext(&wait), SourceStatus::kMoreAvailable);
  ASSERT_GT(out.records.size(), 1000u);
  for (size_t i = 0; i < out.records.size(); ++i) ASSERT_EQ(out.records[i], i);
}

TEST(GeneratorSourceTest, RateLimitAsksToWait) {
  StreamEnvironment env({}, 1);
  GeneratorOptions options;
  options.count = 1000;
  options.rate = 0.001;  // one record per 1000 s: the second poll is always too early
  AddGenerator(env, options, [](uint64_t i) { return i; });
  FakeRuntimeContext ctx(0, 1);
  CapturingOutput<uint64_t> out;
  auto op = env.nodes()[0].factory();
  op->Open(ctx, out);
  int64_t wait = 0;
  EXPECT_EQ(op->PollNext(&wait), SourceStatus::kMoreAvailable);
  EXPECT_EQ(out.records.size(), 1u);
  wait = 0;
  EXPECT_EQ(op->PollNext(&wait), SourceStatus::kNothingAvailable);
  EXPECT_GT(wait, 0);
  EXPECT_EQ(out.records.size(), 1u);
}

TEST(GeneratorSourceTest, ZeroSplitsIsAJobDefinitionError) {
  StreamEnvironment env({}, 1);
  GeneratorOptions options;
  options.splits = 0;
  EXPECT_THROW(AddGenerator(env, options, [](uint64_t i) { return i; }), JobDefinitionError);
}

// ---- PlanFileSplits / TextFileSource ----

class TextFileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Add("a.txt", "alpha\n\nbeta\ngamma");  // an empty line, no trailing newline
    Add("b.txt", "b-0\r\nb-1\r\nb-2\r\n");
    Add("empty.txt", "");
    // >200 KB of lines of random length, so split boundaries fall inside lines.
    std::mt19937 rng(42);
    std::string big;
    for (int i = 0; big.size() < 300 * 1024; ++i) {
      big += "big-" + std::to_string(i) + "-" + std::string(rng() % 200, 'x') + "\n";
    }
    big += "big-last-without-newline";
    Add("big.txt", big);
    // 10000 lines of exactly 16 bytes: with parallelism 2 the split boundary (80000) is a line
    // start.
    std::string aligned;
    for (int i = 0; i < 10000; ++i) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "aligned-%07d\n", i);
      aligned += buf;
    }
    ASSERT_EQ(aligned.size(), 160000u);
    Add("aligned.txt", aligned);
    // Hidden and underscore files and subdirectories are not read.
    WriteFile(dir_.path() / ".hidden", "hidden-line\n");
    WriteFile(dir_.path() / "_SUCCESS", "success-line\n");
    fs::create_directories(dir_.path() / "sub");
    WriteFile(dir_.path() / "sub" / "nested.txt", "nested-line\n");
  }

  void Add(const std::string& name, const std::string& content) {
    WriteFile(dir_.path() / name, content);
    for (auto& line : ExpectedLines(content)) expected_.push_back(line);
  }

  std::vector<std::string> ReadAll(const std::string& path, int parallelism) {
    StreamEnvironment env({}, parallelism);
    AddTextFileSource(env, path);
    auto per_subtask = RunSourceSubtasks<std::string>(env.nodes()[0], parallelism);
    std::vector<std::string> all;
    for (auto& lines : per_subtask) all.insert(all.end(), lines.begin(), lines.end());
    std::sort(all.begin(), all.end());
    return all;
  }

  std::vector<std::string> SortedExpected() const {
    std::vector<std::string> e = expected_;
    std::sort(e.begin(), e.end());
    return e;
  }

  TempDir dir_;
  std::vector<std::string> expected_;
};

TEST_F(TextFileSourceTest, PlanSkipsHiddenAndEmptyFilesAndCoversEachFile) {
  for (int p : {1, 2, 3}) {
    std::vector<FileSplit> splits = PlanFileSplits(dir_.str(), p);
    std::map<std::string, std::vector<FileSplit>> by_file;
    for (const auto& s : splits) by_file[fs::path(s.path).filename().string()].push_back(s);
    std::vector<std::string> names;
    for (const auto& [name, file_splits] : by_file) names.push_back(name);
    EXPECT_EQ(names, (std::vector<std::string>{"a.txt", "aligned.txt", "b.txt", "big.txt"}))
        << "parallelism " << p;
    for (const auto& [name, file_splits] : by_file) {
      uint64_t next = 0;
      for (const auto& s : file_splits) {
        EXPECT_EQ(s.start, next) << name;
        EXPECT_GT(s.end, s.start) << name;
        next = s.end;
      }
      EXPECT_EQ(next, fs::file_size(dir_.path() / name)) << name;
    }
    size_t big_splits = by_file["big.txt"].size();
    if (p == 1) {
      EXPECT_EQ(big_splits, 1u);
    } else {
      EXPECT_EQ(big_splits, static_cast<size_t>(p));
    }
    EXPECT_EQ(by_file["a.txt"].size(), 1u);  // small files are not cut below 64 KB
  }
  // Files in sorted order: every subtask computes the same plan.
  std::vector<FileSplit> splits = PlanFileSplits(dir_.str(), 2);
  EXPECT_TRUE(std::is_sorted(splits.begin(), splits.end(), [](const auto& a, const auto& b) {
    return a.path < b.path || (a.path == b.path && a.start < b.start);
  }));
}

TEST_F(TextFileSourceTest, AlignedSplitBoundaryFallsOnALineStart) {
  std::vector<FileSplit> splits = PlanFileSplits((dir_.path() / "aligned.txt").string(), 2);
  ASSERT_EQ(splits.size(), 2u);
  EXPECT_EQ(splits[1].start, 80000u);
  EXPECT_EQ(splits[1].start % 16, 0u);
}

TEST_F(TextFileSourceTest, EveryLineExactlyOnceForParallelism1To3) {
  std::vector<std::string> expected = SortedExpected();
  ASSERT_GT(expected.size(), 10000u);
  for (int p : {1, 2, 3}) {
    std::vector<std::string> got = ReadAll(dir_.str(), p);
    ASSERT_EQ(got.size(), expected.size()) << "parallelism " << p;
    EXPECT_TRUE(got == expected) << "parallelism " << p;
  }
}

TEST_F(TextFileSourceTest, ReadsSpecificLines) {
  std::vector<std::string> got = ReadAll(dir_.str(), 2);
  auto count = [&](const std::string& line) { return std::count(got.begin(), got.end(), line); };
  EXPECT_EQ(count("gamma"), 1);  // last line without newline
  EXPECT_EQ(count("b-1"), 1);    // '\r' stripped
  EXPECT_EQ(count(""), 1);       // the empty line of a.txt
  EXPECT_EQ(count("big-last-without-newline"), 1);
  EXPECT_EQ(count("aligned-0005000"), 1);  // first line of the second split
  EXPECT_EQ(count("aligned-0004999"), 1);
  EXPECT_EQ(count("hidden-line"), 0);
  EXPECT_EQ(count("success-line"), 0);
  EXPECT_EQ(count("nested-line"), 0);
}

TEST_F(TextFileSourceTest, SingleFilePathIsReadInSplits) {
  fs::path big = dir_.path() / "big.txt";
  std::vector<std::string> expected = ExpectedLines(ReadFile(big));
  std::sort(expected.begin(), expected.end());
  for (int p : {1, 2, 3, 5}) {
    EXPECT_TRUE(ReadAll(big.string(), p) == expected) << "parallelism " << p;
  }
}

TEST_F(TextFileSourceTest, HiddenFileNamedDirectlyIsRead) {
  EXPECT_EQ(ReadAll((dir_.path() / ".hidden").string(), 1),
            (std::vector<std::string>{"hidden-line"}));
}

//! Event time seen by a source: each record with the timestamp it was emitted with, and the
//! watermarks, in order.
//! A subtask's host that also captures what the operator emits, with each record's timestamp.
class EventTimeCapture final : public FakeRuntimeContext, public Output {
 public:
  void Emit(const void* record) override {
    records.emplace_back(*static_cast<const std::string*>(record), timestamp);
  }
  void EmitWatermark(int64_t w) override { watermarks.push_back(w); }
  std::vector<std::pair<std::string, int64_t>> records;
  std::vector<int64_t> watermarks;
};
//! Emits the largest timestamp seen minus one after every line.
class EveryLine final : public WatermarkGenerator<std::string> {
 public:
  void OnEvent(const std::string&, int64_t ts, WatermarkOutput& out) override {
    max_ = std::max(max_, ts);
    out.EmitWatermark(max_ - 1);
  }
  void OnPeriodicEmit(WatermarkOutput&) override {}

 private:
  int64_t max_ = INT64_MIN + 1;
};

// With a strategy, the file source assigns each line its time and makes watermarks per split; a
// finished split's watermark is dropped, and the source's watermark never goes backwards when the
// next file starts earlier.
TEST(TextFileSourceEventTime, LinesGetTheirTimeAndSplitsTheirWatermarks) {
  TempDir dir;
  WriteFile(dir.path() / "a.txt", "100,x\n200,y\n300,z\n");
  WriteFile(dir.path() / "b.txt", "50,p\n400,q\n");
  StreamEnvironment env({}, 1);
  AddTextFileSource(env, dir.path().string(), WatermarkStrategy<std::string>::ForGenerator([] {
                                                return std::make_unique<EveryLine>();
                                              }).WithTimestampAssigner([](const std::string& line) {
    return static_cast<int64_t>(std::stoll(line.substr(0, line.find(','))));
  }));
  EventTimeCapture capture;
  std::unique_ptr<StreamOperator> op = env.nodes()[0].factory();
  op->Open(capture, capture);
  PollToEnd(*op);
  op->Close();
  EXPECT_EQ(capture.records,
            (std::vector<std::pair<std::string, int64_t>>{
                {"100,x", 100}, {"200,y", 200}, {"300,z", 300}, {"50,p", 50}, {"400,q", 400}}));
  EXPECT_EQ(capture.watermarks, (std::vector<int64_t>{99, 199, 299, 399}));
}

// With watermark alignment, the file source stops reading once its split's watermark passes what
// the group allows, and goes on when the allowance moves.
TEST(TextFileSourceEventTime, AlignmentPausesTheSplitThatRunsAhead) {
  TempDir dir;
  WriteFile(dir.path() / "a.txt", "100,x\n200,y\n300,z\n");
  StreamEnvironment env({}, 1);
  AddTextFileSource(
      env, dir.path().string(),
      WatermarkStrategy<std::string>::ForGenerator([] { return std::make_unique<EveryLine>(); })
          .WithTimestampAssigner([](const std::string& line) {
            return static_cast<int64_t>(std::stoll(line.substr(0, line.find(','))));
          })
          .WithWatermarkAlignment("files", std::chrono::milliseconds(10)));
  EventTimeCapture capture;
  capture.max_allowed = 150;
  std::unique_ptr<StreamOperator> op = env.nodes()[0].factory();
  op->Open(capture, capture);
  int64_t wait = 0;
  EXPECT_EQ(op->PollNext(&wait), SourceStatus::kMoreAvailable);  // 100 and 200, then paused
  EXPECT_EQ(capture.records.size(), 2u);
  EXPECT_EQ(op->PollNext(&wait), SourceStatus::kNothingAvailable);
  EXPECT_GT(wait, 0);
  EXPECT_EQ(capture.records.size(), 2u);
  capture.max_allowed = kMaxWatermark;
  PollToEnd(*op);
  op->Close();
  EXPECT_EQ(capture.records.size(), 3u);
}

TEST(TextFileSourcePlanTest, MissingPathThrows) {
  TempDir dir;
  EXPECT_THROW(PlanFileSplits((dir.path() / "nope").string(), 1), std::runtime_error);
}

TEST(TextFileSourcePlanTest, EmptyDirectoryHasNoSplitsAndEndsImmediately) {
  TempDir dir;
  EXPECT_TRUE(PlanFileSplits(dir.str(), 2).empty());
  StreamEnvironment env({}, 2);
  AddTextFileSource(env, dir.str());
  auto per_subtask = RunSourceSubtasks<std::string>(env.nodes()[0], 2);
  EXPECT_TRUE(per_subtask[0].empty());
  EXPECT_TRUE(per_subtask[1].empty());
}

// ---- FileSink ----

struct Row {
  int a = 0;
  std::string b;
  SLUICE_FIELDS(a, b)
};

TEST(FileSinkTest, WritesHiddenFileAndPublishesItAtEndOfInput) {
  TempDir dir;
  std::string out_dir = (dir.path() / "out").string();  // created by the sink
  FakeRuntimeContext ctx(2, 3, "0123456789abcdef");
  CapturingOutput<Row> unused;
  auto sink = MakeFileSink<Row>(out_dir)();
  sink->Open(ctx, unused);
  fs::path hidden = fs::path(out_dir) / ".part-01234567-2.inprogress";
  fs::path visible = fs::path(out_dir) / "part-01234567-2";
  EXPECT_TRUE(fs::exists(hidden));
  EXPECT_FALSE(fs::exists(visible));

  Row r1{1, "x"};
  sink->ProcessRecord(&r1);
  ByteWriter w;
  SerializeRecord(Row{2, "y z"}, w);
  sink->ProcessSerialized(w.data(), w.size());
  EXPECT_TRUE(fs::exists(hidden));
  EXPECT_FALSE(fs::exists(visible));

  sink->EndInput();
  EXPECT_FALSE(fs::exists(hidden));
  ASSERT_TRUE(fs::exists(visible));
  EXPECT_EQ(ReadFile(visible), "{a=1, b=x}\n{a=2, b=y z}\n");
  sink->Close();
  sink.reset();
  EXPECT_TRUE(fs::exists(visible));  // closing after end of input keeps the output
  EXPECT_TRUE(unused.records.empty());
}

TEST(FileSinkTest, CloseWithoutEndInputRemovesHiddenFile) {
  TempDir dir;
  FakeRuntimeContext ctx(0, 1, "feedfacecafebeef");
  CapturingOutput<int> unused;
  auto sink = MakeFileSink<int>(dir.str())();
  sink->Open(ctx, unused);
  int v = 7;
  sink->ProcessRecord(&v);
  fs::path hidden = dir.path() / ".part-feedface-0.inprogress";
  EXPECT_TRUE(fs::exists(hidden));
  sink->Close();
  EXPECT_FALSE(fs::exists(hidden));
  EXPECT_FALSE(fs::exists(dir.path() / "part-feedface-0"));
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(FileSinkTest, DestroyingAnOpenSinkRemovesHiddenFile) {
  TempDir dir;
  FakeRuntimeContext ctx(1, 2);
  CapturingOutput<int> unused;
  {
    auto sink = MakeFileSink<int>(dir.str())();
    sink->Open(ctx, unused);
    EXPECT_TRUE(fs::exists(dir.path() / ".part-01234567-1.inprogress"));
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(FileSinkTest, EachSubtaskWritesItsOwnPartFile) {
  TempDir dir;
  StreamEnvironment env({}, 2);
  AddGenerator(env, GeneratorOptions{10, 2, 0}, [](uint64_t i) {
    return i;
  }).SinkTo(MakeFileSink<uint64_t>(dir.str()), "files");
  env.Finalize();
  const NodeSpec& sink_node = env.nodes()[1];
  EXPECT_EQ(sink_node.serialize_output, nullptr);
  for (int s = 0; s < 2; ++s) {
    FakeRuntimeContext ctx(s, 2, "abcdefgh-ijkl");
    CapturingOutput<uint64_t> unused;
    auto op = sink_node.factory();
    op->Open(ctx, unused);
    for (uint64_t i = static_cast<uint64_t>(s); i < 10; i += 2) op->ProcessRecord(&i);
    op->EndInput();
    op->Close();
  }
  EXPECT_EQ(ReadFile(dir.path() / "part-abcdefgh-0"), "0\n2\n4\n6\n8\n");
  EXPECT_EQ(ReadFile(dir.path() / "part-abcdefgh-1"), "1\n3\n5\n7\n9\n");
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 2);
}

// ---- state of sources and of the exactly-once file sink ----

TEST(SourceStateTest, GeneratorRestoredFromASnapshotEmitsTheRestOnce) {
  StreamEnvironment env({}, 2);
  AddGenerator(env, GeneratorOptions{5000, 4, 0}, [](uint64_t i) { return i; });
  const NodeSpec& node = env.nodes()[0];
  std::vector<uint64_t> all;
  for (int s = 0; s < 2; ++s) {
    FakeRuntimeContext ctx(s, 2);
    CapturingOutput<uint64_t> before;
    auto first = node.factory();
    first->Open(ctx, before);
    int64_t wait = 0;
    for (int i = 0; i < 3; ++i) ASSERT_EQ(first->PollNext(&wait), SourceStatus::kMoreAvailable);
    CollectingSnapshot snap(1);
    first->SnapshotState(snap);
    ASSERT_EQ(snap.lists["splits"].size(), 2u);  // two of the four splits per subtask
    first->PollNext(&wait);  // emitted after the snapshot: lost with the task, replayed
    ASSERT_EQ(before.records.size(), 4u * 256);

    auto second = node.factory();
    RestoringInit init(snap.lists);
    second->InitializeState(init);
    CapturingOutput<uint64_t> after;
    second->Open(ctx, after);
    PollToEnd(*second);
    all.insert(all.end(), before.records.begin(), before.records.begin() + 3 * 256);
    all.insert(all.end(), after.records.begin(), after.records.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 5000u);
  for (uint64_t i = 0; i < 5000; ++i) EXPECT_EQ(all[i], i);
}

TEST(SourceStateTest, TextFileSourceRestoredFromASnapshotReadsTheRestOnce) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 3000; ++i) content += "line " + std::to_string(i) + "\n";
  WriteFile(dir.path() / "a.txt", content);
  StreamEnvironment env({}, 1);
  AddTextFileSource(env, dir.str());
  const NodeSpec& node = env.nodes()[0];
  FakeRuntimeContext ctx(0, 1);
  CapturingOutput<std::string> before;
  auto first = node.factory();
  first->Open(ctx, before);
  int64_t wait = 0;
  ASSERT_EQ(first->PollNext(&wait), SourceStatus::kMoreAvailable);  // 512 lines
  CollectingSnapshot snap(1);
  first->SnapshotState(snap);
  ASSERT_FALSE(snap.lists["splits"].empty());
  first->Close();

  auto second = node.factory();
  RestoringInit init(snap.lists);
  second->InitializeState(init);
  CapturingOutput<std::string> after;
  second->Open(ctx, after);
  PollToEnd(*second);
  second->Close();
  std::vector<std::string> lines = before.records;
  lines.insert(lines.end(), after.records.begin(), after.records.end());
  EXPECT_EQ(lines, ExpectedLines(content));
}

TEST(FileSinkTest, TwoPhaseCommitPublishesOnCompletionAndRecoversAfterAFailure) {
  TempDir dir;
  auto visible = [&] {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir.path())) {
      std::string n = e.path().filename().string();
      if (n[0] != '.') out.push_back(ReadFile(e.path()));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  auto hidden = [&] {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir.path())) {
      n += e.path().filename().string()[0] == '.';
    }
    return n;
  };
  CapturingOutput<int> unused;
  std::map<std::string, std::vector<std::string>> state_of_2;
  {
    FakeRuntimeContext ctx(0, 1, "feedfacecafebeef", /*attempt=*/0, /*checkpointing=*/true);
    auto sink = MakeFileSink<int>(dir.str())();
    sink->Open(ctx, unused);
    for (int v : {1, 2}) sink->ProcessRecord(&v);
    CollectingSnapshot one(1);
    sink->SnapshotState(one);  // pre-commit: hidden until the checkpoint completes
    EXPECT_TRUE(visible().empty());
    sink->NotifyCheckpointComplete(1);
    EXPECT_EQ(visible(), (std::vector<std::string>{"1\n2\n"}));
    int three = 3;
    sink->ProcessRecord(&three);
    CollectingSnapshot two(2);
    sink->SnapshotState(two);
    state_of_2 = two.lists;
    int four = 4;  // after checkpoint 2: will be replayed
    sink->ProcessRecord(&four);
    // The task dies here: checkpoint 2 completed at the JobManager but the notification was lost.
    EXPECT_EQ(hidden(), 2);  // 3 pending, 4 in progress
  }
  EXPECT_EQ(hidden(), 1);  // the in-progress file of a dying sink goes; the pending one stays
  FakeRuntimeContext ctx(0, 1, "feedfacecafebeef", /*attempt=*/1, /*checkpointing=*/true);
  auto sink = MakeFileSink<int>(dir.str())();
  RestoringInit init(state_of_2);
  sink->InitializeState(init);
  sink->Open(ctx, unused);  // subtask 0 re-commits checkpoint 2's pending file
  EXPECT_EQ(visible(), (std::vector<std::string>{"1\n2\n", "3\n"}));
  EXPECT_EQ(hidden(), 0);
  int four = 4;
  sink->ProcessRecord(&four);
  sink->EndInput();  // pre-commit; the final checkpoint commits
  CollectingSnapshot final_snapshot(3);
  sink->SnapshotState(final_snapshot);
  sink->NotifyCheckpointComplete(3);
  sink->Close();
  EXPECT_EQ(visible(), (std::vector<std::string>{"1\n2\n", "3\n", "4\n"}));
  EXPECT_EQ(hidden(), 0);
}

}  // namespace
}  // namespace sluice
