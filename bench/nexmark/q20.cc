// Nexmark q20, expand bid with auction: every bid of a category-10 auction with its auction's
// fields. A regular (unbounded) inner join on the auction id: a bid that comes before its auction
// waits in state; once the auction came, its bids join at once (or are dropped, for another
// category).
//   SELECT auction, bidder, price, channel, url, B.dateTime, B.extra, itemName, description,
//          initialBid, reserve, A.dateTime, expires, seller, category, A.extra
//   FROM bid AS B INNER JOIN auction AS A ON B.auction = A.id WHERE A.category = 10;
#include <memory>
#include <string>

#include "bench/nexmark/job_streams.h"

namespace {

using sluice::nexmark::Auction;
using sluice::nexmark::Bid;
using sluice::nexmark::Csv;

std::string Line(const Bid& b, const Auction& a) {
  return Csv(b.auction, b.bidder, b.price, b.channel, b.url, b.dateTime, b.extra, a.itemName,
             a.description, a.initialBid, a.reserve, a.dateTime, a.expires, a.seller, a.category,
             a.extra);
}

class Join final : public sluice::KeyedCoProcessFunction<int64_t, Bid, Auction, std::string> {
 public:
  void Open(Context& ctx) override {
    auction_ = ctx.GetState<Auction>("auction");
    other_category_ = ctx.GetState<bool>("other-category");
    waiting_ = ctx.GetListState<Bid>("bids");
  }
  void ProcessElement1(const Bid& b, Context&, sluice::Collector<std::string>& out) override {
    if (const Auction* a = auction_.Get()) {
      out.Collect(Line(b, *a));
    } else if (!other_category_.ValueOr(false)) {
      waiting_.Add(b);
    }
  }
  void ProcessElement2(const Auction& a, Context&, sluice::Collector<std::string>& out) override {
    if (a.category != 10) {
      other_category_.Update(true);
    } else {
      for (const Bid& b : waiting_.Get()) out.Collect(Line(b, a));
      auction_.Update(a);
    }
    waiting_.Clear();
  }

 private:
  sluice::ValueState<Auction> auction_;
  sluice::ValueState<bool> other_category_;
  sluice::ListState<Bid> waiting_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q20");
  auto events = Events(env);
  Sink(env,
       Bids(events)
           .Connect(Auctions(events))
           .KeyBy([](const Bid& b) { return b.auction; }, [](const Auction& a) { return a.id; })
           .Process([] { return std::make_unique<Join>(); }, "q20 join")
           .Uid("join"));
}
