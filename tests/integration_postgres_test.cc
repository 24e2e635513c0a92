// The PostgreSQL sink on a real cluster against a real PostgreSQL server the test starts
// (tests/postgres_server.h): tests/packages/postgres_lines.cc reads published files line by line
// into table `lines` exactly once (two-phase commit) and upserts each file's running line count
// into `file_counts`. Through a killed TaskManager and a rescale 2 -> 3, every line is a row
// exactly once and every count ends right.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"
#include "tests/kafka_mock.h"
#include "tests/postgres_server.h"

namespace sluice::testing {
namespace {

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
  PublishLinesFile(in, 0);
  const std::vector<std::string> extra = RestartingCheckpointDefines(
      "hashmap", cluster.ScratchPath("chk"), cluster.ScratchPath("savepoints"));
  absl::StatusOr<std::string> job = cluster.SubmitDetached(
      TestPackage("postgres_lines"), 2, {"input=" + in, "url=" + pg.Url(), "flush-ms=300"}, extra);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok()) << cluster.LogTails();

  int published = 1;
  auto all_committed = [&] {
    return WaitUntil([&] { return rows() == 500 * published; }, absl::Minutes(1));
  };
  for (; published < 4; ++published) PublishLinesFile(in, published);
  ASSERT_TRUE(all_committed()) << rows() << cluster.LogTails();

  // Kill a TaskManager while a sink has rows in its open transaction: publish until one is seen.
  auto open_transactions = [&] {
    return std::stoll(
        pg.Query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sluice' AND "
                 "state = 'idle in transaction'")[0]);
  };
  bool in_flight = false;
  for (int tries = 0; tries < 20 && !in_flight; ++tries) {
    PublishLinesFile(in, published++);
    in_flight = WaitUntil([&] { return open_transactions() > 0; }, absl::Milliseconds(500));
  }
  EXPECT_TRUE(in_flight) << "no open transaction seen";
  ASSERT_TRUE(cluster.KillTaskManager(2).ok());
  for (const int until = published + 2; published < until; ++published)
    PublishLinesFile(in, published);  // while it restarts
  absl::StatusOr<int> added = cluster.AddTaskManager();
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster.LogTails();
  ASSERT_TRUE(all_committed()) << rows() << cluster.LogTails();

  CommandResult rescale = cluster.Sluice({"rescale", *job, "--parallelism", "3"});
  ASSERT_TRUE(rescale.ok()) << rescale.Describe() << cluster.LogTails();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster.LogTails();
  for (const int until = published + 3; published < until; ++published)
    PublishLinesFile(in, published);
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

struct ShopOrder {
  int64_t id, cents, ts;
  std::string category;
};

//! Order i as examples/shop_revenue.cc's generator makes it (10 ms apart, up to 2 s out of order).
ShopOrder MakeShopOrder(int64_t i) {
  static const char* const kCategories[] = {"books", "garden", "kitchen", "music", "toys"};
  return ShopOrder{i, 100 + (i * 7919) % 9900, 1767225600000 + i * 10 - (i * 104729) % 2001,
                   kCategories[i % 5]};
}

TEST(IntegrationPostgres, KafkaOrdersWindowedIntoPostgresExactlyOnceThroughAKill) {
  PostgresServer pg;
  std::string error;
  ASSERT_TRUE(pg.Start(&error)) << error;
  pg.Execute(
      "CREATE TABLE category_revenue (category text, window_start timestamptz, window_end "
      "timestamptz, orders bigint, revenue numeric(12,2), PRIMARY KEY (category, window_start))");
  KafkaMockCluster kafka;
  ASSERT_TRUE(kafka.Start(1, &error)) << error;
  ASSERT_TRUE(kafka.CreateTopic("orders", 4));
  int64_t produced = 0;
  auto produce = [&](int64_t until) {
    for (; produced < until; ++produced) {
      const ShopOrder o = MakeShopOrder(produced);
      ASSERT_TRUE(kafka.Produce("orders", static_cast<int32_t>(produced % 4),
                                absl::StrCat("{\"id\":", o.id, ",\"category\":\"", o.category,
                                             "\",\"cents\":", o.cents, ",\"ts\":", o.ts, "}")));
    }
    ASSERT_TRUE(kafka.Flush());
  };
  produce(6000);

  LocalCluster cluster;
  ASSERT_TRUE(cluster.Start(ClusterOptions{}).ok());
  const std::vector<std::string> extra = RestartingCheckpointDefines(
      "rocksdb", cluster.ScratchPath("chk"), cluster.ScratchPath("savepoints"));
  absl::StatusOr<std::string> job = cluster.SubmitDetached(
      ExamplePackage("shop_revenue"), 2,
      {"url=" + pg.Url(), "kafka=" + kafka.bootstrap_servers(), "bounded=false"}, extra);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok()) << cluster.LogTails();
  auto windows = [&] { return std::stoll(pg.Query("SELECT count(*) FROM category_revenue")[0]); };
  ASSERT_TRUE(WaitUntil([&] { return windows() > 0; })) << cluster.LogTails();

  produce(12000);
  ASSERT_TRUE(cluster.KillTaskManager(2).ok());
  produce(18000);  // while it restarts
  absl::StatusOr<int> added = cluster.AddTaskManager();
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job, absl::Minutes(2)).ok()) << cluster.LogTails();
  produce(24000);
  // One order an hour later on every partition: the watermark passes every window before it.
  for (int32_t p = 0; p < 4; ++p) {
    ASSERT_TRUE(kafka.Produce("orders", p,
                              absl::StrCat("{\"id\":-1,\"category\":\"end\",\"cents\":0,\"ts\":",
                                           1767225600000 + 3600000, "}")));
  }
  ASSERT_TRUE(kafka.Flush());

  // The expected windows: [start, start + 10 s) per category.
  std::map<std::string, std::pair<int64_t, int64_t>> want;  // "category|epoch s" -> orders, cents
  for (int64_t i = 0; i < produced; ++i) {
    const ShopOrder o = MakeShopOrder(i);
    auto& w = want[absl::StrCat(o.category, "|", o.ts / 10000 * 10)];
    ++w.first;
    w.second += o.cents;
  }
  std::vector<std::string> want_rows;
  for (const auto& [key, w] : want) {
    want_rows.push_back(absl::StrCat(key, "|", w.first, "|", w.second / 100, ".",
                                     absl::StrFormat("%02d", w.second % 100)));
  }
  auto rows = [&] {
    return pg.Query(
        "SELECT category, extract(epoch FROM window_start)::bigint, orders, revenue FROM "
        "category_revenue WHERE category <> 'end' ORDER BY category, window_start");
  };
  EXPECT_TRUE(WaitUntil([&] { return rows().size() == want_rows.size(); }, absl::Minutes(1)))
      << rows().size() << " windows of " << want_rows.size() << cluster.LogTails();
  EXPECT_EQ(rows(), want_rows) << "every window once, with every order counted once";
  absl::StatusOr<JsonValue> status = cluster.JobStatus(*job);
  ASSERT_TRUE(status.ok());
  EXPECT_GE(IntField(*status, "numRestarts"), 1);
  CommandResult cancel = cluster.Sluice({"cancel", *job});
  EXPECT_TRUE(cancel.ok()) << cancel.Describe();
}

}  // namespace
}  // namespace sluice::testing
