// shop_revenue: orders in event time, revenue per product category per 10 s tumbling window,
// written to PostgreSQL exactly once. A generator makes the orders (order i at `start + i *
// step_ms`, up to `disorder_ms` out of order, categories in turn, amounts from 1.00 to 99.99);
// watermarks allow `disorder_ms` of disorder. Each window's result is upserted into table
// `category_revenue` (category, window_start, window_end, orders, revenue) by (category,
// window_start), through the PostgreSQL sink's two-phase commit: rows appear when the checkpoint
// that covers them completes.
//   args: url (a libpq connection string, required), orders (30000), step_ms (10),
//         disorder_ms (2000), rate (0: unlimited), splits (4)
//   The table (make demo creates it):
//     CREATE TABLE category_revenue (category text, window_start timestamptz,
//       window_end timestamptz, orders bigint, revenue numeric(12,2),
//       PRIMARY KEY (category, window_start));
#include <chrono>
#include <ctime>
#include <string>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/kafka_source.h"
#include "sluice/connectors/postgres_sink.h"
#include "sluice/sluice.h"

namespace {

struct Order {
  int64_t id = 0;
  std::string category;
  int64_t cents = 0;
  int64_t ts = 0;
  SLUICE_FIELDS(id, category, cents, ts)
};

struct Revenue {
  int64_t orders = 0;
  int64_t cents = 0;
  SLUICE_FIELDS(orders, cents)
};

//! A row of category_revenue: times as ISO-8601 text, revenue as a decimal, as PostgreSQL reads
//! them.
struct CategoryRevenue {
  std::string category;
  std::string window_start;
  std::string window_end;
  int64_t orders = 0;
  std::string revenue;
  SLUICE_FIELDS(category, window_start, window_end, orders, revenue)
};

constexpr int64_t kStart = 1767225600000;  // 2026-01-01T00:00:00Z
const char* const kCategories[] = {"books", "garden", "kitchen", "music", "toys"};

Order MakeOrder(uint64_t index, int64_t step_ms, int64_t disorder_ms) {
  const int64_t i = static_cast<int64_t>(index);
  Order o;
  o.id = i;
  o.category = kCategories[i % 5];
  o.cents = 100 + (i * 7919) % 9900;
  o.ts = kStart + i * step_ms;
  if (disorder_ms > 0) o.ts -= (i * 104729) % (disorder_ms + 1);
  return o;
}

std::string IsoTime(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

class SumOrders final : public sluice::AggregateFunction<Order, Revenue, Revenue> {
 public:
  Revenue CreateAccumulator() override { return {}; }
  Revenue Add(const Order& o, Revenue r) override {
    return Revenue{r.orders + 1, r.cents + o.cents};
  }
  Revenue GetResult(const Revenue& r) override { return r; }
  Revenue Merge(Revenue a, const Revenue& b) override {
    return Revenue{a.orders + b.orders, a.cents + b.cents};
  }
};

class ToRow final : public sluice::ProcessWindowFunction<Revenue, CategoryRevenue, std::string,
                                                         sluice::TimeWindow> {
 public:
  void Process(const std::string& category, Context& ctx, const std::vector<Revenue>& results,
               sluice::Collector<CategoryRevenue>& out) override {
    const Revenue& r = results.at(0);
    const std::string cents = std::to_string(r.cents % 100);
    out.Collect(CategoryRevenue{
        category, IsoTime(ctx.Window().Start()), IsoTime(ctx.Window().End()), r.orders,
        std::to_string(r.cents / 100) + "." + (cents.size() < 2 ? "0" : "") + cents});
  }
};

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("shop-revenue");
  const int64_t orders = env.IntArg("orders", 30000);
  const int64_t step_ms = env.IntArg("step_ms", 10);
  const int64_t disorder_ms = env.IntArg("disorder_ms", 2000);
  const int64_t rate = env.IntArg("rate", 0);
  const int64_t splits = env.IntArg("splits", 4);
  if (orders < 0 || step_ms <= 0 || disorder_ms < 0 || rate < 0 || splits <= 0) {
    throw sluice::JobDefinitionError(
        "orders, disorder_ms and rate must be >= 0; step_ms and splits > 0");
  }
  const auto strategy = sluice::WatermarkStrategy<Order>::ForBoundedOutOfOrderness(
                            std::chrono::milliseconds(disorder_ms))
                            .WithTimestampAssigner([](const Order& o) { return o.ts; });
  auto stream = [&] {
    if (env.HasArg("kafka")) {
      sluice::KafkaSourceOptions<Order> kafka;
      kafka.bootstrap_servers = env.Arg("kafka");
      kafka.topics = {env.Arg("topic", "orders")};
      kafka.deserializer = sluice::KafkaJsonDeserializer<Order>();
      if (env.Arg("bounded", "true") == "true")
        kafka.bounded = sluice::OffsetsInitializer::Latest();
      return sluice::AddKafkaSource(env, kafka, strategy, "Orders (Kafka)");
    }
    sluice::GeneratorOptions gen;
    gen.count = static_cast<uint64_t>(orders);
    gen.splits = static_cast<uint32_t>(splits);
    gen.rate = static_cast<double>(rate);
    return sluice::AddGenerator(
        env, gen, [step_ms, disorder_ms](uint64_t i) { return MakeOrder(i, step_ms, disorder_ms); },
        strategy, "Orders");
  }();
  stream.Uid("orders");

  sluice::PostgresSinkOptions<CategoryRevenue> sink;
  sink.url = env.RequiredArg("url");
  sink.table = "category_revenue";
  sink.key_columns = {"category", "window_start"};
  sink.guarantee = sluice::DeliveryGuarantee::kExactlyOnce;
  stream.KeyBy([](const Order& o) { return o.category; })
      .Window(sluice::TumblingEventTimeWindows::Of(std::chrono::seconds(10)))
      .Aggregate([] { return std::make_unique<SumOrders>(); },
                 [] { return std::make_unique<ToRow>(); }, "Revenue per 10 s")
      .Uid("revenue")
      .SinkTo(sluice::MakePostgresSink(sink), "PostgreSQL")
      .Uid("postgres");
}
