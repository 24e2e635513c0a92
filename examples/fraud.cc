// fraud: the broadcast state pattern. Card transactions, keyed by card, are checked against
// spending limits per merchant category that a second stream of rules sets and changes while the
// job runs (broadcast state: every subtask sees every rule). A transaction over its category's
// limit flags its card for ten minutes of event time; a second one while flagged raises an alert;
// an event-time timer lifts the flag. A "reset" rule lifts every card's flag at once
// (ApplyToKeyedState). Output: "alert card <card>: <amount> <category> at <time> (<limit> allowed)"
// lines in `output`.
//   args: transactions (100000), cards (500), rate (per source subtask per second, 0: unlimited),
//         output (a directory; empty: print)
#include <chrono>
#include <string>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

constexpr int64_t kStart = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr int64_t kStepMs = 100;           // one transaction every 100 ms of event time
constexpr int64_t kFlagMs = 600000;        // ten minutes

const char* const kCategories[] = {"grocery", "travel", "electronics", "atm"};

struct Txn {
  int64_t id = 0;
  int64_t card = 0;
  std::string category;
  int64_t amount = 0;
  int64_t ts = 0;
  SLUICE_FIELDS(id, card, category, amount, ts)
};

struct Rule {
  std::string category;  // "reset": lift every flag
  int64_t limit = 0;
  SLUICE_FIELDS(category, limit)
};

Txn MakeTxn(uint64_t index, int64_t cards) {
  const auto i = static_cast<int64_t>(index);
  const int64_t h = (i * 2654435761) % 1000003;
  // Mostly small amounts; one in ten is large.
  const int64_t amount = h % 10 == 0 ? 500 + h % 3000 : 5 + h % 150;
  return Txn{i, (i * 7919) % cards, kCategories[h % 4], amount, kStart + i * kStepMs};
}

//! The rules in order: the first limits, a tighter ATM limit, a reset, looser travel.
Rule MakeRule(uint64_t r) {
  static const Rule kRules[] = {{"grocery", 300}, {"travel", 2500}, {"electronics", 1500},
                                {"atm", 1000},    {"atm", 600},     {"reset", 0},
                                {"travel", 3000}};
  return kRules[r];
}

const sluice::MapStateDescriptor<std::string, int64_t> kLimits("limits");
const sluice::ValueStateDescriptor<int64_t> kFlaggedUntil("flagged-until");

class Detect final : public sluice::KeyedBroadcastProcessFunction<int64_t, Txn, Rule, std::string> {
 public:
  void Open(ReadOnlyContext& ctx) override {
    flagged_until_ = ctx.GetState<int64_t>(kFlaggedUntil.name());
  }
  void ProcessElement(const Txn& t, ReadOnlyContext& ctx,
                      sluice::Collector<std::string>& out) override {
    std::optional<int64_t> limit = ctx.GetBroadcastState(kLimits).Get(t.category);
    if (!limit || t.amount <= *limit) return;
    if (const int64_t* until = flagged_until_.Get(); until && t.ts <= *until) {
      out.Collect("alert card " + std::to_string(t.card) + ": " + std::to_string(t.amount) + " " +
                  t.category + " at " + std::to_string(t.ts) + " (" + std::to_string(*limit) +
                  " allowed)");
      return;
    }
    flagged_until_.Update(t.ts + kFlagMs);
    ctx.TimerService().RegisterEventTimeTimer(t.ts + kFlagMs);
  }
  void ProcessBroadcastElement(const Rule& r, Context& ctx,
                               sluice::Collector<std::string>&) override {
    if (r.category == "reset") {
      ctx.ApplyToKeyedState(
          kFlaggedUntil, [](const int64_t&, sluice::ValueState<int64_t>& flag) { flag.Clear(); });
      return;
    }
    ctx.GetBroadcastState(kLimits).Put(r.category, r.limit);
  }
  void OnTimer(int64_t timestamp, ReadOnlyContext&, sluice::Collector<std::string>&) override {
    // A flag lifted by a reset, or set again later, is not this timer's.
    if (const int64_t* until = flagged_until_.Get(); until && *until == timestamp) {
      flagged_until_.Clear();
    }
  }

 private:
  sluice::ValueState<int64_t> flagged_until_;
};

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("fraud");
  const int64_t transactions = env.IntArg("transactions", 100000);
  const int64_t cards = env.IntArg("cards", 500);
  const int64_t rate = env.IntArg("rate", 0);
  const std::string output = env.Arg("output");
  if (transactions <= 0 || cards <= 0 || rate < 0) {
    throw sluice::JobDefinitionError("transactions and cards must be positive, rate >= 0");
  }
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(transactions);
  gen.splits = 4;
  gen.rate = static_cast<double>(rate);
  auto txns = sluice::AddGenerator(
                  env, gen, [cards](uint64_t i) { return MakeTxn(i, cards); },
                  sluice::WatermarkStrategy<Txn>::ForMonotonousTimestamps().WithTimestampAssigner(
                      [](const Txn& t) { return t.ts; }),
                  "Transactions")
                  .Uid("transactions");
  // Seven rule changes, one every half second of processing time, while transactions flow.
  sluice::GeneratorOptions rule_gen;
  rule_gen.count = 7;
  rule_gen.splits = 1;
  rule_gen.rate = 2;
  auto rules =
      sluice::AddGenerator(env, rule_gen, MakeRule, "Rules").Uid("rules").SetParallelism(1);
  auto alerts = txns.KeyBy([](const Txn& t) { return t.card; })
                    .Connect(rules.Broadcast(kLimits))
                    .Process([] { return std::make_unique<Detect>(); }, "Detect")
                    .Uid("detect");
  if (output.empty()) {
    alerts.SinkTo(sluice::MakePrintSink<std::string>(), "Alerts").Uid("alerts");
  } else {
    alerts.SinkTo(sluice::MakeFileSink<std::string>(output), "Alerts").Uid("alerts");
  }
}
