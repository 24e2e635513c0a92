// The Kafka source driven directly (FakeRuntimeContext) against librdkafka's mock cluster, run as
// a daemon of the test (tests/kafka_mock.h) — a TEST DOUBLE of a Kafka cluster, not a broker:
// every partition read, snapshots restored at the same and at another parallelism, topics by
// name and by pattern (found while running), the starting offsets, bounded mode, offsets
// committed on checkpoint completion, JSON lines and a message that does not deserialize, bad
// settings, a broker down and back, per-partition watermarks, idleness and alignment.
#include "sluice/connectors/kafka_source.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "connector_test_util.h"
#include "sluice/testing/fake_runtime_context.h"
#include "tests/kafka_mock.h"

namespace sluice {
namespace {

using namespace connectors_test;
using testing::FakeRuntimeContext;
using testing::KafkaMockCluster;
using StateLists = std::map<std::string, std::vector<std::string>>;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(30);

struct Click {
  int64_t user = 0;
  std::string page;
  std::optional<double> score;
  SLUICE_FIELDS(user, page, score)
};

//! One subtask of a source, opened (restored from `restored` when given) by the test.
template <typename T = std::string>
struct Subtask {
  Subtask(const KafkaSourceOptions<T>& options, int index, int parallelism,
          const StateLists* restored = nullptr,
          std::optional<WatermarkStrategy<T>> strategy = std::nullopt)
      : ctx(index, parallelism), source(options, std::move(strategy)) {
    if (restored) {
      RestoringInit init(*restored);
      source.InitializeState(init);
    }
    source.Open(ctx, out);
  }
  ~Subtask() { source.Close(); }
  //! One poll; sleeps as asked (at most 5 ms) when there is nothing.
  SourceStatus Poll() {
    int64_t wait = 0;
    const SourceStatus s = source.PollNext(&wait);
    if (s == SourceStatus::kNothingAvailable) {
      EXPECT_GT(wait, 0);
      std::this_thread::sleep_for(std::chrono::microseconds(std::min<int64_t>(wait, 5000)));
    }
    return s;
  }
  StateLists Snapshot(int64_t id) {
    CollectingSnapshot snap(id);
    source.SnapshotState(snap);
    return snap.lists;
  }
  FakeRuntimeContext ctx;
  CapturingOutput<T> out;
  KafkaSource<T> source;
};

//! Polls the subtasks in turn until they captured `n` records together (or the deadline passed),
//! then a little longer so that any record too many shows.
template <typename T>
void ReadUntil(const std::vector<Subtask<T>*>& subtasks, size_t n) {
  auto total = [&] {
    size_t sum = 0;
    for (auto* s : subtasks) sum += s->out.records.size();
    return sum;
  };
  const auto deadline = Clock::now() + kDeadline;
  while (total() < n && Clock::now() < deadline) {
    for (auto* s : subtasks) s->Poll();
  }
  for (int i = 0; i < 20; ++i) {
    for (auto* s : subtasks) s->Poll();
  }
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> Messages(int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back("m" + std::to_string(i));
  return Sorted(v);
}

StateLists Union(const std::vector<StateLists>& snapshots) {
  StateLists all;
  for (const StateLists& s : snapshots) {
    for (const auto& [name, items] : s)
      all[name].insert(all[name].end(), items.begin(), items.end());
  }
  return all;
}

class KafkaSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(cluster_.Start(3, &error)) << error;
  }

  KafkaSourceOptions<std::string> Options(const std::string& topic) {
    KafkaSourceOptions<std::string> o;
    o.bootstrap_servers = cluster_.bootstrap_servers();
    o.topics = {topic};
    return o;
  }

  //! Messages "m<from>" .. "m<to - 1>", message i to partition i % partitions.
  void Produce(const std::string& topic, int partitions, int from, int to) {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(cluster_.Produce(topic, i % partitions, "m" + std::to_string(i)));
    }
    ASSERT_TRUE(cluster_.Flush());
  }

  //! The group's committed offset of a partition as a separate client sees it (-1001: none).
  int64_t CommittedOffset(const std::string& group, const std::string& topic, int partition) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", cluster_.bootstrap_servers().c_str(), err,
                      sizeof err);
    rd_kafka_conf_set(conf, "group.id", group.c_str(), err, sizeof err);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition);
    int64_t offset = -1001;
    if (rd_kafka_committed(rk, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      offset = list->elems[0].offset;
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_destroy(rk);
    return offset;
  }

  KafkaMockCluster cluster_;
};

