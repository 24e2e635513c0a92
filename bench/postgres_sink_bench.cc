// The PostgreSQL sink's rows/s against COPY of the same rows, in the same run, into a local
// PostgreSQL server the benchmark starts (tests/postgres_server.h; fsync off on both sides).
//
//   build/bench/postgres_sink_bench [ROWS=1000000]
//
// Baseline: one connection formats the rows as COPY text and sends them in one COPY statement (the
// fastest way a client loads rows). The sink is driven in-process as a task would drive it
// (Process per record, a checkpoint's SnapshotState and NotifyCheckpointComplete), so the figures
// are the connector's, without the engine's network in between:
//   - insert, at least once (COPY batches of 5,000 rows, a checkpoint every 100,000 rows),
//   - insert, exactly once (one transaction per checkpoint, a checkpoint every second),
//   - upsert by key, at least once (100,000 keys, INSERT ... ON CONFLICT batches of 5,000).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <pqxx/pqxx>
#include <pqxx/tablewriter>
#include <string>

#include "sluice/connectors/postgres_sink.h"
#include "sluice/testing/fake_keyed_host.h"
#include "sluice/testing/fake_runtime_context.h"
#include "tests/postgres_server.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Order {
  int64_t id = 0;
  std::string customer;
  double amount = 0;
  std::optional<std::string> note;
  SLUICE_FIELDS(id, customer, amount, note);
};

Order MakeOrder(int64_t i) {
  Order o;
  o.id = i;
  o.customer = "customer-" + std::to_string(i % 10007);
  o.amount = static_cast<double>(i % 100000) / 100;
  if (i % 3 == 0) o.note = "gift wrap";
  return o;
}

