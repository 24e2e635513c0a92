// The PostgreSQL sink against a real PostgreSQL server that the test starts
// (tests/postgres_server.h): inserts by COPY, upserts, the exactly-once two-phase commit and its
// recovery after a crash, retries while the server restarts, and clear errors for bad settings.
#include "sluice/connectors/postgres_sink.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connectors/connector_test_util.h"
#include "sluice/testing/fake_runtime_context.h"
#include "tests/postgres_server.h"

namespace sluice {
namespace {

using connectors_test::CapturingOutput;
using connectors_test::CollectingSnapshot;
using connectors_test::RestoringInit;
using testing::FakeRuntimeContext;
using testing::PostgresServer;

struct Reading {
  int64_t id = 0;
  std::string name;
  double value = 0;
  std::optional<std::string> note;
  SLUICE_FIELDS(id, name, value, note);
};

class PostgresSinkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new PostgresServer();
    std::string error;
    if (!server_->Start(&error)) {
      delete server_;
      server_ = nullptr;
      start_error_ = error;
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "PostgreSQL: " << start_error_;
    table_ = "readings_" + std::to_string(next_table_++);
    server_->Execute("CREATE TABLE " + table_ +
                     " (id bigint, name text, value double precision, note text)");
  }

  PostgresSinkOptions<Reading> Options(DeliveryGuarantee g = DeliveryGuarantee::kAtLeastOnce) {
    PostgresSinkOptions<Reading> o;
    o.url = server_->Url();
    o.table = table_;
    o.guarantee = g;
    o.buffer_flush_interval = std::chrono::milliseconds(0);
    return o;
  }

  //! A sink opened as subtask `subtask` of attempt `attempt`, restored from `state` when given.
  std::unique_ptr<PostgresSink<Reading>> OpenSink(
      PostgresSinkOptions<Reading> options, FakeRuntimeContext& ctx,
      std::map<std::string, std::vector<std::string>> state = {}) {
    auto sink = std::make_unique<PostgresSink<Reading>>(std::move(options));
    RestoringInit init(std::move(state));
    sink->InitializeState(init);
    sink->Open(ctx, out_);
    return sink;
  }

  int64_t Count(const std::string& where = "true") {
    return std::stoll(server_->Query("SELECT count(*) FROM " + table_ + " WHERE " + where)[0]);
  }
  std::vector<std::string> Prepared() {
    return server_->Query("SELECT gid FROM pg_prepared_xacts ORDER BY gid");
  }

