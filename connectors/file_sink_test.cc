// The file sink's buckets, rolling policies and line formats, with its two-phase commit across
// buckets (the basics are in connectors_test.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connector_test_util.h"
#include "sluice/connectors/encoders.h"
#include "sluice/connectors/sinks.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice {
namespace {

using namespace connectors_test;
using testing::FakeRuntimeContext;

//! Visible files under `root`, by path relative to it, with their content.
std::map<std::string, std::string> Visible(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().filename().string()[0] == '.') continue;
    files[fs::relative(e.path(), root).string()] = ReadFile(e.path());
  }
  return files;
}

int Hidden(const fs::path& root) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    n += e.is_regular_file() && e.path().filename().string()[0] == '.';
  }
  return n;
}

//! The lines of every visible file under `root` whose path starts with `bucket`, sorted.
std::vector<std::string> LinesIn(const fs::path& root, const std::string& bucket) {
  std::vector<std::string> lines;
  for (const auto& [path, content] : Visible(root)) {
    if (path.rfind(bucket + "/", 0) != 0) continue;
    size_t start = 0;
    for (size_t nl; (nl = content.find('\n', start)) != std::string::npos; start = nl + 1) {
      lines.push_back(content.substr(start, nl - start));
    }
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

FileSinkOptions<int> ByParity() {
  FileSinkOptions<int> o;
  o.bucket_assigner = [](const int& v) { return v % 2 == 0 ? "p=even" : "p=odd"; };
  return o;
}

TEST(FileSinkBucketsTest, EachBucketGetsItsPartsCommittedOnCheckpointCompletion) {
  TempDir dir;
  FileSinkOptions<int> options = ByParity();
  options.max_part_size = 10;  // "10\n11\n12\n13\n" rolls after four records
  FakeRuntimeContext ctx(1, 2, "feedfacecafebeef", 0, /*checkpointing=*/true);
  CapturingOutput<int> unused;
  auto sink = MakeFileSink<int>(dir.str(), options)();
  sink->Open(ctx, unused);
  for (int v = 10; v < 30; ++v) sink->ProcessRecord(&v);
  EXPECT_TRUE(Visible(dir.path()).empty()) << "nothing is visible before a checkpoint completes";
  CollectingSnapshot one(1);
  sink->SnapshotState(one);
  EXPECT_TRUE(Visible(dir.path()).empty());
  sink->NotifyCheckpointComplete(1);
  std::map<std::string, std::string> files = Visible(dir.path());
  EXPECT_EQ(one.lists["pending-part-files"].size(), files.size());
  EXPECT_EQ(files.size(), 6u);  // 10 records per bucket at 4 per part: 3 parts each
  EXPECT_EQ(files.at("p=even/part-feedface-1-0-0"), "10\n12\n14\n16\n");
  for (const auto& [path, content] : files) {
    EXPECT_TRUE(path.rfind("p=even/", 0) == 0 || path.rfind("p=odd/", 0) == 0) << path;
  }
  EXPECT_EQ(LinesIn(dir.path(), "p=odd"),
            (std::vector<std::string>{"11", "13", "15", "17", "19", "21", "23", "25", "27", "29"}));
  EXPECT_EQ(LinesIn(dir.path(), "p=even").size(), 10u);
  EXPECT_EQ(Hidden(dir.path()), 0);
  sink->Close();
}

TEST(FileSinkBucketsTest, RecoveryRecommitsPendingPartsAndRemovesStaleOnesInEveryBucket) {
  TempDir dir;
  CapturingOutput<int> unused;
  std::map<std::string, std::vector<std::string>> state_of_1;
  {
    FakeRuntimeContext ctx(0, 1, "feedfacecafebeef", 0, true);
    auto sink = MakeFileSink<int>(dir.str(), ByParity())();
    sink->Open(ctx, unused);
    for (int v : {1, 2, 3}) sink->ProcessRecord(&v);
    CollectingSnapshot one(1);
    sink->SnapshotState(one);
    state_of_1 = one.lists;
    for (int v : {4, 5}) sink->ProcessRecord(&v);  // after checkpoint 1: replayed
    // A roll after the checkpoint leaves a pending file no snapshot knows of.
    CollectingSnapshot two(2);
    sink->SnapshotState(two);
    // The task dies without Close (nothing is in progress: both parts are pending).
    sink.reset();
  }
  EXPECT_TRUE(Visible(dir.path()).empty());
  EXPECT_EQ(Hidden(dir.path()), 4);  // checkpoint 1's two pending parts and 2's
  FakeRuntimeContext ctx(0, 1, "feedfacecafebeef", 1, true);
  auto sink = MakeFileSink<int>(dir.str(), ByParity())();
  RestoringInit init(state_of_1);
  sink->InitializeState(init);
  sink->Open(ctx, unused);
  EXPECT_EQ(Hidden(dir.path()), 0) << "attempt 0's uncommitted parts are removed";
  EXPECT_EQ(LinesIn(dir.path(), "p=odd"), (std::vector<std::string>{"1", "3"}));
  EXPECT_EQ(LinesIn(dir.path(), "p=even"), (std::vector<std::string>{"2"}));
  for (int v : {4, 5}) sink->ProcessRecord(&v);
  sink->EndInput();
  CollectingSnapshot last(3);
  sink->SnapshotState(last);
  sink->NotifyCheckpointComplete(3);
  sink->Close();
  EXPECT_EQ(LinesIn(dir.path(), "p=odd"), (std::vector<std::string>{"1", "3", "5"}));
  EXPECT_EQ(LinesIn(dir.path(), "p=even"), (std::vector<std::string>{"2", "4"}));
  EXPECT_EQ(Visible(dir.path()).at("p=odd/part-feedface-0-1-1"), "5\n");
}

TEST(FileSinkRollingTest, PartsRollByAgeAndInactivityOnTheProcessingTimeClock) {
  TempDir dir;
  FileSinkOptions<int> options = ByParity();
  options.rollover_interval = std::chrono::seconds(10);
  options.inactivity_interval = std::chrono::seconds(4);
  options.check_interval = std::chrono::seconds(1);
  FakeRuntimeContext ctx(0, 1, "abcdefgh");  // without checkpointing: a roll publishes
  ctx.now = 1000;
  CapturingOutput<int> unused;
  auto sink = MakeFileSink<int>(dir.str(), options)();
  sink->Open(ctx, unused);
  int odd = 1, even = 2;
  sink->ProcessRecord(&odd);
  sink->ProcessRecord(&even);
  for (int64_t t = 2000; t <= 8000; t += 1000) {  // odd keeps being written, even goes idle
    ctx.AdvanceTo(t);
    sink->ProcessRecord(&odd);
  }
  std::map<std::string, std::string> files = Visible(dir.path());
  ASSERT_EQ(files.size(), 1u) << "only the idle bucket rolled";
  EXPECT_EQ(files.begin()->first.substr(0, 7), "p=even/");
  EXPECT_EQ(files.begin()->second, "2\n");
  for (int64_t t = 9000; t <= 11000; t += 1000) {
    ctx.AdvanceTo(t);
  }
  files = Visible(dir.path());
  ASSERT_EQ(files.size(), 2u) << "the busy part rolled once 10 s old";
  EXPECT_EQ(LinesIn(dir.path(), "p=odd").size(), 8u);
  sink->EndInput();
  sink->Close();
  EXPECT_EQ(Hidden(dir.path()), 0);
}

TEST(FileSinkRollingTest, SizeRollsWithoutCheckpointingAndEveryPartIsPublishedAtTheEnd) {
  TempDir dir;
  FileSinkOptions<int> options;
  options.max_part_size = 6;
  FakeRuntimeContext ctx(3, 4, "abcdefgh");
  CapturingOutput<int> unused;
  auto sink = MakeFileSink<int>(dir.str(), options)();
  sink->Open(ctx, unused);
  for (int v = 100; v < 105; ++v) sink->ProcessRecord(&v);
  sink->EndInput();
  sink->Close();
  EXPECT_EQ(Visible(dir.path()),
            (std::map<std::string, std::string>{{"part-abcdefgh-3", "100\n101\n"},
                                                {"part-abcdefgh-3-1", "102\n103\n"},
                                                {"part-abcdefgh-3-2", "104\n"}}));
}

TEST(FileSinkRollingTest, OpeningMoreBucketsThanAllowedRollsTheLeastRecentlyWritten) {
  TempDir dir;
  FileSinkOptions<int> options;
  options.bucket_assigner = [](const int& v) { return "b" + std::to_string(v % 3); };
  options.max_open_parts = 2;
  FakeRuntimeContext ctx(0, 1, "abcdefgh");
  CapturingOutput<int> unused;
  auto sink = MakeFileSink<int>(dir.str(), options)();
  sink->Open(ctx, unused);
  for (int v : {0, 1, 3, 2}) sink->ProcessRecord(&v);  // b0, b1, b0 again, then b2 rolls b1
  std::map<std::string, std::string> files = Visible(dir.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files.begin()->first.substr(0, 3), "b1/");
  sink->EndInput();
  sink->Close();
  EXPECT_EQ(Visible(dir.path()).size(), 3u);
}

TEST(FileSinkBucketsTest, DateTimeBucketsFormatTheRecordsUtcTime) {
  auto hourly = DateTimeBuckets<int64_t>([](const int64_t& t) { return t; }, "dt=%Y-%m-%d/hour=%H");
  EXPECT_EQ(hourly(1765000800000), "dt=2025-12-06/hour=06");  // 2025-12-06T06:00:00Z
  EXPECT_EQ(hourly(1765000799999), "dt=2025-12-06/hour=05");
  EXPECT_EQ(hourly(-1), "dt=1969-12-31/hour=23");
  auto flink_default = DateTimeBuckets<int64_t>([](const int64_t& t) { return t; });
  EXPECT_EQ(flink_default(1765000800000), "2025-12-06--06");
}

TEST(FileSinkBucketsTest, ABucketOutsideTheSinksDirectoryFailsTheRecord) {
  TempDir dir;
  FileSinkOptions<int> options;
  options.bucket_assigner = [](const int&) { return "../escape"; };
  FakeRuntimeContext ctx(0, 1, "abcdefgh");
  CapturingOutput<int> unused;
  auto sink = MakeFileSink<int>((dir.path() / "out").string(), options)();
  sink->Open(ctx, unused);
  int v = 1;
  try {
    sink->ProcessRecord(&v);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("bucket '../escape' must be a relative directory"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.path() / "escape"));
}

struct Reading {
  std::string sensor;
  int64_t time = 0;
  double value = 0;
  bool ok = false;
  std::optional<int> code;
  SLUICE_FIELDS(sensor, time, value, ok, code)
};

TEST(FileSinkFormatsTest, CsvAndJsonLinesOfAStruct) {
  std::string csv, json;
  Reading a{"s,1 \"north\"", 1733443200000, 0.1, true, std::nullopt};
  CsvEncoder<Reading>()(a, csv);
  JsonLinesEncoder<Reading>()(a, json);
  EXPECT_EQ(csv, "\"s,1 \"\"north\"\"\",1733443200000,0.1,true,");
  EXPECT_EQ(json,
            "{\"sensor\":\"s,1 \\\"north\\\"\",\"time\":1733443200000,\"value\":0.1,\"ok\":true,"
            "\"code\":null}");
  csv.clear();
  json.clear();
  Reading b{"plain\nline", -5, 2.5, false, 7};
  CsvEncoder<Reading>()(b, csv);
  JsonLinesEncoder<Reading>()(b, json);
  EXPECT_EQ(csv, "\"plain\nline\",-5,2.5,false,7");
  EXPECT_EQ(json,
            "{\"sensor\":\"plain\\nline\",\"time\":-5,\"value\":2.5,\"ok\":false,\"code\":7}");
}

TEST(FileSinkFormatsTest, TheSinkWritesTheEncodersLines) {
  TempDir dir;
  FileSinkOptions<Reading> options;
  options.encoder = JsonLinesEncoder<Reading>();
  options.bucket_assigner = [](const Reading& r) { return "sensor=" + r.sensor; };
  FakeRuntimeContext ctx(0, 1, "abcdefgh");
  CapturingOutput<Reading> unused;
  auto sink = MakeFileSink<Reading>(dir.str(), options)();
  sink->Open(ctx, unused);
  Reading r{"a", 1, 1.5, true, 3};
  sink->ProcessRecord(&r);
  sink->EndInput();
  sink->Close();
  EXPECT_EQ(Visible(dir.path()),
            (std::map<std::string, std::string>{
                {"sensor=a/part-abcdefgh-0",
                 "{\"sensor\":\"a\",\"time\":1,\"value\":1.5,\"ok\":true,\"code\":3}\n"}}));
}

}  // namespace
}  // namespace sluice
