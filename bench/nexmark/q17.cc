// Nexmark q17, auction statistics report: per auction and day, its bids in total and per price
// band, and the lowest, highest, average (integer) and total price. The result updates rows:
// every bid writes its row's new values; final rows in output/final.
//   SELECT auction, DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS day, count(*) AS total_bids,
//          count(*) FILTER (WHERE price < 10000) AS rank1_bids, ... ,
//          min(price) AS min_price, max(price) AS max_price, avg(price) AS avg_price,
//          sum(price) AS sum_price
//   FROM bid GROUP BY auction, DATE_FORMAT(dateTime, 'yyyy-MM-dd');
#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "bench/nexmark/day_stats.h"
#include "bench/nexmark/job.h"

namespace {

using sluice::nexmark::Bid;
using Key = std::pair<int64_t, std::string>;  // auction, day

struct KeyedPrice {
  Key key;
  int64_t price = 0;
  SLUICE_FIELDS(key, price)
};

struct Stats {
  int64_t bids = 0;
  std::array<int64_t, 3> bands{};
  int64_t min = 0, max = 0, sum = 0;
  SLUICE_FIELDS(bids, bands, min, max, sum)
};

class AuctionReport final : public sluice::KeyedProcessFunction<Key, KeyedPrice, std::string> {
 public:
  void Open(sluice::KeyedContext<Key>& ctx) override { stats_ = ctx.GetState<Stats>("stats"); }
  void ProcessElement(const KeyedPrice& in, sluice::KeyedContext<Key>& ctx,
                      sluice::Collector<std::string>& out) override {
    Stats s = stats_.ValueOr(Stats{});
    s.min = s.bids == 0 ? in.price : std::min(s.min, in.price);
    s.max = s.bids == 0 ? in.price : std::max(s.max, in.price);
    ++s.bids;
    ++s.bands[static_cast<size_t>(sluice::nexmark::Band(in.price))];
    s.sum += in.price;
    stats_.Update(s);
    out.Collect(Row(ctx.CurrentKey(), s));
  }
  void EndInput(sluice::KeyedContext<Key>& ctx, sluice::Collector<std::string>&) override {
    sluice::nexmark::WriteFinalRows(ctx, stats_, Row);
  }

 private:
  static std::string Row(const Key& key, const Stats& s) {
    return sluice::nexmark::Csv(key.first, key.second, s.bids, s.bands[0], s.bands[1], s.bands[2],
                                s.min, s.max, s.sum / s.bids, s.sum);
  }
  sluice::ValueState<Stats> stats_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q17");
  SinkUpdating(env, Bids(Events(env))
                        .Map(
                            [](const Bid& b) {
                              return KeyedPrice{{b.auction, Day(b.dateTime)}, b.price};
                            },
                            "Auction and day")
                        .KeyBy([](const KeyedPrice& k) { return k.key; })
                        .Process([] { return std::make_unique<AuctionReport>(); }, "Auction report")
                        .Uid("report"));
}