TEST_F(KafkaSourceTest, ReadsEveryPartition) {
  ASSERT_TRUE(cluster_.CreateTopic("all", 4));
  Produce("all", 4, 0, 100);
  Subtask sub(Options("all"), 0, 1);
  ReadUntil<std::string>({&sub}, 100);
  EXPECT_EQ(Sorted(sub.out.records), Messages(0, 100));
  EXPECT_EQ(sub.source.Offsets().size(), 4u);
  for (const auto& [tp, offset] : sub.source.Offsets()) EXPECT_EQ(offset, 25) << ToString(tp);
}

TEST_F(KafkaSourceTest, PartitionOwnersFollowTheEnumeratorsRule) {
  // ((hash * 31) & 0x7FFFFFFF) + partition) % parallelism: a topic's partitions go round the
  // subtasks from a start that depends on the topic.
  for (int parallelism : {1, 2, 3, 5}) {
    const int first = KafkaPartitionOwner({"orders", 0}, parallelism);
    for (int p = 0; p < 10; ++p) {
      EXPECT_EQ(KafkaPartitionOwner({"orders", p}, parallelism), (first + p) % parallelism);
    }
  }
}

TEST_F(KafkaSourceTest, ARestoreResumesRightAfterTheSnapshot) {
  ASSERT_TRUE(cluster_.CreateTopic("resume", 3));
  Produce("resume", 3, 0, 30);
  StateLists snapshot;
  {
    Subtask sub(Options("resume"), 0, 1);
    ReadUntil<std::string>({&sub}, 30);
    ASSERT_EQ(Sorted(sub.out.records), Messages(0, 30));
    snapshot = sub.Snapshot(1);
    Produce("resume", 3, 30, 45);
    ReadUntil<std::string>({&sub}, 45);  // read after the snapshot, then lost with the subtask
    ASSERT_EQ(sub.out.records.size(), 45u);
  }
  Produce("resume", 3, 45, 60);
  Subtask restored(Options("resume"), 0, 1, &snapshot);
  ReadUntil<std::string>({&restored}, 30);
  EXPECT_EQ(Sorted(restored.out.records), Messages(30, 60)) << "from the snapshot on, once each";
}

TEST_F(KafkaSourceTest, ARescaleFromTwoToThreeSubtasksReadsEveryMessageOnce) {
  ASSERT_TRUE(cluster_.CreateTopic("rescale", 7));
  Produce("rescale", 7, 0, 70);
  std::vector<StateLists> snapshots;
  {
    Subtask a(Options("rescale"), 0, 2);
    Subtask b(Options("rescale"), 1, 2);
    ReadUntil<std::string>({&a, &b}, 70);
    std::vector<std::string> both = a.out.records;
    both.insert(both.end(), b.out.records.begin(), b.out.records.end());
    ASSERT_EQ(Sorted(both), Messages(0, 70));
    EXPECT_EQ(a.source.Offsets().size() + b.source.Offsets().size(), 7u);
    snapshots = {a.Snapshot(1), b.Snapshot(1)};
  }
  Produce("rescale", 7, 70, 140);
  const StateLists all = Union(snapshots);  // a union list: every subtask gets every entry
  Subtask x(Options("rescale"), 0, 3, &all);
  Subtask y(Options("rescale"), 1, 3, &all);
  Subtask z(Options("rescale"), 2, 3, &all);
  ReadUntil<std::string>({&x, &y, &z}, 70);
  std::vector<std::string> got;
  for (auto* s : {&x, &y, &z}) {
    EXPECT_FALSE(s->source.Offsets().empty()) << "7 partitions reach every one of 3 subtasks";
    got.insert(got.end(), s->out.records.begin(), s->out.records.end());
  }
  EXPECT_EQ(x.source.Offsets().size() + y.source.Offsets().size() + z.source.Offsets().size(), 7u);
  EXPECT_EQ(Sorted(got), Messages(70, 140));
}

