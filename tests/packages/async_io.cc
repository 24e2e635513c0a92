// async_io: async I/O end to end. Deposits i (ids i, account (7919 i) % accounts) come from a
// generator without their amounts; an AsyncFunction looks each amount up in a simulated slow
// service (sluice/testing/delayed_service.h: i % 1000 + 1, answered on the service's thread after
// a pseudo-random 0..max_delay_us), at most `capacity` requests in flight; keyed by account, one
// balance per account takes the enriched deposits and writes the ledger example's line
// "id,account,amount,balance_after" to the file sink in `output`, checked by tests/ledger_check.h.
// A deposit that reached the ledger without its looked-up amount fails the job.
//   args: transactions, accounts (100), rate (per source subtask per second), order (ordered |
//         unordered), capacity (20), max_delay_us (3000), output
#include "sluice/async_io.h"

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "sluice/connectors/generator.h"
#include "sluice/connectors/sinks.h"
#include "sluice/sluice.h"
#include "sluice/testing/delayed_service.h"

namespace {

struct Deposit {
  int64_t id = 0;
  int64_t account = 0;
  int64_t amount = 0;  // 0 until looked up
  SLUICE_FIELDS(id, account, amount)
};

class LookUpAmount final : public sluice::AsyncFunction<Deposit, Deposit> {
 public:
  explicit LookUpAmount(int64_t max_delay_us) : max_delay_us_(max_delay_us) {}
  LookUpAmount(const LookUpAmount& other) : max_delay_us_(other.max_delay_us_) {}
  void Open(sluice::RuntimeContext&) override { service_.Start(); }
  void AsyncInvoke(const Deposit& d, sluice::ResultFuture<Deposit> result) override {
    const auto delay = std::chrono::microseconds(
        max_delay_us_ > 0 ? (d.id * 2654435761LL) % (max_delay_us_ + 1) : 0);
    service_.Submit(delay, [d, result]() mutable {
      Deposit enriched = d;
      enriched.amount = d.id % 1000 + 1;
      result.Complete({enriched});
    });
  }
  void Close() override { service_.Stop(); }

 private:
  int64_t max_delay_us_;
  sluice::testing::DelayedService service_;
};

class Balance final : public sluice::KeyedProcessFunction<int64_t, Deposit, std::string> {
 public:
  void Open(sluice::KeyedContext<int64_t>& ctx) override {
    balance_ = ctx.GetState<int64_t>("balance");
  }
  void ProcessElement(const Deposit& d, sluice::KeyedContext<int64_t>&,
                      sluice::Collector<std::string>& out) override {
    if (d.amount != d.id % 1000 + 1) {
      throw std::runtime_error("deposit " + std::to_string(d.id) + " without its amount");
    }
    int64_t balance = balance_.ValueOr(0) + d.amount;
    balance_.Update(balance);
    out.Collect(std::to_string(d.id) + "," + std::to_string(d.account) + "," +
                std::to_string(d.amount) + "," + std::to_string(balance));
  }

 private:
  sluice::ValueState<int64_t> balance_;
};

}  // namespace

SLUICE_JOB(env) {
  const int64_t accounts = env.IntArg("accounts", 100);
  if (accounts <= 0) throw sluice::JobDefinitionError("accounts must be positive");
  const std::string order = env.Arg("order", "unordered");
  if (order != "ordered" && order != "unordered") {
    throw sluice::JobDefinitionError("order must be ordered or unordered, not '" + order + "'");
  }
  const auto capacity = static_cast<int>(env.IntArg("capacity", 20));
  const int64_t max_delay_us = env.IntArg("max_delay_us", 3000);
  sluice::GeneratorOptions gen;
  gen.count = static_cast<uint64_t>(env.IntArg("transactions", 0));
  gen.splits = 4;
  gen.rate = static_cast<double>(env.IntArg("rate", 0));
  auto deposits = sluice::AddGenerator(
                      env, gen,
                      [accounts](uint64_t i) {
                        auto id = static_cast<int64_t>(i);
                        return Deposit{id, (id * 7919) % accounts, 0};
                      },
                      "Deposits")
                      .Uid("deposits");
  LookUpAmount lookup(max_delay_us);
  auto enriched =
      order == "ordered"
          ? sluice::AsyncDataStream::OrderedWait(deposits, lookup, std::chrono::seconds(30),
                                                 capacity, "Look up amounts")
          : sluice::AsyncDataStream::UnorderedWait(deposits, lookup, std::chrono::seconds(30),
                                                   capacity, "Look up amounts");
  enriched.Uid("lookup")
      .KeyBy([](const Deposit& d) { return d.account; })
      .Process([] { return std::make_unique<Balance>(); }, "Balance")
      .Uid("balance")
      .SinkTo(sluice::MakeFileSink<std::string>(env.Arg("output")), "Ledger file sink")
      .Uid("sink");
}
