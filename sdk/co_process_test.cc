// Two inputs (Connect): the graph the API builds (which edge feeds which input, how KeyBy
// partitions each side) and the co-process operators driven as the host drives them — serialized
// records of the first input through ProcessSerialized, of the second through ProcessSerialized2,
// timers fired before the watermark reaches the operator — with keyed state on the heap and in a
// backend, through a snapshot and a restore.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/sluice.h"
#include "sluice/testing/fake_keyed_host.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice {
namespace {

using testing::KeyedSnapshot;

struct Customer {
  int64_t id = 0;
  std::string name;
  SLUICE_FIELDS(id, name)
};

struct Order {
  int64_t customer = 0;
  int64_t amount = 0;
  SLUICE_FIELDS(customer, amount)
};

template <typename T>
DataStream<T> AddSource(StreamEnvironment& env, const std::string& name) {
  return env.AddSource<T>([] { return std::make_unique<testing::NoSource<T>>(); }, name);
}

template <typename T>
std::vector<uint8_t> Bytes(const T& v) {
  ByteWriter w;
  SerializeRecord(v, w);
  return std::vector<uint8_t>(w.data(), w.data() + w.size());
}

using CapturingOutput = testing::CapturingOutput<std::string>;

//! Tags each record with its input, and its timestamp and the watermark it saw.
class Tagger final : public CoProcessFunction<Customer, Order, std::string> {
 public:
  void ProcessElement1(const Customer& c, Context& ctx, Collector<std::string>& out) override {
    out.Collect("1:" + c.name + "@" + std::to_string(ctx.Timestamp().value_or(-1)));
  }
  void ProcessElement2(const Order& o, Context& ctx, Collector<std::string>& out) override {
    out.Collect("2:" + std::to_string(o.amount) + " wm " +
                std::to_string(ctx.TimerService().CurrentWatermark()));
  }
  void EndInput(Context&, Collector<std::string>& out) override { out.Collect("end"); }
};

//! Orders enriched with their customer's latest name; orders that come before their customer
//! wait in list state, and an event-time timer at the order's time + 10 reports those still
//! waiting then.
class Enrich final : public KeyedCoProcessFunction<int64_t, Customer, Order, std::string> {
 public:
  void Open(Context& ctx) override {
    name_ = ctx.GetState<std::string>("name");
    waiting_ = ctx.GetListState<int64_t>("waiting");
  }
  void ProcessElement1(const Customer& c, Context& ctx, Collector<std::string>& out) override {
    name_.Update(c.name);
    for (int64_t amount : waiting_.Get()) Emit(ctx, amount, out);
    waiting_.Clear();
  }
  void ProcessElement2(const Order& o, Context& ctx, Collector<std::string>& out) override {
    if (name_.Get()) {
      Emit(ctx, o.amount, out);
      return;
    }
    waiting_.Add(o.amount);
    ctx.TimerService().RegisterEventTimeTimer(*ctx.Timestamp() + 10);
  }
  void OnTimer(int64_t t, Context& ctx, Collector<std::string>& out) override {
    for (int64_t amount : waiting_.Get()) {
      out.Collect("unknown customer " + std::to_string(ctx.CurrentKey()) + ": " +
                  std::to_string(amount) + " at " + std::to_string(t));
    }
    waiting_.Clear();
  }

