// two_inputs: Connect end to end, in two modes.
//
// mode=ledger (the exactly-once probe with two inputs of different types): deposits i (ids 2i)
// and bonuses i (ids 2i+1) come from two generators, with the ledger example's account and
// amount for their id; connected and keyed by account, one balance per account takes both; every
// deposit and bonus writes "id,account,amount,balance_after" to the file sink in `output` — the
// ledger example's line, checked by tests/ledger_check.h. With ttl_ms, the balances are state with
// that time-to-live.
//   args: transactions (per input), accounts (100), rate (per source subtask per second), ttl_ms
//         (0: none), output
//
// mode=watermarks (a two-input operator's watermark is the minimum of both inputs'): a fast input
// of `count` records at times 10i registers an event-time timer at each record's time; a slow,
// rate-limited input of `count / 10` records at times 100i writes "slow <time>". Each timer writes
// "timer <time> wm <watermark>". With the minimum, a timer fires only after the slow input passed
// its time; with the fast input's watermark alone, all would fire before the slow input ends.
//   args: count (200), slow_rate (records per second), output
//
// mode=interval (an interval join): clicks i at times kBase + 10i and views j at kBase + 10j + 3,
// both of user (time / 100) % users, joined per user Between(-15 ms, 15 ms); every pair writes
// "click id,view id" to the file sink in `output`. tests/integration_two_inputs_test.cc computes
// the pairs from the same formula.
//   args: transactions (records per input), users (7), rate (per source subtask per second), output
//
// mode=broadcast (broadcast state): deposits i (ids i) make the ledger of mode=ledger, keyed by
// account; rules r = 0..rules-1 (value r + 1), one source subtask at rule_rate per second, are
// broadcast into the map state "rules". At the end of its input every subtask writes
// "rules <entries> <sum of values>" to the side output sink in `report`: each must hold every rule,
// whatever happened to the job meanwhile.
//   args: transactions, accounts (100), rate, rules (40), rule_rate (4), output, report
#include <chrono>
#include <string>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

struct Deposit {
  int64_t id = 0;
  int64_t account = 0;
  int64_t amount = 0;
  SLUICE_FIELDS(id, account, amount)
};

//! Another layout than Deposit's: a record read as the other input's type would not parse.
struct Bonus {
  std::string memo;
  int32_t points = 0;
  int64_t account = 0;
  int64_t seq = 0;
  SLUICE_FIELDS(memo, points, account, seq)
};

class Balance final : public sluice::KeyedCoProcessFunction<int64_t, Deposit, Bonus, std::string> {
 public:
  explicit Balance(int64_t ttl_ms) : ttl_ms_(ttl_ms) {}
  void Open(Context& ctx) override {
    if (ttl_ms_ <= 0) {
      balance_ = ctx.GetState<int64_t>("balance");
      return;
    }
    // Long enough never to expire here: the time-to-live's stored times go through every
    // snapshot, restore and rescale with the balances.
    balance_ = ctx.GetState<int64_t>(
        "balance", sluice::StateTtlConfig::NewBuilder(std::chrono::milliseconds(ttl_ms_))
                       .CleanupFullSnapshot()
                       .CleanupIncrementally(2, true)
                       .Build());
  }
  void ProcessElement1(const Deposit& d, Context& ctx,
                       sluice::Collector<std::string>& out) override {
    Apply(d.id, ctx.CurrentKey(), d.amount, out);
  }
  void ProcessElement2(const Bonus& b, Context& ctx, sluice::Collector<std::string>& out) override {
    if (b.memo != "bonus " + std::to_string(b.seq)) throw std::runtime_error("a bonus misread");
    Apply(2 * b.seq + 1, ctx.CurrentKey(), b.points, out);
  }

 private:
  void Apply(int64_t id, int64_t account, int64_t amount, sluice::Collector<std::string>& out) {
    int64_t balance = balance_.ValueOr(0) + amount;
    balance_.Update(balance);
    out.Collect(std::to_string(id) + "," + std::to_string(account) + "," + std::to_string(amount) +
                "," + std::to_string(balance));
  }
  int64_t ttl_ms_;
  sluice::ValueState<int64_t> balance_;
};

struct Tick {
  int64_t ts = 0;
  SLUICE_FIELDS(ts)
};

class TimersOnTheMinimum final
    : public sluice::KeyedCoProcessFunction<int64_t, Tick, Tick, std::string> {
 public:
  void ProcessElement1(const Tick& t, Context& ctx, sluice::Collector<std::string>&) override {
    ctx.TimerService().RegisterEventTimeTimer(t.ts);
  }
  void ProcessElement2(const Tick& t, Context&, sluice::Collector<std::string>& out) override {
    out.Collect("slow " + std::to_string(t.ts));
  }
  void OnTimer(int64_t timestamp, Context& ctx, sluice::Collector<std::string>& out) override {
    out.Collect("timer " + std::to_string(timestamp) + " wm " +
                std::to_string(ctx.TimerService().CurrentWatermark()));
  }
};

