// Nexmark q15, bidding statistics report per day: bids, distinct bidders and distinct auctions,
// in total and per price band (< 10,000, [10,000, 1,000,000), >= 1,000,000). The result updates
// rows: every bid writes its day's new row; at the end of the input every day's final row (in
// output/final). Per day, a map remembers the bands each bidder and auction has bid in.
//   SELECT DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS day, count(*) AS total_bids,
//          count(*) FILTER (WHERE price < 10000) AS rank1_bids, ... ,
//          count(DISTINCT bidder) AS total_bidders, ... , count(DISTINCT auction) ...
//   FROM bid GROUP BY DATE_FORMAT(dateTime, 'yyyy-MM-dd');
#include <memory>
#include <optional>
#include <string>

#include "bench/nexmark/day_stats.h"
#include "bench/nexmark/job.h"

namespace {

using sluice::nexmark::Bid;
using sluice::nexmark::DayCounts;

struct DayBid {
  std::string day;
  Bid bid;
  SLUICE_FIELDS(day, bid)
};

class DayReport final : public sluice::KeyedProcessFunction<std::string, DayBid, std::string> {
 public:
  void Open(sluice::KeyedContext<std::string>& ctx) override {
    counts_ = ctx.GetState<DayCounts>("counts");
    bidders_ = ctx.GetMapState<int64_t, uint8_t>("bidder-bands");
    auctions_ = ctx.GetMapState<int64_t, uint8_t>("auction-bands");
  }
  void ProcessElement(const DayBid& in, sluice::KeyedContext<std::string>& ctx,
                      sluice::Collector<std::string>& out) override {
    DayCounts c = counts_.ValueOr(DayCounts{});
    c.Add(in.bid, bidders_, auctions_);
    counts_.Update(c);
    out.Collect(Row(ctx.CurrentKey(), c));
  }
  void EndInput(sluice::KeyedContext<std::string>& ctx, sluice::Collector<std::string>&) override {
    sluice::nexmark::WriteFinalRows(ctx, counts_, Row);
  }

 private:
  static std::string Row(const std::string& day, const DayCounts& c) {
    return day + "," + c.Columns();
  }
  sluice::ValueState<DayCounts> counts_;
  sluice::MapState<int64_t, uint8_t> bidders_;
  sluice::MapState<int64_t, uint8_t> auctions_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q15");
  SinkUpdating(env, Bids(Events(env))
                        .Map(
                            [](const Bid& b) {
                              return DayBid{Day(b.dateTime), b};
                            },
                            "Day")
                        .KeyBy([](const DayBid& d) { return d.day; })
                        .Process([] { return std::make_unique<DayReport>(); }, "Day report")
                        .Uid("report"));
}