  static PostgresServer* server_;
  static std::string start_error_;
  static int next_table_;
  std::string table_;
  CapturingOutput<Reading> out_;
};

PostgresServer* PostgresSinkTest::server_ = nullptr;
std::string PostgresSinkTest::start_error_;
int PostgresSinkTest::next_table_ = 0;

Reading R(int64_t id, std::string name = "r", std::optional<std::string> note = std::nullopt) {
  return Reading{id, std::move(name), id * 0.5, std::move(note)};
}

TEST_F(PostgresSinkTest, InsertsInBatchesAndFlushesAtEveryCheckpoint) {
  auto options = Options();
  options.buffer_flush_max_rows = 1000;
  FakeRuntimeContext ctx(0, 1, "job-a", 0, /*checkpointing=*/true);
  auto sink = OpenSink(options, ctx);
  for (int i = 0; i < 2500; ++i) sink->Process(R(i));
  EXPECT_EQ(Count(), 2000) << "two full batches written, 500 rows buffered";
  CollectingSnapshot snap(1);
  sink->SnapshotState(snap);
  EXPECT_EQ(Count(), 2500) << "at least once: everything buffered is written at a checkpoint";
  EXPECT_TRUE(snap.lists.empty()) << "nothing to keep in state";
  for (int i = 2500; i < 2600; ++i) sink->Process(R(i));
  sink->EndInput();
  sink->Close();
  EXPECT_EQ(Count(), 2600);
  EXPECT_EQ(server_->Query("SELECT sum(id), sum(value) FROM " + table_),
            std::vector<std::string>{"3378700|1689350"});
}

TEST_F(PostgresSinkTest, WritesAnyTextAndNullsThroughCopyAndUpsert) {
  server_->Execute("ALTER TABLE " + table_ + " ADD PRIMARY KEY (id)");
  const std::vector<std::string> names = {
      "tab\there", "new\nline", "back\\slash", "quote's \"x\"", "\\N", "ünïcødé ✓", ""};
  for (bool upsert : {false, true}) {
    server_->Execute("TRUNCATE " + table_);
    auto options = Options();
    if (upsert) options.key_columns = {"id"};
    FakeRuntimeContext ctx;
    auto sink = OpenSink(options, ctx);
    for (size_t i = 0; i < names.size(); ++i) {
      sink->Process(R(static_cast<int64_t>(i), names[i],
                      i % 2 ? std::optional<std::string>("n") : std::nullopt));
    }
    sink->EndInput();
    sink->Close();
    std::vector<std::string> want;
    for (size_t i = 0; i < names.size(); ++i) want.push_back(names[i] + (i % 2 ? "|n" : "|NULL"));
    EXPECT_EQ(server_->Query("SELECT name, coalesce(note, 'NULL') FROM " + table_ + " ORDER BY id"),
              want)
        << (upsert ? "upsert" : "copy");
  }
}

TEST_F(PostgresSinkTest, UpsertKeepsTheLastValueOfAKeyAndAReplayChangesNothing) {
  server_->Execute("ALTER TABLE " + table_ + " ADD PRIMARY KEY (id)");
  auto options = Options();
  options.key_columns = {"id"};
  for (int run = 0; run < 2; ++run) {  // the second run replays the same records
    FakeRuntimeContext ctx(0, 1, "job-u", run, true);
    auto sink = OpenSink(options, ctx);
    for (int i = 0; i < 300; ++i) sink->Process(R(i % 100, "v" + std::to_string(i)));
    sink->EndInput();
    sink->Close();
    EXPECT_EQ(Count(), 100) << "run " << run;
    EXPECT_EQ(server_->Query("SELECT name FROM " + table_ + " WHERE id = 7"),
              std::vector<std::string>{"v207"})
        << "the last value of the key, also when one batch holds the key three times";
  }
}

TEST_F(PostgresSinkTest, ExactlyOnceCommitsOnlyWhenTheCheckpointCompletes) {
  FakeRuntimeContext ctx(2, 3, "job-e", 0, true);
  auto sink = OpenSink(Options(DeliveryGuarantee::kExactlyOnce), ctx);
  for (int i = 0; i < 100; ++i) sink->Process(R(i));
  CollectingSnapshot snap(5);
  sink->SnapshotState(snap);
  EXPECT_EQ(Count(), 0) << "pre-committed only";
  EXPECT_EQ(Prepared(), std::vector<std::string>{"sluice:job-e:0:2:5"});
  EXPECT_EQ(snap.lists["pending-transactions"], std::vector<std::string>{"sluice:job-e:0:2:5"});
  for (int i = 100; i < 150; ++i) sink->Process(R(i));  // the next transaction, open meanwhile
  sink->NotifyCheckpointComplete(5);
  EXPECT_EQ(Count(), 100) << "checkpoint 5's rows, not the open transaction's";
  EXPECT_TRUE(Prepared().empty());
  CollectingSnapshot empty(6);
  sink->SnapshotState(empty);  // 50 rows
  CollectingSnapshot none(7);
  sink->SnapshotState(none);  // nothing written since: no transaction
  EXPECT_EQ(none.lists["pending-transactions"], std::vector<std::string>{"sluice:job-e:0:2:6"});
  sink->NotifyCheckpointComplete(7);
  EXPECT_EQ(Count(), 150);
  sink->Close();
}

TEST_F(PostgresSinkTest, AfterACrashTheSnapshotsTransactionsCommitAndTheLaterOnesRollBack) {
  std::map<std::string, std::vector<std::string>> state;
  {
    FakeRuntimeContext ctx(0, 2, "job-c", 0, true);
    auto s0 = OpenSink(Options(DeliveryGuarantee::kExactlyOnce), ctx);
    FakeRuntimeContext ctx1(1, 2, "job-c", 0, true);
    auto s1 = OpenSink(Options(DeliveryGuarantee::kExactlyOnce), ctx1);
    for (int i = 0; i < 10; ++i) (i % 2 ? s1 : s0)->Process(R(i));
    CollectingSnapshot a(1), b(1);
    s0->SnapshotState(a);
    s1->SnapshotState(b);
    state = a.lists;  // the union of both subtasks' lists, as a restore hands it to each
    for (auto& gid : b.lists["pending-transactions"]) state["pending-transactions"].push_back(gid);
    for (int i = 10; i < 20; ++i) (i % 2 ? s1 : s0)->Process(R(i));
    CollectingSnapshot c(2), d(2);
    s0->SnapshotState(c);  // checkpoint 2 is pre-committed by both ...
    s1->SnapshotState(d);
    for (int i = 20; i < 30; ++i) s0->Process(R(i));
    s0->Process(R(999));
    // ... and never completes: the TaskManager dies (no Close; the connections drop).
  }
  EXPECT_EQ(Prepared().size(), 4u);
  EXPECT_EQ(Count(), 0);
  server_->Execute("BEGIN; INSERT INTO " + table_ +
                   " VALUES (-1, 'other', 0, NULL); PREPARE TRANSACTION 'sluice:job-z:0:0:1'");

  // The restart restores checkpoint 1 in attempt 1; subtask 0 resolves.
  FakeRuntimeContext ctx(0, 2, "job-c", 1, true);
  auto s0 = OpenSink(Options(DeliveryGuarantee::kExactlyOnce), ctx, state);
  EXPECT_EQ(Count(), 10) << "checkpoint 1's rows";
  EXPECT_EQ(Prepared(), std::vector<std::string>{"sluice:job-z:0:0:1"})
      << "checkpoint 2's transactions rolled back; another job's left alone";
  for (int i = 10; i < 20; ++i) s0->Process(R(i));  // replayed
  CollectingSnapshot e(3);
  s0->SnapshotState(e);
  s0->NotifyCheckpointComplete(3);
  EXPECT_EQ(Count(), 20);
  EXPECT_EQ(Count("id = 15"), 1);
  s0->Close();

  // Restoring the same state again (say checkpoint 1 is restored a second time): committed
  // transactions are skipped, nothing is written twice.
  FakeRuntimeContext again(0, 2, "job-c", 2, true);
  OpenSink(Options(DeliveryGuarantee::kExactlyOnce), again, state)->Close();
  EXPECT_EQ(Count(), 20);
  server_->Execute("ROLLBACK PREPARED 'sluice:job-z:0:0:1'");
}

TEST_F(PostgresSinkTest, ASavepointOfAnotherJobIsCommittedAndItsLeftoversRolledBack) {
  std::map<std::string, std::vector<std::string>> state;
  {
    FakeRuntimeContext ctx(0, 1, "job-old", 3, true);
    auto s = OpenSink(Options(DeliveryGuarantee::kExactlyOnce), ctx);
    s->Process(R(1));
    CollectingSnapshot sp(8);  // the savepoint
    s->SnapshotState(sp);
    state = sp.lists;
    s->Process(R(2));
    CollectingSnapshot later(9);
    s->SnapshotState(later);  // the old job goes on, then is cancelled before 9 completes
  }
  FakeRuntimeContext ctx(0, 1, "job-new", 0, true);
  auto s = OpenSink(Options(DeliveryGuarantee::kExactlyOnce), ctx, state);
  EXPECT_EQ(server_->Query("SELECT id FROM " + table_), std::vector<std::string>{"1"});
  EXPECT_TRUE(Prepared().empty());
  s->Close();
}

TEST_F(PostgresSinkTest, ABatchIsRetriedWhileTheServerRestarts) {
  auto options = Options();
  options.max_retries = 5;
  FakeRuntimeContext ctx;
  auto sink = OpenSink(options, ctx);
  sink->Process(R(1));
  sink->EndInput();
  server_->Stop();
  for (int i = 2; i <= 100; ++i) sink->Process(R(i));
  // The batch is written while the server is down: it fails, then succeeds on a new connection.
  // (The server is restarted from this thread: it dies with the thread that started it.)
  auto flushed = std::async(std::launch::async, [&] { sink->EndInput(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(server_->Restart()) << server_->Log();
  flushed.get();
  EXPECT_EQ(Count(), 100);
  sink->Close();
}

TEST_F(PostgresSinkTest, ABadValueFailsWithTheDatabasesMessageAndIsNotRetried) {
  server_->Execute("CREATE TABLE " + table_ +
                   "_int (id bigint, name int, value float8, note text)");
  auto options = Options();
  options.table = table_ + "_int";
  FakeRuntimeContext ctx;
  auto sink = OpenSink(options, ctx);
  sink->Process(R(1, "not a number"));
  try {
    sink->EndInput();
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("SQLSTATE 22P02"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("postgres sink"), std::string::npos) << e.what();
  }
}

//! The error Open throws for `options`, or "" when it opens.
std::string OpenError(PostgresSinkOptions<Reading> options) {
  FakeRuntimeContext ctx(0, 1, "job-b", 0, true);
  CapturingOutput<Reading> out;
  try {
    PostgresSink<Reading> sink(std::move(options));
    RestoringInit init({});
    sink.InitializeState(init);
    sink.Open(ctx, out);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST_F(PostgresSinkTest, BadSettingsFailAtOpenNamingTheConnectorAndTheSetting) {
  auto unreachable = Options();
  unreachable.url = "host=127.0.0.1 port=1 dbname=postgres";
  unreachable.password = "secret";
  const std::string e1 = OpenError(unreachable);
  EXPECT_NE(e1.find("postgres sink: cannot connect to the database (url 'host=127.0.0.1 port=1"),
            std::string::npos)
      << e1;
  EXPECT_EQ(e1.find("secret"), std::string::npos) << "no password in messages: " << e1;

  auto missing = Options();
  missing.table = "no_such_table";
  const std::string e2 = OpenError(missing);
  EXPECT_NE(e2.find("table 'no_such_table'"), std::string::npos) << e2;
  EXPECT_NE(e2.find("does not exist"), std::string::npos) << e2;

  auto no_key = Options();
  no_key.key_columns = {"id"};  // no unique constraint on id
  const std::string e3 = OpenError(no_key);
  EXPECT_NE(e3.find("'key_columns'"), std::string::npos) << e3;
  EXPECT_NE(e3.find("no unique or exclusion constraint"), std::string::npos) << e3;

  auto wrong_key = Options();
  wrong_key.key_columns = {"nope"};
  EXPECT_NE(OpenError(wrong_key).find("key column 'nope'"), std::string::npos);

  auto wrong_column = Options();
  wrong_column.columns = {"id", "nope", "value", "note"};
  EXPECT_NE(OpenError(wrong_column).find("column \"nope\""), std::string::npos);

  EXPECT_EQ(OpenError(Options()), "");
}

TEST(PostgresWriter, RedactsPasswords) {
  EXPECT_EQ(PostgresWriter::RedactedUrl("host=h password=abc dbname=d"),
            "host=h password=*** dbname=d");
  EXPECT_EQ(PostgresWriter::RedactedUrl("host=h password='a b\\'c' dbname=d"),
            "host=h password=*** dbname=d");
  EXPECT_EQ(PostgresWriter::RedactedUrl("postgresql://u:pw@h:5432/d"),
            "postgresql://u:***@h:5432/d");
  EXPECT_EQ(PostgresWriter::RedactedUrl("postgresql://h/d?password=x&sslmode=off"),
            "postgresql://h/d?password=***&sslmode=off");
}

}  // namespace
}  // namespace sluice
