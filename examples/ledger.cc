// ledger: the exactly-once probe. Transactions i (ids dealt over `splits` splits) move `amount`
// into `account`; keyed by account, state holds the balance; every transaction writes
// "id,account,amount,balance_after" to the file sink in `output`.
//   args: accounts (1000), transactions (0 = unbounded), splits (8), rate (per source subtask per
//         second, 0 = unlimited), sink_delay_us (0), output (directory; empty = discard)
#include <chrono>
#include <thread>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"

namespace {

struct Txn {
  int64_t id = 0;
  int64_t account = 0;
  int64_t amount = 0;
  SLUICE_FIELDS(id, account, amount)
};

class ApplyTxn final : public sluice::KeyedProcessFunction<int64_t, Txn, std::string> {
 public:
  void Open(sluice::KeyedContext<int64_t>& ctx) override {
    balance_ = ctx.GetState<int64_t>("balance");
  }
  void ProcessElement(const Txn& t, sluice::KeyedContext<int64_t>&,
                      sluice::Collector<std::string>& out) override {
    int64_t balance = balance_.ValueOr(0) + t.amount;
    balance_.Update(balance);
    line_.clear();
    line_ += std::to_string(t.id);
    line_ += ',';
    line_ += std::to_string(t.account);
    line_ += ',';
    line_ += std::to_string(t.amount);
    line_ += ',';
    line_ += std::to_string(balance);
    out.Collect(line_);
  }

 private:
  sluice::ValueState<int64_t> balance_;
  std::string line_;
};

//! Sleeps per record before handing it to the file sink (to provoke backpressure).
class SlowFileSink final : public sluice::FileSink<std::string> {
 public:
  SlowFileSink(std::string dir, int64_t delay_us) : FileSink(std::move(dir)), delay_us_(delay_us) {}
  void Process(const std::string& line) override {
    if (delay_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay_us_));
    FileSink::Process(line);
  }

 private:
  int64_t delay_us_;
};

}  // namespace

SLUICE_JOB(env) {
  env.SetJobName("ledger");
  int64_t accounts = env.IntArg("accounts", 1000);
  int64_t transactions = env.IntArg("transactions", 0);
  int64_t splits = env.IntArg("splits", 8);
  int64_t rate = env.IntArg("rate", 0);
  int64_t sink_delay_us = env.IntArg("sink_delay_us", 0);
  std::string output = env.Arg("output");
  int64_t max_parallelism = env.IntArg("max_parallelism", 0);
  if (max_parallelism < 0) throw sluice::JobDefinitionError("max_parallelism must be >= 0");
  if (max_parallelism > 0) env.SetMaxParallelism(static_cast<int>(max_parallelism));
  if (accounts <= 0) throw sluice::JobDefinitionError("accounts must be positive");
  if (transactions < 0) throw sluice::JobDefinitionError("transactions must be >= 0");
  if (splits <= 0) throw sluice::JobDefinitionError("splits must be positive");
  if (rate < 0 || sink_delay_us < 0)
    throw sluice::JobDefinitionError("rate and sink_delay_us must be >= 0");

  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(transactions);
  gen.splits = static_cast<uint32_t>(splits);
  gen.rate = static_cast<double>(rate);
  auto txns = sluice::AddGenerator(
                  env, gen,
                  [accounts](uint64_t i) {
                    int64_t id = static_cast<int64_t>(i);
                    return Txn{id, (id * 7919) % accounts, id % 1000 + 1};
                  },
                  "Transactions")
                  .Uid("transactions");
  auto lines = txns.KeyBy([](const Txn& t) { return t.account; })
                   .Process([] { return std::make_unique<ApplyTxn>(); }, "Apply")
                   .Uid("apply");
#ifdef SLUICE_LEDGER_V2
  // tests/ledger_v2.so, a "new version" of this package for the upgrade test: one more
  // (stateless) operator; the stateful ones keep their uids.
  lines = lines.Filter([](const std::string& line) { return !line.empty(); }, "Check v2")
              .Uid("v2-check");
#endif
  if (output.empty()) {
    lines.SinkTo(sluice::MakeDiscardingSink<std::string>(), "Discard").Uid("sink");
  } else {
    lines
        .SinkTo([output,
                 sink_delay_us] { return std::make_unique<SlowFileSink>(output, sink_delay_us); },
                "Ledger file sink")
        .Uid("sink");
  }
}