 private:
  void Emit(Context& ctx, int64_t amount, Collector<std::string>& out) {
    out.Collect(*name_.Get() + ":" + std::to_string(amount) + " (key " +
                std::to_string(ctx.CurrentKey()) + ")");
  }
  ValueState<std::string> name_;
  ListState<int64_t> waiting_;
};

TEST(ConnectTest, TheNodeReadsTheFirstStreamAsInputZeroAndTheSecondAsInputOne) {
  StreamEnvironment env({}, 2);
  auto customers = AddSource<Customer>(env, "Customers");
  auto orders = AddSource<Order>(env, "Orders");
  auto more = AddSource<Order>(env, "More orders");
  auto out =
      customers.Connect(orders.Union(more)).Process([] { return std::make_unique<Tagger>(); });
  out.Name("Tag");
  env.Finalize();
  const NodeSpec& n = env.nodes()[3];
  EXPECT_EQ(n.name, "Tag");
  ASSERT_EQ(n.inputs.size(), 3u);
  EXPECT_EQ(n.inputs[0].source_id, 0u);
  EXPECT_EQ(n.inputs[0].input, 0);
  EXPECT_EQ(n.inputs[1].source_id, 1u);
  EXPECT_EQ(n.inputs[1].input, 1);
  EXPECT_EQ(n.inputs[2].source_id, 2u);
  EXPECT_EQ(n.inputs[2].input, 1);
  EXPECT_NE(n.inputs[0].kind, PartitionKind::kHash);
}

TEST(ConnectTest, KeyByPartitionsEachInputByItsOwnKey) {
  StreamEnvironment env({}, 2);
  auto customers = AddSource<Customer>(env, "Customers");
  auto orders = AddSource<Order>(env, "Orders");
  customers.Connect(orders)
      .KeyBy([](const Customer& c) { return c.id; }, [](const Order& o) { return o.customer; })
      .Process([] { return std::make_unique<Enrich>(); });
  env.Finalize();
  const NodeSpec& n = env.nodes()[2];
  EXPECT_EQ(n.name, "Co-Keyed-Process");
  ASSERT_EQ(n.inputs.size(), 2u);
  for (const EdgeSpec& e : n.inputs) EXPECT_EQ(e.kind, PartitionKind::kHash);
  Customer c{7, "ann"};
  Order o{7, 100};
  EXPECT_EQ(n.inputs[0].key_hash(&c), KeyHash(int64_t{7}));
  EXPECT_EQ(n.inputs[1].key_hash(&o), KeyHash(int64_t{7}));
}

TEST(CoProcessOperatorTest, EachInputReachesItsOwnMethodWithTimestampAndWatermark) {
  StreamEnvironment env({}, 1);
  auto customers = AddSource<Customer>(env, "Customers");
  auto orders = AddSource<Order>(env, "Orders");
  customers.Connect(orders).Process([] { return std::make_unique<Tagger>(); });
  env.Finalize();
  testing::FakeRuntimeContext rt;
  CapturingOutput out(&rt);
  std::unique_ptr<StreamOperator> op = env.nodes()[2].factory();
  op->Open(rt, out);
  rt.timestamp = 5;
  auto c = Bytes(Customer{1, "ann"});
  op->ProcessSerialized(c.data(), c.size());
  op->ProcessWatermark(4);
  auto o = Bytes(Order{1, 30});
  op->ProcessSerialized2(o.data(), o.size());
  op->EndInput();
  EXPECT_EQ(out.records, (std::vector<std::string>{"1:ann@5", "2:30 wm 4", "end"}));
  EXPECT_EQ(out.watermarks, (std::vector<int64_t>{4}));
}

std::function<std::unique_ptr<StreamOperator>()> EnrichFactory() {
  StreamEnvironment env({}, 1);
  auto customers = AddSource<Customer>(env, "Customers");
  auto orders = AddSource<Order>(env, "Orders");
  customers.Connect(orders)
      .KeyBy([](const Customer& c) { return c.id; }, [](const Order& o) { return o.customer; })
      .Process([] { return std::make_unique<Enrich>(); });
  env.Finalize();
  return env.nodes()[2].factory;
}

//! The keyed co-process operator with its host.
class KeyedHarness : public testing::OperatorHarness<std::string> {
 public:
  explicit KeyedHarness(const KeyedSnapshot* restore = nullptr, bool in_backend = false)
      : OperatorHarness(EnrichFactory(), restore, in_backend) {}
  void Customer1(int64_t id, const std::string& name, int64_t ts) {
    Add(Customer{id, name}, ts, /*input=*/0);
  }
  void Order2(int64_t customer, int64_t amount, int64_t ts) {
    Add(Order{customer, amount}, ts, /*input=*/1);
  }
};

class KeyedCoProcessTest : public ::testing::TestWithParam<bool> {};

TEST_P(KeyedCoProcessTest, StateAndTimersAreScopedToTheKeyEitherInputSets) {
  const bool in_backend = GetParam();
  KeyedSnapshot snap;
  {
    KeyedHarness h(nullptr, in_backend);
    h.Order2(1, 10, 100);  // before its customer: waits
    h.Order2(2, 20, 101);  // customer 2 never comes
    h.Customer1(1, "ann", 102);
    h.Order2(1, 11, 103);
    EXPECT_EQ(h.out.records, (std::vector<std::string>{"ann:10 (key 1)", "ann:11 (key 1)"}));
    snap = h.Take();
  }
  // Restored elsewhere: the name of customer 1, the waiting order of 2 and its timer come along.
  KeyedHarness h(&snap, in_backend);
  h.Order2(1, 12, 104);
  h.Watermark(110);  // customer 2's timer is at 111
  EXPECT_EQ(h.out.records, (std::vector<std::string>{"ann:12 (key 1)"}));
  h.Watermark(111);
  ASSERT_EQ(h.out.records.size(), 2u);
  EXPECT_EQ(h.out.records[1], "unknown customer 2: 20 at 111");
  EXPECT_EQ(h.out.timestamps[1], 111) << "an event-time timer's output carries its time";
  EXPECT_EQ(h.out.watermarks, (std::vector<int64_t>{110, 111}));
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyedCoProcessTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "backend" : "heap"; });

}  // namespace
}  // namespace sluice
