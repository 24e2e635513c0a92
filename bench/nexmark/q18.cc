// Nexmark q18, last bid: per bidder and auction, the bid with the latest time (deduplication
// keeping the last row; a later bid at the same time replaces it, then by price). The result
// updates rows: every change is written, and at the end of the input every pair's final row (in
// output/final).
//   SELECT auction, bidder, price, channel, url, dateTime, extra
//   FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime DESC)
//                     AS rank_number FROM bid)
//   WHERE rank_number <= 1;
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "bench/nexmark/job.h"

namespace {

using sluice::nexmark::Bid;
using Key = std::pair<int64_t, int64_t>;  // bidder, auction

//! Whether `a` is later than `b` (ties by price, then extra, so that results can be compared).
bool Later(const Bid& a, const Bid& b) {
  if (a.dateTime != b.dateTime) return a.dateTime > b.dateTime;
  if (a.price != b.price) return a.price > b.price;
  return a.extra > b.extra;
}

class LastBid final : public sluice::KeyedProcessFunction<Key, Bid, std::string> {
 public:
  void Open(sluice::KeyedContext<Key>& ctx) override { last_ = ctx.GetState<Bid>("last"); }
  void ProcessElement(const Bid& b, sluice::KeyedContext<Key>&,
                      sluice::Collector<std::string>& out) override {
    const Bid* last = last_.Get();
    if (last != nullptr && !Later(b, *last)) return;
    last_.Update(b);
    out.Collect(sluice::nexmark::BidColumns(b));
  }
  void EndInput(sluice::KeyedContext<Key>& ctx, sluice::Collector<std::string>&) override {
    sluice::nexmark::WriteFinalRows(
        ctx, last_, [](const Key&, const Bid& b) { return sluice::nexmark::BidColumns(b); });
  }

 private:
  sluice::ValueState<Bid> last_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q18");
  SinkUpdating(env, Bids(Events(env))
                        .KeyBy([](const Bid& b) {
                          return Key{b.bidder, b.auction};
                        })
                        .Process([] { return std::make_unique<LastBid>(); }, "Last bid")
                        .Uid("last"));
}