void Ledger(sluice::StreamEnvironment& env) {
  int64_t n = env.IntArg("transactions", 0);
  int64_t accounts = env.IntArg("accounts", 100);
  if (accounts <= 0) throw sluice::JobDefinitionError("accounts must be positive");
  const int64_t ttl_ms = env.IntArg("ttl_ms", 0);
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(n);
  gen.splits = 4;
  gen.rate = static_cast<double>(env.IntArg("rate", 0));
  auto deposits = sluice::AddGenerator(
                      env, gen,
                      [accounts](uint64_t i) {
                        auto id = 2 * static_cast<int64_t>(i);
                        return Deposit{id, (id * 7919) % accounts, id % 1000 + 1};
                      },
                      "Deposits")
                      .Uid("deposits");
  auto bonuses = sluice::AddGenerator(
                     env, gen,
                     [accounts](uint64_t i) {
                       auto k = static_cast<int64_t>(i);
                       int64_t id = 2 * k + 1;
                       return Bonus{"bonus " + std::to_string(k),
                                    static_cast<int32_t>(id % 1000 + 1), (id * 7919) % accounts, k};
                     },
                     "Bonuses")
                     .Uid("bonuses");
  deposits.Connect(bonuses)
      .KeyBy([](const Deposit& d) { return d.account; }, [](const Bonus& b) { return b.account; })
      .Process([ttl_ms] { return std::make_unique<Balance>(ttl_ms); }, "Balance")
      .Uid("balance")
      .SinkTo(sluice::MakeFileSink<std::string>(env.Arg("output")), "Ledger file sink")
      .Uid("sink");
}

struct Click {
  int64_t id = 0;
  int64_t user = 0;
  int64_t ts = 0;
  SLUICE_FIELDS(id, user, ts)
};

//! Another layout than Click's.
struct View {
  std::string page;
  int64_t ts = 0;
  int64_t user = 0;
  int64_t id = 0;
  SLUICE_FIELDS(page, ts, user, id)
};

class ClickView final : public sluice::ProcessJoinFunction<Click, View, std::string> {
 public:
  void ProcessElement(const Click& c, const View& v, Context& ctx,
                      sluice::Collector<std::string>& out) override {
    if (ctx.LeftTimestamp() != c.ts || ctx.RightTimestamp() != v.ts) {
      throw std::runtime_error("a joined pair lost its timestamps");
    }
    out.Collect(std::to_string(c.id) + "," + std::to_string(v.id));
  }
};

void Interval(sluice::StreamEnvironment& env) {
  constexpr int64_t kBase = 1700000000000;
  int64_t users = env.IntArg("users", 7);
  if (users <= 0) throw sluice::JobDefinitionError("users must be positive");
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(env.IntArg("transactions", 0));
  gen.splits = 4;
  gen.rate = static_cast<double>(env.IntArg("rate", 0));
  auto clicks =
      sluice::AddGenerator(
          env, gen,
          [users](uint64_t i) {
            int64_t ts = kBase + 10 * static_cast<int64_t>(i);
            return Click{static_cast<int64_t>(i), (ts / 100) % users, ts};
          },
          sluice::WatermarkStrategy<Click>::ForMonotonousTimestamps().WithTimestampAssigner(
              [](const Click& c) { return c.ts; }),
          "Clicks")
          .Uid("clicks");
  auto views = sluice::AddGenerator(
                   env, gen,
                   [users](uint64_t j) {
                     int64_t ts = kBase + 10 * static_cast<int64_t>(j) + 3;
                     return View{"page " + std::to_string(j), ts, (ts / 100) % users,
                                 static_cast<int64_t>(j)};
                   },
                   sluice::WatermarkStrategy<View>::ForMonotonousTimestamps().WithTimestampAssigner(
                       [](const View& v) { return v.ts; }),
                   "Views")
                   .Uid("views");
  clicks.KeyBy([](const Click& c) { return c.user; })
      .IntervalJoin(views.KeyBy([](const View& v) { return v.user; }))
      .Between(std::chrono::milliseconds(-15), std::chrono::milliseconds(15))
      .Process([] { return std::make_unique<ClickView>(); }, "Join")
      .Uid("join")
      .SinkTo(sluice::MakeFileSink<std::string>(env.Arg("output")), "Pairs")
      .Uid("sink");
}

struct RuleRecord {
  int64_t id = 0;
  int64_t value = 0;
  SLUICE_FIELDS(id, value)
};

const sluice::MapStateDescriptor<int64_t, int64_t> kRules("rules");
const sluice::OutputTag<std::string> kRulesReport("rules-report");

