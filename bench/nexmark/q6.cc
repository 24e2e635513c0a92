// Nexmark q6, average selling price by seller: for each seller, the average price of their last
// ten closed auctions (and the one closing now) whenever one of their auctions closes. Flink
// cannot run the SQL below (its OVER aggregation cannot take the updating winning bids), so this
// follows Nexmark's definition: an auction closes when the watermark passes its `expires`, selling
// at its highest bid within [dateTime, expires] (auctions without one sell nothing); per seller,
// closed auctions are taken in the order of their `expires` (then id), and each writes the
// seller's integer average over the current and up to 10 preceding sales.
//   SELECT Q.seller, AVG(Q.price) OVER
//            (PARTITION BY Q.seller ORDER BY Q.dateTime ROWS BETWEEN 10 PRECEDING AND CURRENT ROW)
//   FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY A.id, A.seller ORDER BY B.price DESC)
//                     AS rownum
//         FROM (SELECT A.id, A.seller, B.price, B.dateTime FROM auction AS A, bid AS B
//               WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires)
//         WHERE rownum <= 1) AS Q;
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "bench/nexmark/job_streams.h"

namespace {

using sluice::nexmark::Auction;
using sluice::nexmark::Bid;

constexpr size_t kLastSales = 11;  // the current one and 10 preceding

struct OpenAuction {
  int64_t seller = 0, start = 0, expires = 0;
  SLUICE_FIELDS(seller, start, expires)
};

struct PricedAt {
  int64_t price = 0, time = 0;
  SLUICE_FIELDS(price, time)
};

//! A closed auction that sold.
struct Sale {
  int64_t seller = 0, expires = 0, auction = 0, price = 0;
  SLUICE_FIELDS(seller, expires, auction, price)
};

//! Per auction: its highest bid within its time, written as a sale when it closes.
class Close final : public sluice::KeyedCoProcessFunction<int64_t, Bid, Auction, Sale> {
 public:
  void Open(Context& ctx) override {
    auction_ = ctx.GetState<OpenAuction>("auction");
    max_ = ctx.GetState<int64_t>("max");
    closed_ = ctx.GetState<bool>("closed");
    waiting_ = ctx.GetListState<PricedAt>("bids");
  }
  void ProcessElement1(const Bid& b, Context&, sluice::Collector<Sale>&) override {
    if (const OpenAuction* a = auction_.Get()) {
      Offer(*a, b.price, b.dateTime);
    } else if (!closed_.ValueOr(false)) {
      waiting_.Add(PricedAt{b.price, b.dateTime});
    }
  }
  void ProcessElement2(const Auction& a, Context& ctx, sluice::Collector<Sale>&) override {
    const OpenAuction open{a.seller, a.dateTime, a.expires};
    auction_.Update(open);
    for (const PricedAt& p : waiting_.Get()) Offer(open, p.price, p.time);
    waiting_.Clear();
    ctx.TimerService().RegisterEventTimeTimer(a.expires);
  }
  void OnTimer(int64_t, Context& ctx, sluice::Collector<Sale>& out) override {
    const OpenAuction* a = auction_.Get();
    const int64_t* max = max_.Get();
    if (a != nullptr && max != nullptr)
      out.Collect(Sale{a->seller, a->expires, ctx.CurrentKey(), *max});
    auction_.Clear();
    max_.Clear();
    closed_.Update(true);  // later bids are past its end
  }

 private:
  void Offer(const OpenAuction& a, int64_t price, int64_t time) {
    if (time < a.start || time > a.expires) return;
    if (const int64_t* max = max_.Get(); max == nullptr || price > *max) max_.Update(price);
  }

  sluice::ValueState<OpenAuction> auction_;
  sluice::ValueState<int64_t> max_;
  sluice::ValueState<bool> closed_;
  sluice::ListState<PricedAt> waiting_;
};

//! Per seller: sales in the order of their auctions' ends, each with the average of the last 11.
class AveragePrice final : public sluice::KeyedProcessFunction<int64_t, Sale, std::string> {
 public:
  void Open(sluice::KeyedContext<int64_t>& ctx) override {
    pending_ = ctx.GetListState<Sale>("pending");
    last_ = ctx.GetListState<int64_t>("last-prices");
  }
  void ProcessElement(const Sale& s, sluice::KeyedContext<int64_t>& ctx,
                      sluice::Collector<std::string>&) override {
    // Every sale ending at s.expires has come once the watermark passes it.
    pending_.Add(s);
    ctx.TimerService().RegisterEventTimeTimer(s.expires);
  }
  void OnTimer(int64_t time, sluice::KeyedContext<int64_t>& ctx,
               sluice::Collector<std::string>& out) override {
    std::vector<Sale> pending = pending_.Get();
    std::sort(pending.begin(), pending.end(), [](const Sale& a, const Sale& b) {
      return a.expires != b.expires ? a.expires < b.expires : a.auction < b.auction;
    });
    std::vector<int64_t> last = last_.Get();
    std::vector<Sale> later;
    for (const Sale& s : pending) {
      if (s.expires > time) {
        later.push_back(s);
        continue;
      }
      last.push_back(s.price);
      if (last.size() > kLastSales) last.erase(last.begin());
      int64_t sum = 0;
      for (int64_t p : last) sum += p;
      out.Collect(sluice::nexmark::Csv(ctx.CurrentKey(), sum / static_cast<int64_t>(last.size())));
    }
    last_.Update(std::move(last));
    if (later.empty()) {
      pending_.Clear();
    } else {
      pending_.Update(std::move(later));
    }
  }

 private:
  sluice::ListState<Sale> pending_;
  sluice::ListState<int64_t> last_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q6");
  auto events = Events(env);
  Sink(env,
       Bids(events)
           .Connect(Auctions(events))
           .KeyBy([](const Bid& b) { return b.auction; }, [](const Auction& a) { return a.id; })
           .Process([] { return std::make_unique<Close>(); }, "Closed auctions")
           .Uid("close")
           .KeyBy([](const Sale& s) { return s.seller; })
           .Process([] { return std::make_unique<AveragePrice>(); }, "Average per seller")
           .Uid("average"));
}
