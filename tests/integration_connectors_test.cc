// Connectors on a real cluster: the text file source watching a directory
// (tests/packages/watch_dir.cc) takes files as they are published, and through a killed
// TaskManager and a rescale 2 -> 3 reads every file's lines exactly once into the exactly-once
// file sink.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

TEST(IntegrationFileSource, AWatchedDirectoryIsReadExactlyOnceThroughAKillAndARescale) {
  LocalCluster cluster;
  ASSERT_TRUE(cluster.Start(ClusterOptions{}).ok());
  const std::string in = cluster.NewDir("in");
  const std::string out = cluster.NewDir("out");
  PublishLinesFile(in, 0);
  const std::vector<std::string> extra = RestartingCheckpointDefines(
      "hashmap", cluster.ScratchPath("chk"), cluster.ScratchPath("savepoints"));
  absl::StatusOr<std::string> job =
      cluster.SubmitDetached(TestPackage("watch_dir"), 2, {"input=" + in, "output=" + out}, extra);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok()) << cluster.LogTails();

  int published = 1;
  auto all_committed = [&] {
    return WaitUntil([&] { return VisibleLines(out).size() == 500u * published; },
                     absl::Minutes(1));
  };
  for (; published < 4; ++published) PublishLinesFile(in, published);
  ASSERT_TRUE(all_committed()) << VisibleLines(out).size() << cluster.LogTails();

  ASSERT_TRUE(cluster.KillTaskManager(2).ok());
  for (; published < 6; ++published) PublishLinesFile(in, published);  // while it restarts
  absl::StatusOr<int> added = cluster.AddTaskManager();
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster.LogTails();
  ASSERT_TRUE(all_committed()) << VisibleLines(out).size() << cluster.LogTails();

  CommandResult rescale = cluster.Sluice({"rescale", *job, "--parallelism", "3"});
  ASSERT_TRUE(rescale.ok()) << rescale.Describe() << cluster.LogTails();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster.LogTails();
  for (; published < 9; ++published) PublishLinesFile(in, published);
  ASSERT_TRUE(all_committed()) << VisibleLines(out).size() << cluster.LogTails();

  std::vector<std::string> want;
  for (int n = 0; n < published; ++n) {
    for (int i = 0; i < 500; ++i) want.push_back(absl::StrCat("file ", n, " line ", i));
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(VisibleLines(out), want) << "each line exactly once";
  absl::StatusOr<JsonValue> status = cluster.JobStatus(*job);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(StringField(*status, "state"), "RUNNING") << "a watching source never ends";
  EXPECT_GE(IntField(*status, "numRestarts"), 1);
  CommandResult cancel = cluster.Sluice({"cancel", *job});
  EXPECT_TRUE(cancel.ok()) << cancel.Describe();
}

}  // namespace
}  // namespace sluice::testing