class LedgerWithRules final
    : public sluice::KeyedBroadcastProcessFunction<int64_t, Deposit, RuleRecord, std::string> {
 public:
  void Open(ReadOnlyContext& ctx) override { balance_ = ctx.GetState<int64_t>("balance"); }
  void ProcessElement(const Deposit& d, ReadOnlyContext& ctx,
                      sluice::Collector<std::string>& out) override {
    int64_t balance = balance_.ValueOr(0) + d.amount;
    balance_.Update(balance);
    out.Collect(std::to_string(d.id) + "," + std::to_string(ctx.CurrentKey()) + "," +
                std::to_string(d.amount) + "," + std::to_string(balance));
  }
  void ProcessBroadcastElement(const RuleRecord& r, Context& ctx,
                               sluice::Collector<std::string>&) override {
    ctx.GetBroadcastState(kRules).Put(r.id, r.value);
  }
  void EndInput(ReadOnlyContext& ctx, sluice::Collector<std::string>&) override {
    int64_t sum = 0;
    const auto& rules = ctx.GetBroadcastState(kRules).Entries();
    for (const auto& [id, value] : rules) sum += value;
    ctx.Output(kRulesReport, "rules " + std::to_string(rules.size()) + " " + std::to_string(sum));
  }

 private:
  sluice::ValueState<int64_t> balance_;
};

void Broadcast(sluice::StreamEnvironment& env) {
  int64_t accounts = env.IntArg("accounts", 100);
  if (accounts <= 0) throw sluice::JobDefinitionError("accounts must be positive");
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(env.IntArg("transactions", 0));
  gen.splits = 4;
  gen.rate = static_cast<double>(env.IntArg("rate", 0));
  auto deposits = sluice::AddGenerator(
                      env, gen,
                      [accounts](uint64_t i) {
                        auto id = static_cast<int64_t>(i);
                        return Deposit{id, (id * 7919) % accounts, id % 1000 + 1};
                      },
                      "Deposits")
                      .Uid("deposits");
  sluice::GeneratorOptions rule_gen;
  rule_gen.count = static_cast<uint64_t>(env.IntArg("rules", 40));
  rule_gen.splits = 1;
  rule_gen.rate = static_cast<double>(env.IntArg("rule_rate", 4));
  auto rules = sluice::AddGenerator(
                   env, rule_gen,
                   [](uint64_t r) {
                     return RuleRecord{static_cast<int64_t>(r), static_cast<int64_t>(r) + 1};
                   },
                   "Rules")
                   .Uid("rules")
                   .SetParallelism(1);
  auto lines = deposits.KeyBy([](const Deposit& d) { return d.account; })
                   .Connect(rules.Broadcast(kRules))
                   .Process([] { return std::make_unique<LedgerWithRules>(); }, "Ledger")
                   .Uid("ledger");
  lines.SinkTo(sluice::MakeFileSink<std::string>(env.Arg("output")), "Ledger file sink")
      .Uid("sink");
  lines.GetSideOutput(kRulesReport)
      .SinkTo(sluice::MakeFileSink<std::string>(env.Arg("report")), "Report")
      .Uid("report");
}

void Watermarks(sluice::StreamEnvironment& env) {
  int64_t count = env.IntArg("count", 200);
  sluice::GeneratorOptions fast;
  fast.count = static_cast<uint64_t>(count);
  fast.splits = 1;
  sluice::GeneratorOptions slow = fast;
  slow.count = static_cast<uint64_t>(count / 10);
  slow.rate = static_cast<double>(env.IntArg("slow_rate", 20));
  auto strategy = sluice::WatermarkStrategy<Tick>::ForMonotonousTimestamps().WithTimestampAssigner(
      [](const Tick& t) { return t.ts; });
  auto fast_ticks = sluice::AddGenerator(
      env, fast, [](uint64_t i) { return Tick{static_cast<int64_t>(i) * 10}; }, strategy, "Fast");
  auto slow_ticks = sluice::AddGenerator(
      env, slow, [](uint64_t i) { return Tick{static_cast<int64_t>(i) * 100}; }, strategy, "Slow");
  fast_ticks.Connect(slow_ticks)
      .KeyBy([](const Tick&) { return int64_t{0}; }, [](const Tick&) { return int64_t{0}; })
      .Process([] { return std::make_unique<TimersOnTheMinimum>(); }, "Timers")
      .SinkTo(sluice::MakeFileSink<std::string>(env.Arg("output")), "Sink");
}

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("two-inputs");
  std::string mode = env.Arg("mode");
  if (mode == "ledger") {
    Ledger(env);
  } else if (mode == "watermarks") {
    Watermarks(env);
  } else if (mode == "interval") {
    Interval(env);
  } else if (mode == "broadcast") {
    Broadcast(env);
  } else {
    throw sluice::JobDefinitionError(
        "mode must be ledger, watermarks, interval or broadcast, not '" + mode + "'");
  }
}
