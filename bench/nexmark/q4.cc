// Nexmark q4, average price for a category: the average of the auctions' winning (highest) bids
// per category, counting the bids timed within their auction's [dateTime, expires]. The SQL's
// result updates rows: per auction, each new highest bid replaces the auction's old one in its
// category's sum (an integer average, as AVG of BIGINT); every change of a category's average is
// written, and at the end of the input the final average of every category (in output/final).
//   SELECT Q.category, AVG(Q.final)
//   FROM (SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
//         WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
//         GROUP BY A.id, A.category) Q
//   GROUP BY Q.category;
#include <memory>
#include <optional>
#include <string>

#include "bench/nexmark/job_streams.h"

namespace {

using sluice::nexmark::Auction;
using sluice::nexmark::Bid;

struct Window {
  int64_t start = 0, expires = 0, category = 0;
  SLUICE_FIELDS(start, expires, category)
};

struct PricedAt {
  int64_t price = 0, time = 0;
  SLUICE_FIELDS(price, time)
};

//! An auction's winning price changed from `old_price` (none when `first`) to `price`.
struct Change {
  int64_t category = 0;
  bool first = true;
  int64_t old_price = 0;
  int64_t price = 0;
  SLUICE_FIELDS(category, first, old_price, price)
};

//! Per auction: its highest bid within its time, as changes.
class Winning final : public sluice::KeyedCoProcessFunction<int64_t, Bid, Auction, Change> {
 public:
  void Open(Context& ctx) override {
    window_ = ctx.GetState<Window>("auction");
    max_ = ctx.GetState<int64_t>("max");
    waiting_ = ctx.GetListState<PricedAt>("bids");
  }
  void ProcessElement1(const Bid& b, Context&, sluice::Collector<Change>& out) override {
    if (const Window* w = window_.Get()) {
      Offer(*w, b.price, b.dateTime, out);
    } else {
      waiting_.Add(PricedAt{b.price, b.dateTime});
    }
  }
  void ProcessElement2(const Auction& a, Context&, sluice::Collector<Change>& out) override {
    const Window w{a.dateTime, a.expires, a.category};
    window_.Update(w);
    for (const PricedAt& p : waiting_.Get()) Offer(w, p.price, p.time, out);
    waiting_.Clear();
  }

 private:
  void Offer(const Window& w, int64_t price, int64_t time, sluice::Collector<Change>& out) {
    if (time < w.start || time > w.expires) return;
    const int64_t* max = max_.Get();
    if (max != nullptr && price <= *max) return;
    out.Collect(Change{w.category, max == nullptr, max ? *max : 0, price});
    max_.Update(price);
  }

  sluice::ValueState<Window> window_;
  sluice::ValueState<int64_t> max_;
  sluice::ListState<PricedAt> waiting_;
};

struct SumCount {
  int64_t sum = 0, count = 0;
  SLUICE_FIELDS(sum, count)
};

//! Per category: the average of its auctions' winning prices.
class Average final : public sluice::KeyedProcessFunction<int64_t, Change, std::string> {
 public:
  void Open(sluice::KeyedContext<int64_t>& ctx) override {
    total_ = ctx.GetState<SumCount>("sum-count");
  }
  void ProcessElement(const Change& c, sluice::KeyedContext<int64_t>& ctx,
                      sluice::Collector<std::string>& out) override {
    SumCount t = total_.ValueOr(SumCount{});
    if (c.first) {
      t.sum += c.price;
      ++t.count;
    } else {
      t.sum += c.price - c.old_price;
    }
    total_.Update(t);
    out.Collect(Row(ctx.CurrentKey(), t));
  }
  void EndInput(sluice::KeyedContext<int64_t>& ctx, sluice::Collector<std::string>&) override {
    sluice::nexmark::WriteFinalRows(ctx, total_, Row);
  }

 private:
  static std::string Row(int64_t category, const SumCount& t) {
    return sluice::nexmark::Csv(category, t.sum / t.count);
  }
  sluice::ValueState<SumCount> total_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q4");
  auto events = Events(env);
  SinkUpdating(
      env, Bids(events)
               .Connect(Auctions(events))
               .KeyBy([](const Bid& b) { return b.auction; }, [](const Auction& a) { return a.id; })
               .Process([] { return std::make_unique<Winning>(); }, "Winning bids")
               .Uid("winning")
               .KeyBy([](const Change& c) { return c.category; })
               .Process([] { return std::make_unique<Average>(); }, "Average per category")
               .Uid("average"));
}
