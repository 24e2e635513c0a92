// The PostgreSQL sink on a real cluster against a real PostgreSQL server the test starts
// (tests/postgres_server.h): tests/packages/postgres_lines.cc reads published files line by line
// into table `lines` exactly once (two-phase commit) and upserts each file's running line count
// into `file_counts`. Through a killed TaskManager and a rescale 2 -> 3, every line is a row
// exactly once and every count ends right.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/postgres_server.h"

namespace sluice::testing {
namespace {

void Publish(const std::string& dir, int n) {
  std::string content;
  for (int i = 0; i < 500; ++i) content += absl::StrCat("file ", n, " line ", i, "\n");
  const std::string hidden = absl::StrCat(dir, "/.in-", n, ".inprogress");
  WriteFile(hidden, content);
  ASSERT_EQ(std::rename(hidden.c_str(), absl::StrCat(dir, "/in-", n).c_str()), 0);
}

TEST(IntegrationPostgres, EveryLineIsARowExactlyOnceThroughAKillAndARescale) {
  PostgresServer pg;
  std::string error;
  ASSERT_TRUE(pg.Start(&error)) << error;
  pg.Execute(
      "CREATE TABLE lines (file bigint, line bigint, text text)");  // no key: duplicates show
  pg.Execute("CREATE TABLE file_counts (file bigint PRIMARY KEY, lines bigint)");
  auto rows = [&] { return std::stoll(pg.Query("SELECT count(*) FROM lines")[0]); };

  LocalCluster cluster;
  ASSERT_TRUE(cluster.Start(ClusterOptions{}).ok());
  const std::string in = cluster.NewDir("in");
  Publish(in, 0);
  std::vector<std::string> extra =
      CheckpointDefines("hashmap", cluster.ScratchPath("chk"), cluster.ScratchPath("savepoints"));
  extra.insert(extra.end(), {"-D", "restart-strategy.type=fixed-delay", "-D",
                             "restart-strategy.fixed-delay.attempts=1000", "-D",
                             "restart-strategy.fixed-delay.delay=200ms"});
  absl::StatusOr<std::string> job = cluster.SubmitDetached(
      TestPackage("postgres_lines"), 2, {"input=" + in, "url=" + pg.Url(), "flush-ms=300"}, extra);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok()) << cluster.LogTails();

  int published = 1;
  auto all_committed = [&] {
    return WaitUntil([&] { return rows() == 500 * published; }, absl::Minutes(1));
  };
  for (; published < 4; ++published) Publish(in, published);
  ASSERT_TRUE(all_committed()) << rows() << cluster.LogTails();

  // Kill a TaskManager while a sink has rows in its open transaction: publish until one is seen.
  auto open_transactions = [&] {
    return std::stoll(
        pg.Query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sluice' AND "
                 "state = 'idle in transaction'")[0]);
  };
  bool in_flight = false;
  for (int tries = 0; tries < 20 && !in_flight; ++tries) {
    Publish(in, published++);
    in_flight = WaitUntil([&] { return open_transactions() > 0; }, absl::Milliseconds(500));
  }
  EXPECT_TRUE(in_flight) << "no open transaction seen";
  ASSERT_TRUE(cluster.KillTaskManager(2).ok());
  for (const int until = published + 2; published < until; ++published)
    Publish(in, published);  // while it restarts
  absl::StatusOr<int> added = cluster.AddTaskManager();
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster.LogTails();
  ASSERT_TRUE(all_committed()) << rows() << cluster.LogTails();

  CommandResult rescale = cluster.Sluice({"rescale", *job, "--parallelism", "3"});
  ASSERT_TRUE(rescale.ok()) << rescale.Describe() << cluster.LogTails();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster.LogTails();
  for (const int until = published + 3; published < until; ++published) Publish(in, published);
  ASSERT_TRUE(all_committed()) << rows() << cluster.LogTails();

  EXPECT_EQ(pg.Query("SELECT count(DISTINCT (file, line)), count(*) FROM lines"),
            std::vector<std::string>{absl::StrCat(500 * published, "|", 500 * published)})
      << "each line exactly once";
  std::vector<std::string> counts;
  for (int n = 0; n < published; ++n) counts.push_back(absl::StrCat(n, "|500"));
  EXPECT_TRUE(WaitUntil([&] {
    return pg.Query("SELECT file, lines FROM file_counts ORDER BY file") == counts;
  })) << absl::StrJoin(pg.Query("SELECT file, lines FROM file_counts ORDER BY file"), " ");
  absl::StatusOr<JsonValue> status = cluster.JobStatus(*job);
  ASSERT_TRUE(status.ok());
  EXPECT_GE(IntField(*status, "numRestarts"), 1);
  CommandResult cancel = cluster.Sluice({"cancel", *job});
  EXPECT_TRUE(cancel.ok()) << cancel.Describe();
}

}  // namespace
}  // namespace sluice::testing