class NullOutput final : public sluice::Output {
 public:
  void Emit(const void*) override {}
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

//! The baseline: format and COPY all rows in one statement.
double CopyBaseline(const sluice::testing::PostgresServer& pg, int64_t rows) {
  const auto start = Clock::now();
  pqxx::connection c(pg.Url());
  pqxx::work tx(c);
  const std::vector<std::string> columns = {"id", "customer", "amount", "note"};
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  pqxx::tablewriter copy(tx, "orders", columns.begin(), columns.end());
#pragma GCC diagnostic pop
  std::string line;
  char buf[32];
  for (int64_t i = 0; i < rows; ++i) {
    const Order o = MakeOrder(i);
    line = std::to_string(o.id);
    line += '\t';
    line += o.customer;
    line += '\t';
    std::snprintf(buf, sizeof buf, "%.17g", o.amount);
    line += buf;
    line += '\t';
    line += o.note ? *o.note : "\\N";
    copy.write_raw_line(line);
  }
  copy.complete();
  tx.commit();
  return Seconds(start);
}

//! Drives the sink with `rows` records, a checkpoint every `every_rows` rows or `every` of time.
double RunSink(sluice::PostgresSinkOptions<Order> options, int64_t rows, int64_t every_rows,
               std::chrono::milliseconds every, int64_t key_modulo = 0) {
  const auto start = Clock::now();
  sluice::testing::FakeRuntimeContext ctx(0, 1, "bench", 0, /*checkpointing=*/true);
  NullOutput out;
  sluice::PostgresSink<Order> sink(std::move(options));
  sluice::testing::FakeInit init(nullptr, {}, /*is_restored=*/false);
  sink.InitializeState(init);
  sink.Open(ctx, out);
  int64_t checkpoint = 0;
  auto last = Clock::now();
  for (int64_t i = 0; i < rows; ++i) {
    Order o = MakeOrder(i);
    if (key_modulo > 0) o.id = i % key_modulo;
    sink.Process(o);
    const bool due = every_rows > 0 ? (i + 1) % every_rows == 0
                                    : ((i & 1023) == 0 && Clock::now() - last >= every);
    if (due) {
      sluice::testing::MemoryWriter snap(++checkpoint);
      sink.SnapshotState(snap);
      sink.NotifyCheckpointComplete(checkpoint);
      last = Clock::now();
    }
  }
  sink.EndInput();
  sluice::testing::MemoryWriter final_snap(++checkpoint);
  sink.SnapshotState(final_snap);
  sink.NotifyCheckpointComplete(checkpoint);
  sink.Close();
  return Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 1000000;
  sluice::testing::PostgresServer pg;
  std::string error;
  if (!pg.Start(&error)) {
    std::fprintf(stderr, "postgres_sink_bench: %s\n", error.c_str());
    return 1;
  }
  pg.Execute("CREATE TABLE orders (id bigint, customer text, amount double precision, note text)");
  pg.Execute(
      "CREATE TABLE orders_by_id (id bigint PRIMARY KEY, customer text, amount double precision, "
      "note text)");
  auto count = [&](const char* table) {
    return std::atoll(pg.Query(std::string("SELECT count(*) FROM ") + table)[0].c_str());
  };
  auto options = [&](const char* table) {
    sluice::PostgresSinkOptions<Order> o;
    o.url = pg.Url();
    o.table = table;
    return o;
  };

  std::printf("rows: %lld (PostgreSQL %s, local, fsync off)\n", static_cast<long long>(rows),
              pg.Query("SHOW server_version")[0].c_str());
  std::printf("%-44s %10s %12s %8s\n", "mode", "seconds", "rows/s", "ratio");
  const double copy_s = CopyBaseline(pg, rows);
  const double copy_rate = rows / copy_s;
  std::printf("%-44s %10.2f %12.0f %8s\n", "COPY, one statement (baseline)", copy_s, copy_rate,
              "1.00");
  if (count("orders") != rows) std::fprintf(stderr, "baseline: wrong row count\n");

  auto report = [&](const char* mode, double s, const char* table, int64_t want) {
    std::printf("%-44s %10.2f %12.0f %8.2f\n", mode, s, rows / s, rows / s / copy_rate);
    if (count(table) != want) {
      std::fprintf(stderr, "%s: %lld rows, want %lld\n", mode, static_cast<long long>(count(table)),
                   static_cast<long long>(want));
    }
  };
  pg.Execute("TRUNCATE orders");
  report("sink insert, at least once, cp/100k rows",
         RunSink(options("orders"), rows, 100000, std::chrono::milliseconds(0)), "orders", rows);
  pg.Execute("TRUNCATE orders");
  auto exactly = options("orders");
  exactly.guarantee = sluice::DeliveryGuarantee::kExactlyOnce;
  report("sink insert, exactly once, cp/1 s", RunSink(exactly, rows, 0, std::chrono::seconds(1)),
         "orders", rows);
  // The upsert's floor: the same 5,000-row upserts run inside the server from the rows the
  // baseline loaded (no client, no parsing of values), into the same keyed table.
  pg.Execute("CREATE INDEX orders_id ON orders (id)");
  const int64_t keys = std::min<int64_t>(rows, 100000);
  {
    const auto start = Clock::now();
    pqxx::connection c(pg.Url());
    pqxx::nontransaction tx(c);
    for (int64_t b = 0; b < rows; b += 5000) {
      tx.exec0("INSERT INTO orders_by_id SELECT id % " + std::to_string(keys) +
               ", customer, amount, note FROM orders WHERE id >= " + std::to_string(b) +
               " AND id < " + std::to_string(b + 5000) +
               " ON CONFLICT (id) DO UPDATE SET customer = EXCLUDED.customer, amount = "
               "EXCLUDED.amount, note = EXCLUDED.note");
    }
    report("upsert inside the server, 5,000-row batches", Seconds(start), "orders_by_id", keys);
  }
  pg.Execute("TRUNCATE orders_by_id");
  auto upsert = options("orders_by_id");
  upsert.key_columns = {"id"};
  report("sink upsert, at least once, 100k keys, cp/100k",
         RunSink(upsert, rows, 100000, std::chrono::milliseconds(0), keys), "orders_by_id", keys);
  return 0;
}
