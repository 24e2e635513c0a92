// Broadcast state: the graph (the broadcast input's edges broadcast into the operator's second
// input), the keyed operator driven as the host drives it — rules from the broadcast side read by
// the keyed side, ApplyToKeyedState over every key, timers — and the broadcast state through a
// snapshot of subtask 0 restored whole into every subtask of a new parallelism; the non-keyed
// operator; the bad descriptors.
#include <gtest/gtest.h>

#include <algorithm>
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

struct Payment {
  int64_t card = 0;
  std::string kind;
  int64_t amount = 0;
  SLUICE_FIELDS(card, kind, amount)
};

struct Rule {
  std::string kind;  // "reset": clear every card's count
  int64_t limit = 0;
  SLUICE_FIELDS(kind, limit)
};

const MapStateDescriptor<std::string, int64_t> kLimits("limits");
const ValueStateDescriptor<int64_t> kCount("count");

//! Counts a card's payments over its kind's limit; alerts on the second; a "reset" rule clears
//! every card's count; an event-time timer 100 ms after an alert writes a reminder.
class Fraud final : public KeyedBroadcastProcessFunction<int64_t, Payment, Rule, std::string> {
 public:
  void Open(ReadOnlyContext& ctx) override { count_ = ctx.GetState<int64_t>(kCount.name()); }
  void ProcessElement(const Payment& p, ReadOnlyContext& ctx,
                      Collector<std::string>& out) override {
    std::optional<int64_t> limit = ctx.GetBroadcastState(kLimits).Get(p.kind);
    if (!limit || p.amount <= *limit) return;
    int64_t n = count_.ValueOr(0) + 1;
    count_.Update(n);
    if (n == 2) {
      out.Collect("alert card " + std::to_string(ctx.CurrentKey()));
      ctx.TimerService().RegisterEventTimeTimer(*ctx.Timestamp() + 100);
    }
  }
  void ProcessBroadcastElement(const Rule& r, Context& ctx, Collector<std::string>& out) override {
    if (r.kind != "reset") {
      ctx.GetBroadcastState(kLimits).Put(r.kind, r.limit);
      return;
    }
    int cards = 0;
    ctx.ApplyToKeyedState(kCount, [&](const int64_t&, ValueState<int64_t>& count) {
      ++cards;
      count.Clear();
    });
    out.Collect("reset " + std::to_string(cards) + " cards");
  }
  void OnTimer(int64_t t, ReadOnlyContext& ctx, Collector<std::string>& out) override {
    out.Collect("reminder card " + std::to_string(ctx.CurrentKey()) + " at " + std::to_string(t));
  }

 private:
  ValueState<int64_t> count_;
};

std::vector<NodeSpec> FraudJob() {
  StreamEnvironment env({}, 2);
  auto payments = env.AddSource<Payment>(
      [] { return std::make_unique<testing::NoSource<Payment>>(); }, "Payments");
  auto rules =
      env.AddSource<Rule>([] { return std::make_unique<testing::NoSource<Rule>>(); }, "Rules");
  payments.KeyBy([](const Payment& p) { return p.card; })
      .Connect(rules.Broadcast(kLimits))
      .Process([] { return std::make_unique<Fraud>(); });
  env.Finalize();
  return env.nodes();
}

//! Subtask `index` of 2: input 0 is the (keyed) stream, input 1 the broadcast stream.
class Subtask : public testing::OperatorHarness<std::string> {
 public:
  Subtask(const NodeSpec& node, int index, const KeyedSnapshot* restore, bool in_backend)
      : OperatorHarness(node.factory, restore, in_backend, index, 2) {}
  template <typename T>
  void Add(const T& record, bool broadcast, int64_t ts = 0) {
    OperatorHarness::Add(record, ts, broadcast ? 1 : 0);
  }
};

TEST(BroadcastApiTest, TheBroadcastStreamFeedsTheSecondInputOfEverySubtask) {
  std::vector<NodeSpec> nodes = FraudJob();
  const NodeSpec& n = nodes[2];
  EXPECT_EQ(n.name, "Co-Process-Broadcast-Keyed");
  ASSERT_EQ(n.inputs.size(), 2u);
  EXPECT_EQ(n.inputs[0].kind, PartitionKind::kHash);
  EXPECT_EQ(n.inputs[0].input, 0);
  EXPECT_EQ(n.inputs[1].kind, PartitionKind::kBroadcast);
  EXPECT_EQ(n.inputs[1].input, 1);
}

class KeyedBroadcastTest : public ::testing::TestWithParam<bool> {};