TEST_F(KafkaSourceTest, ATopicDroppedFromTheSettingsIsNotReadAfterARestore) {
  ASSERT_TRUE(cluster_.CreateTopic("kept", 2));
  ASSERT_TRUE(cluster_.CreateTopic("dropped", 2));
  Produce("kept", 2, 0, 10);
  Produce("dropped", 2, 100, 110);
  KafkaSourceOptions<std::string> o = Options("kept");
  o.topics.push_back("dropped");
  StateLists snapshot;
  {
    Subtask sub(o, 0, 1);
    ReadUntil<std::string>({&sub}, 20);
    ASSERT_EQ(sub.out.records.size(), 20u);
    snapshot = sub.Snapshot(1);
  }
  Produce("kept", 2, 10, 20);
  Produce("dropped", 2, 110, 120);
  Subtask restored(Options("kept"), 0, 1, &snapshot);
  ReadUntil<std::string>({&restored}, 10);
  EXPECT_EQ(Sorted(restored.out.records), Messages(10, 20));
  EXPECT_EQ(restored.source.Offsets().size(), 2u);
}

TEST_F(KafkaSourceTest, ATopicPatternTakesTopicsThatAppearLater) {
  ASSERT_TRUE(cluster_.CreateTopic("clicks-eu", 2));
  ASSERT_TRUE(cluster_.CreateTopic("views-eu", 2));
  Produce("clicks-eu", 2, 0, 10);
  Produce("views-eu", 2, 100, 110);  // not matched
  KafkaSourceOptions<std::string> o = Options("");
  o.topics.clear();
  o.topic_pattern = "clicks-.*";
  o.partition_discovery_interval = std::chrono::milliseconds(100);
  Subtask sub(o, 0, 1);
  ReadUntil<std::string>({&sub}, 10);
  EXPECT_EQ(Sorted(sub.out.records), Messages(0, 10));

  ASSERT_TRUE(cluster_.CreateTopic("clicks-us", 3));  // found by discovery, read from its start
  Produce("clicks-us", 3, 10, 25);
  ReadUntil<std::string>({&sub}, 25);
  EXPECT_EQ(Sorted(sub.out.records), Messages(0, 25));
  EXPECT_EQ(sub.source.Offsets().size(), 5u);
}

TEST_F(KafkaSourceTest, StartingAtTheLatestOffsetsReadsOnlyLaterMessages) {
  ASSERT_TRUE(cluster_.CreateTopic("latest", 2));
  Produce("latest", 2, 0, 10);
  KafkaSourceOptions<std::string> o = Options("latest");
  o.starting_offsets = OffsetsInitializer::Latest();
  Subtask sub(o, 0, 1);
  Produce("latest", 2, 10, 20);
  ReadUntil<std::string>({&sub}, 10);
  EXPECT_EQ(Sorted(sub.out.records), Messages(10, 20));
}

TEST_F(KafkaSourceTest, StartingAtExplicitOffsetsAndTheResetStrategyForTheOthers) {
  ASSERT_TRUE(cluster_.CreateTopic("explicit", 2));
  Produce("explicit", 2, 0, 20);  // even to partition 0, odd to 1
  KafkaSourceOptions<std::string> o = Options("explicit");
  o.starting_offsets = OffsetsInitializer::Offsets({{{"explicit", 0}, 7}});  // m14, m16, m18
  Subtask sub(o, 0, 1);
  ReadUntil<std::string>({&sub}, 13);
  EXPECT_EQ(Sorted(sub.out.records), Sorted({"m14", "m16", "m18", "m1", "m3", "m5", "m7", "m9",
                                             "m11", "m13", "m15", "m17", "m19"}));
}

// librdkafka 2.0.2's mock cluster answers a look-up by timestamp (ListOffsets) with "no such
// offset" whatever the timestamp, so only that case is tested: a timestamp after every message
// starts at the end. A real broker finds the first offset at or after the timestamp.
TEST_F(KafkaSourceTest, StartingAtATimestampAfterEveryMessageReadsOnlyLaterOnes) {
  ASSERT_TRUE(cluster_.CreateTopic("time", 2));
  Produce("time", 2, 0, 10);
  KafkaSourceOptions<std::string> o = Options("time");
  const int64_t later = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count() +
                        3600 * 1000;
  o.starting_offsets = OffsetsInitializer::Timestamp(later);
  Subtask sub(o, 0, 1);
  Produce("time", 2, 10, 20);
  ReadUntil<std::string>({&sub}, 10);
  EXPECT_EQ(Sorted(sub.out.records), Messages(10, 20));
}

