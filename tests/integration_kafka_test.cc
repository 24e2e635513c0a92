// The Kafka source on a real cluster against librdkafka's mock cluster — a TEST DOUBLE of Kafka,
// run as a daemon of the test (tests/kafka_mock.h, tests/kafka_mock_cluster.cc) — which the
// TaskManagers reach over TCP like a broker: tests/packages/kafka_lines.cc reads a topic into the
// exactly-once file sink, and copies it through the Kafka sink (at least once, keyed) into another
// topic. Through a killed TaskManager and a rescale 2 -> 3, with messages produced all along,
// every message is in the file output exactly once and in the other topic at least once, each
// key on one partition.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/kafka_mock.h"

namespace sluice::testing {
namespace {

constexpr int kPartitions = 5;
constexpr int kBatch = 300;  // messages per round

TEST(IntegrationKafka, EveryMessageIsReadExactlyOnceThroughAKillAndARescale) {
  KafkaMockCluster kafka;
  std::string error;
  ASSERT_TRUE(kafka.Start(3, &error)) << error;
  ASSERT_TRUE(kafka.CreateTopic("copies", kPartitions));
  ASSERT_TRUE(kafka.CreateTopic("lines", kPartitions));
  int produced = 0;
  auto produce = [&] {
    for (int end = produced + kBatch; produced < end; ++produced) {
      ASSERT_TRUE(
          kafka.Produce("lines", produced % kPartitions, absl::StrCat("message ", produced)));
    }
    ASSERT_TRUE(kafka.Flush());
  };
  produce();

  LocalCluster cluster;
  ASSERT_TRUE(cluster.Start(ClusterOptions{}).ok());
  const std::string out = cluster.NewDir("out");
  const std::vector<std::string> extra = RestartingCheckpointDefines(
      "hashmap", cluster.ScratchPath("chk"), cluster.ScratchPath("savepoints"));
  absl::StatusOr<std::string> job =
      cluster.SubmitDetached(TestPackage("kafka_lines"), 2,
                             {"bootstrap=" + kafka.bootstrap_servers(), "topic=lines",
                              "group=kafka-lines", "output=" + out, "out-topic=copies"},
                             extra);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok()) << cluster.LogTails();
  auto all_committed = [&] {
    return WaitUntil([&] { return VisibleLines(out).size() >= static_cast<size_t>(produced); },
                     absl::Minutes(1));
  };
  ASSERT_TRUE(all_committed()) << VisibleLines(out).size() << cluster.LogTails();

  produce();
  ASSERT_TRUE(cluster.KillTaskManager(2).ok());
  produce();  // while it restarts
  absl::StatusOr<int> added = cluster.AddTaskManager();
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster.LogTails();
  ASSERT_TRUE(all_committed()) << VisibleLines(out).size() << cluster.LogTails();

  CommandResult rescale = cluster.Sluice({"rescale", *job, "--parallelism", "3"});
  ASSERT_TRUE(rescale.ok()) << rescale.Describe() << cluster.LogTails();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster.LogTails();
  produce();
  ASSERT_TRUE(all_committed()) << VisibleLines(out).size() << cluster.LogTails();

  std::vector<std::string> want;
  for (int i = 0; i < produced; ++i) want.push_back(absl::StrCat("message ", i));
  std::sort(want.begin(), want.end());
  EXPECT_EQ(VisibleLines(out), want) << "each message exactly once";
  // The Kafka sink (at least once) copied every message into topic "copies", keyed by itself:
  // each at least once, on the partition its key hashes to.
  std::map<std::string, int32_t> copies;
  auto read_copies = [&] {
    copies.clear();
    for (const KafkaMockMessage& m : ConsumeFromMock(
             kafka.bootstrap_servers(), "copies", kPartitions, 1u << 20, std::chrono::seconds(2))) {
      auto [it, fresh] = copies.emplace(m.value, m.partition);
      EXPECT_TRUE(fresh || it->second == m.partition) << m.value << " on two partitions";
      EXPECT_EQ(m.key, std::optional<std::string>(m.value));
    }
    return copies.size() == want.size();
  };
  EXPECT_TRUE(WaitUntil(read_copies, absl::Minutes(1))) << copies.size() << " of " << want.size();
  absl::StatusOr<JsonValue> status = cluster.JobStatus(*job);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(StringField(*status, "state"), "RUNNING") << "an unbounded source never ends";
  EXPECT_GE(IntField(*status, "numRestarts"), 1);
  CommandResult cancel = cluster.Sluice({"cancel", *job});
  EXPECT_TRUE(cancel.ok()) << cancel.Describe();
}

}  // namespace
}  // namespace sluice::testing