TEST_P(KeyedBroadcastTest, RulesReachTheKeyedSideAndSurviveARescale) {
  const bool in_backend = GetParam();
  std::vector<NodeSpec> nodes = FraudJob();
  KeyedSnapshot snap0, snap1;
  {
    Subtask s0(nodes[2], 0, nullptr, in_backend);
    Subtask s1(nodes[2], 1, nullptr, in_backend);
    for (Subtask* s : {&s0, &s1}) {  // every subtask sees every rule
      s->Add(Rule{"card", 100}, true);
      s->Add(Rule{"cash", 50}, true);
    }
    s0.Add(Payment{1, "card", 150}, false, 10);
    s0.Add(Payment{1, "cash", 60}, false, 20);    // the second over a limit: an alert
    s0.Add(Payment{2, "card", 90}, false, 30);    // under
    s0.Add(Payment{3, "wire", 1000}, false, 40);  // no rule for wires
    s0.Add(Payment{2, "card", 101}, false, 50);
    EXPECT_EQ(s0.out.records, (std::vector<std::string>{"alert card 1"}));
    s0.Watermark(120);
    EXPECT_EQ(s0.out.records.back(), "reminder card 1 at 120");
    snap0 = s0.Take();
    snap1 = s1.Take();
  }
  EXPECT_EQ(snap0.operator_state.at("broadcast-state/limits").size(), 2u);
  EXPECT_EQ(snap1.operator_state.count("broadcast-state/limits"), 0u)
      << "only subtask 0 writes the broadcast state";

  // A new subtask with no keyed state of its own gets the rules whole.
  KeyedSnapshot only_rules;
  only_rules.operator_state = snap0.operator_state;
  Subtask fresh(nodes[2], 1, &only_rules, in_backend);
  fresh.Add(Payment{7, "cash", 51}, false, 60);
  fresh.Add(Payment{7, "cash", 51}, false, 61);
  EXPECT_EQ(fresh.out.records, (std::vector<std::string>{"alert card 7"}));

  // Subtask 0 restored: card 2 has one payment over the limit; a reset visits cards 1 and 2.
  Subtask again(nodes[2], 0, &snap0, in_backend);
  again.Add(Rule{"reset", 0}, true);
  EXPECT_EQ(again.out.records, (std::vector<std::string>{"reset 2 cards"}));
  again.Add(Payment{2, "card", 101}, false, 70);
  EXPECT_EQ(again.out.records.size(), 1u) << "card 2's count was cleared";
  again.Add(Payment{2, "card", 101}, false, 71);
  EXPECT_EQ(again.out.records.back(), "alert card 2");
  again.Add(Rule{"reset", 0}, true);
  EXPECT_EQ(again.out.records.back(), "reset 1 cards") << "only keys with a count are visited";
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyedBroadcastTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "backend" : "heap"; });

//! Non-keyed: words pass when the broadcast state allows them.
class Allow final : public BroadcastProcessFunction<std::string, std::string, std::string> {
 public:
  void ProcessElement(const std::string& w, ReadOnlyContext& ctx,
                      Collector<std::string>& out) override {
    if (ctx.GetBroadcastState(allowed_).Contains(w)) out.Collect(w);
  }
  void ProcessBroadcastElement(const std::string& w, Context& ctx,
                               Collector<std::string>&) override {
    ctx.GetBroadcastState(allowed_).Put(w, true);
  }

 private:
  MapStateDescriptor<std::string, bool> allowed_{"allowed"};
};

TEST(BroadcastProcessTest, TheNonKeyedSideReadsWhatTheBroadcastSideWrote) {
  StreamEnvironment env({}, 1);
  auto words = env.AddSource<std::string>(
      [] { return std::make_unique<testing::NoSource<std::string>>(); }, "Words");
  auto allowed = env.AddSource<std::string>(
      [] { return std::make_unique<testing::NoSource<std::string>>(); }, "Allowed");
  words.Connect(allowed.Broadcast(MapStateDescriptor<std::string, bool>("allowed"))).Process([] {
    return std::make_unique<Allow>();
  });
  env.Finalize();
  EXPECT_EQ(env.nodes()[2].name, "Co-Process-Broadcast");
  Subtask s(env.nodes()[2], 0, nullptr, false);
  s.Add(std::string("a"), false);
  s.Add(std::string("a"), true);
  s.Add(std::string("a"), false);
  s.Add(std::string("b"), false);
  EXPECT_EQ(s.out.records, (std::vector<std::string>{"a"}));
}

class Misread final : public BroadcastProcessFunction<std::string, std::string, std::string> {
 public:
  void ProcessElement(const std::string&, ReadOnlyContext& ctx, Collector<std::string>&) override {
    ctx.GetBroadcastState(MapStateDescriptor<std::string, int64_t>("allowed"));
  }
  void ProcessBroadcastElement(const std::string&, Context& ctx, Collector<std::string>&) override {
    ctx.GetBroadcastState(MapStateDescriptor<std::string, bool>("undeclared"));
  }
};

TEST(BroadcastProcessTest, BadDescriptorsAreRefusedWithTheirName) {
  StreamEnvironment env({}, 1);
  auto words = env.AddSource<std::string>(
      [] { return std::make_unique<testing::NoSource<std::string>>(); }, "Words");
  try {
    words.Broadcast(MapStateDescriptor<std::string, bool>("allowed"),
                    MapStateDescriptor<std::string, int64_t>("allowed"));
    FAIL() << "one name under two types was accepted";
  } catch (const JobDefinitionError& e) {
    EXPECT_NE(std::string(e.what()).find("'allowed' is declared twice"), std::string::npos)
        << e.what();
  }
  words.Connect(words.Broadcast(MapStateDescriptor<std::string, bool>("allowed"))).Process([] {
    return std::make_unique<Misread>();
  });
  env.Finalize();
  Subtask s(env.nodes()[1], 0, nullptr, false);
  try {
    s.Add(std::string("a"), false);
    FAIL() << "a state read under other types";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("with other key or value types"), std::string::npos)
        << e.what();
  }
  try {
    s.Add(std::string("a"), true);
    FAIL() << "an undeclared state was given";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("'undeclared' does not exist"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sluice