TEST_F(KafkaSourceTest, OffsetsAreCommittedOnCheckpointCompletionAndCanBeStartedFrom) {
  ASSERT_TRUE(cluster_.CreateTopic("commit", 2));
  Produce("commit", 2, 0, 20);
  KafkaSourceOptions<std::string> o = Options("commit");
  o.group_id = "watchers";
  {
    Subtask sub(o, 0, 1);
    ReadUntil<std::string>({&sub}, 20);
    ASSERT_EQ(sub.out.records.size(), 20u);
    sub.Snapshot(7);
    EXPECT_EQ(CommittedOffset("watchers", "commit", 0), -1001) << "not before completion";
    sub.source.NotifyCheckpointComplete(7);
    const auto deadline = Clock::now() + kDeadline;
    while (CommittedOffset("watchers", "commit", 1) != 10 && Clock::now() < deadline) sub.Poll();
    EXPECT_EQ(CommittedOffset("watchers", "commit", 0), 10);
    EXPECT_EQ(CommittedOffset("watchers", "commit", 1), 10);
    while (sub.source.CommitsSucceeded() == 0 && Clock::now() < deadline) sub.Poll();
    EXPECT_EQ(sub.source.CommitsSucceeded(), 1);
  }
  Produce("commit", 2, 20, 30);
  o.starting_offsets = OffsetsInitializer::CommittedOffsets();
  Subtask again(o, 0, 1);
  ReadUntil<std::string>({&again}, 10);
  EXPECT_EQ(Sorted(again.out.records), Messages(20, 30));

  o.group_id = "newcomers";  // nothing committed, and the reset strategy is none
  try {
    Subtask fails(o, 0, 1);
    FAIL() << "a group without committed offsets and no reset strategy must fail";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("kafka source: partition commit-0 has no committed"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(KafkaSourceTest, BoundedModeStopsAtTheOffsetsOfTheStart) {
  ASSERT_TRUE(cluster_.CreateTopic("bounded", 3));
  Produce("bounded", 3, 0, 30);
  KafkaSourceOptions<std::string> o = Options("bounded");
  o.bounded = OffsetsInitializer::Latest();
  Subtask sub(o, 0, 1);
  Produce("bounded", 3, 30, 40);  // after the start: not read
  SourceStatus s = SourceStatus::kMoreAvailable;
  const auto deadline = Clock::now() + kDeadline;
  while (s != SourceStatus::kEndOfInput && Clock::now() < deadline) s = sub.Poll();
  EXPECT_EQ(s, SourceStatus::kEndOfInput);
  EXPECT_EQ(Sorted(sub.out.records), Messages(0, 30));

  // A subtask that owns nothing ends at once; one restored after the end ends too.
  StateLists done = sub.Snapshot(1);
  Subtask restored(o, 0, 1, &done);
  EXPECT_EQ(restored.Poll(), SourceStatus::kEndOfInput);
}

TEST_F(KafkaSourceTest, JsonLinesBecomeStructs) {
  ASSERT_TRUE(cluster_.CreateTopic("json", 1));
  ASSERT_TRUE(cluster_.Produce("json", 0, R"({"user": 7, "page": "/a", "score": 0.5})"));
  ASSERT_TRUE(cluster_.Produce("json", 0, R"({"page": "/b\n", "extra": [1], "score": null})"));
  ASSERT_TRUE(cluster_.Flush());
  KafkaSourceOptions<Click> o;
  o.bootstrap_servers = cluster_.bootstrap_servers();
  o.topics = {"json"};
  o.deserializer = KafkaJsonDeserializer<Click>();
  Subtask<Click> sub(o, 0, 1);
  ReadUntil<Click>({&sub}, 2);
  ASSERT_EQ(sub.out.records.size(), 2u);
  EXPECT_EQ(sub.out.records[0].user, 7);
  EXPECT_EQ(sub.out.records[0].page, "/a");
  EXPECT_EQ(sub.out.records[0].score, 0.5);
  EXPECT_EQ(sub.out.records[1].user, 0) << "a missing field keeps its default";
  EXPECT_EQ(sub.out.records[1].page, "/b\n");
  EXPECT_FALSE(sub.out.records[1].score.has_value());
}

TEST_F(KafkaSourceTest, AMessageThatDoesNotDeserializeFailsWithItsOffsetOrIsSkipped) {
  ASSERT_TRUE(cluster_.CreateTopic("bad", 1));
  ASSERT_TRUE(cluster_.Produce("bad", 0, R"({"user": 1, "page": "/a"})"));
  ASSERT_TRUE(cluster_.Produce("bad", 0, R"({"user": "one"})"));  // offset 1
  ASSERT_TRUE(cluster_.Produce("bad", 0, "not json"));            // offset 2
  ASSERT_TRUE(cluster_.Produce("bad", 0, R"({"user": 4, "page": "/d"})"));
  ASSERT_TRUE(cluster_.Flush());
  KafkaSourceOptions<Click> o;
  o.bootstrap_servers = cluster_.bootstrap_servers();
  o.topics = {"bad"};
  o.deserializer = KafkaJsonDeserializer<Click>();
  {
    Subtask<Click> sub(o, 0, 1);
    std::string error;
    const auto deadline = Clock::now() + kDeadline;
    while (error.empty() && Clock::now() < deadline) {
      try {
        sub.Poll();
      } catch (const std::runtime_error& e) {
        error = e.what();
      }
    }
    EXPECT_NE(error.find("kafka source: cannot deserialize the message at topic 'bad' "
                         "partition 0 offset 1: field 'user' is not a number"),
              std::string::npos)
        << error;
    EXPECT_EQ(sub.out.records.size(), 1u);
  }
  o.skip_bad_records = true;
  Subtask<Click> sub(o, 0, 1);
  ReadUntil<Click>({&sub}, 2);
  ASSERT_EQ(sub.out.records.size(), 2u);
  EXPECT_EQ(sub.out.records[1].user, 4);
  EXPECT_EQ(sub.source.SkippedRecords(), 2u);
  EXPECT_EQ(sub.source.Offsets().at({"bad", 0}), 4) << "skipped messages are behind the offset";
}

TEST_F(KafkaSourceTest, AnUnknownTopicIsAClearError) {
  ASSERT_TRUE(cluster_.CreateTopic("known", 1));
  KafkaSourceOptions<std::string> o = Options("unknown");
  o.metadata_timeout = std::chrono::seconds(5);
  try {
    Subtask sub(o, 0, 1);
    FAIL() << "opened a source of a topic that does not exist";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("kafka source: topic 'unknown' does not exist"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("(setting 'topics')"), std::string::npos) << e.what();
  }
}

TEST_F(KafkaSourceTest, UnreachableBootstrapServersAreAClearError) {
  KafkaSourceOptions<std::string> o = Options("any");
  o.bootstrap_servers = "127.0.0.1:1";  // nothing listens on port 1
  o.metadata_timeout = std::chrono::milliseconds(1500);
  try {
    Subtask sub(o, 0, 1);
    FAIL() << "opened a source without brokers";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("kafka source: cannot reach the Kafka brokers at "
                                         "'127.0.0.1:1' (setting 'bootstrap_servers') within "
                                         "1500 ms"),
              std::string::npos)
        << e.what();
  }
  o.bootstrap_servers.clear();
  EXPECT_THROW(Subtask sub(o, 0, 1), std::runtime_error);
}

TEST_F(KafkaSourceTest, TopicsAndAPatternTogetherAreRefused) {
  KafkaSourceOptions<std::string> o = Options("one");
  o.topic_pattern = "one|two";
  try {
    Subtask sub(o, 0, 1);
    FAIL() << "opened a source with both topics and a pattern";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("kafka source: set one of 'topics' and 'topic_pattern'"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(KafkaSourceTest, ReadingGoesOnAfterABrokerWasDownAndCameBack) {
  ASSERT_TRUE(cluster_.CreateTopic("flaky", 6));  // leaders spread over brokers 1..3
  Produce("flaky", 6, 0, 60);
  Subtask sub(Options("flaky"), 0, 1);
  ReadUntil<std::string>({&sub}, 60);
  ASSERT_EQ(Sorted(sub.out.records), Messages(0, 60));

  ASSERT_TRUE(cluster_.BrokerDown(1));
  for (int i = 60; i < 120; ++i) {
    ASSERT_TRUE(cluster_.Produce("flaky", i % 6, "m" + std::to_string(i)));
  }
  for (int i = 0; i < 100; ++i) sub.Poll();  // the partitions of the others go on meanwhile
  ASSERT_TRUE(cluster_.BrokerUp(1));
  ASSERT_TRUE(cluster_.Flush());
  ReadUntil<std::string>({&sub}, 120);
  EXPECT_EQ(Sorted(sub.out.records), Messages(0, 120));
}

TEST_F(KafkaSourceTest, EachPartitionHasItsOwnWatermarkAndAnIdleOneStopsHoldingItBack) {
  ASSERT_TRUE(cluster_.CreateTopic("events", 3));
  ASSERT_TRUE(cluster_.Produce("events", 0, "a", 1000));
  ASSERT_TRUE(cluster_.Produce("events", 1, "b", 5000));  // partition 2 stays empty
  ASSERT_TRUE(cluster_.Flush());
  auto strategy = WatermarkStrategy<std::string>::ForMonotonousTimestamps().WithIdleness(
      std::chrono::seconds(1));
  Subtask<std::string> sub(Options("events"), 0, 1, nullptr, strategy);
  ReadUntil<std::string>({&sub}, 2);
  ASSERT_EQ(sub.out.records.size(), 2u);
  sub.ctx.AdvanceTo(200);  // the first periodic emit: the empty partition holds the watermark
  ASSERT_FALSE(sub.ctx.split_reports.empty());
  EXPECT_EQ(sub.ctx.split_reports.back(),
            "wm " + std::to_string(kNoTimestamp) + " held by 'events-2' idle");
  // Later messages keep partitions 0 and 1 active; partition 2, with none for a second of
  // processing time, goes idle and no longer holds the watermark back.
  ASSERT_TRUE(cluster_.Produce("events", 0, "c", 1100));
  ASSERT_TRUE(cluster_.Produce("events", 1, "d", 5100));
  ASSERT_TRUE(cluster_.Flush());
  ReadUntil<std::string>({&sub}, 4);
  sub.ctx.AdvanceTo(1500);  // partition 2 idle from the emit at 1400, the others from 1800
  EXPECT_EQ(sub.ctx.split_reports.back(), "wm 1099 held by 'events-0' idle events-2");
}

TEST_F(KafkaSourceTest, WatermarkAlignmentHoldsBackThePartitionThatRanAhead) {
  ASSERT_TRUE(cluster_.CreateTopic("aligned", 2));
  ASSERT_TRUE(cluster_.Produce("aligned", 0, "slow-1", 1000));
  ASSERT_TRUE(cluster_.Produce("aligned", 1, "fast-1", 9000));
  ASSERT_TRUE(cluster_.Flush());
  auto strategy = WatermarkStrategy<std::string>::ForMonotonousTimestamps().WithWatermarkAlignment(
      "group", std::chrono::seconds(1));
  Subtask<std::string> sub(Options("aligned"), 0, 1, nullptr, strategy);
  ReadUntil<std::string>({&sub}, 2);
  ASSERT_EQ(sub.out.records.size(), 2u);
  sub.ctx.AdvanceTo(200);      // partition watermarks 999 and 8999
  sub.ctx.max_allowed = 2000;  // what the group allows: partition 1 is ahead
  ASSERT_TRUE(cluster_.Produce("aligned", 0, "slow-2", 1100));
  ASSERT_TRUE(cluster_.Produce("aligned", 1, "fast-2", 9100));
  ASSERT_TRUE(cluster_.Flush());
  ReadUntil<std::string>({&sub}, 3);
  EXPECT_EQ(Sorted(sub.out.records), Sorted({"slow-1", "fast-1", "slow-2"}));

  sub.ctx.max_allowed = kMaxWatermark;  // the group caught up
  ReadUntil<std::string>({&sub}, 4);
  EXPECT_EQ(Sorted(sub.out.records), Sorted({"slow-1", "fast-1", "slow-2", "fast-2"}));
}

}  // namespace
}  // namespace sluice
