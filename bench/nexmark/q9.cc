// Nexmark q9, winning bids: each auction with its highest bid within [dateTime, expires]
// (ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.dateTime ASC) = 1; later ties
// by bidder). The result updates rows: a new winning bid replaces the auction's row; every change
// is written, and at the end of the input every auction's final row (in output/final).
//   SELECT id, itemName, description, initialBid, reserve, dateTime, expires, seller, category,
//          extra, auction, bidder, price, bid_dateTime, bid_extra
//   FROM (SELECT A.*, B.auction, B.bidder, B.price, B.dateTime AS bid_dateTime,
//                B.extra AS bid_extra,
//                ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.dateTime ASC)
//                  AS rownum
//         FROM auction A, bid B
//         WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires)
//   WHERE rownum <= 1;
#include <memory>
#include <optional>
#include <string>

#include "bench/nexmark/job_streams.h"

namespace {

using sluice::nexmark::Auction;
using sluice::nexmark::Bid;

std::string Row(const Auction& a, const Bid& b) {
  return sluice::nexmark::Csv(a.id, a.itemName, a.description, a.initialBid, a.reserve, a.dateTime,
                              a.expires, a.seller, a.category, a.extra, b.auction, b.bidder,
                              b.price, b.dateTime, b.extra);
}

class Winner final : public sluice::KeyedCoProcessFunction<int64_t, Bid, Auction, std::string> {
 public:
  void Open(Context& ctx) override {
    auction_ = ctx.GetState<Auction>("auction");
    best_ = ctx.GetState<Bid>("best");
    waiting_ = ctx.GetListState<Bid>("bids");
  }
  void ProcessElement1(const Bid& b, Context&, sluice::Collector<std::string>& out) override {
    if (const Auction* a = auction_.Get()) {
      Offer(*a, b, out);
    } else {
      waiting_.Add(b);
    }
  }
  void ProcessElement2(const Auction& a, Context&, sluice::Collector<std::string>& out) override {
    auction_.Update(a);
    for (const Bid& b : waiting_.Get()) Offer(a, b, out);
    waiting_.Clear();
  }
  void EndInput(Context& ctx, sluice::Collector<std::string>&) override {
    sluice::nexmark::WriteFinalRows(ctx, [&](int64_t) -> std::optional<std::string> {
      const Auction* a = auction_.Get();
      const Bid* b = best_.Get();
      return a && b ? std::optional(Row(*a, *b)) : std::nullopt;
    });
  }

 private:
  void Offer(const Auction& a, const Bid& b, sluice::Collector<std::string>& out) {
    if (b.dateTime < a.dateTime || b.dateTime > a.expires) return;
    const Bid* best = best_.Get();
    if (best != nullptr && !sluice::nexmark::HigherBid(b, *best)) return;
    best_.Update(b);
    out.Collect(Row(a, b));
  }

  sluice::ValueState<Auction> auction_;
  sluice::ValueState<Bid> best_;
  sluice::ListState<Bid> waiting_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q9");
  auto events = Events(env);
  SinkUpdating(
      env, Bids(events)
               .Connect(Auctions(events))
               .KeyBy([](const Bid& b) { return b.auction; }, [](const Auction& a) { return a.id; })
               .Process([] { return std::make_unique<Winner>(); }, "Winning bids")
               .Uid("winning"));
}
