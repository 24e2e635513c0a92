// Nexmark q16, channel statistics report: q15's counts per channel and day, and the day's latest
// minute ('HH:mm') with a bid. The result updates rows (final rows in output/final).
//   SELECT channel, DATE_FORMAT(dateTime, 'yyyy-MM-dd') AS day,
//          max(DATE_FORMAT(dateTime, 'HH:mm')) AS minute, count(*) AS total_bids, ... (as q15)
//   FROM bid GROUP BY channel, DATE_FORMAT(dateTime, 'yyyy-MM-dd');
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "bench/nexmark/day_stats.h"
#include "bench/nexmark/job.h"

namespace {

using sluice::nexmark::Bid;
using sluice::nexmark::DayCounts;
using Key = std::pair<std::string, std::string>;  // channel, day

struct ChannelDayBid {
  Key key;
  Bid bid;
  SLUICE_FIELDS(key, bid)
};

struct Stats {
  std::string minute;
  DayCounts counts;
  SLUICE_FIELDS(minute, counts)
};

class ChannelReport final : public sluice::KeyedProcessFunction<Key, ChannelDayBid, std::string> {
 public:
  void Open(sluice::KeyedContext<Key>& ctx) override {
    stats_ = ctx.GetState<Stats>("stats");
    bidders_ = ctx.GetMapState<int64_t, uint8_t>("bidder-bands");
    auctions_ = ctx.GetMapState<int64_t, uint8_t>("auction-bands");
  }
  void ProcessElement(const ChannelDayBid& in, sluice::KeyedContext<Key>& ctx,
                      sluice::Collector<std::string>& out) override {
    Stats s = stats_.ValueOr(Stats{});
    s.counts.Add(in.bid, bidders_, auctions_);
    std::string minute = sluice::nexmark::Minute(in.bid.dateTime);
    if (minute > s.minute) s.minute = std::move(minute);
    stats_.Update(s);
    out.Collect(Row(ctx.CurrentKey(), s));
  }
  void EndInput(sluice::KeyedContext<Key>& ctx, sluice::Collector<std::string>&) override {
    sluice::nexmark::WriteFinalRows(ctx, stats_, Row);
  }

 private:
  static std::string Row(const Key& key, const Stats& s) {
    std::string row = sluice::nexmark::Csv(key.first, key.second, s.minute);
    return row + "," + s.counts.Columns();
  }
  sluice::ValueState<Stats> stats_;
  sluice::MapState<int64_t, uint8_t> bidders_;
  sluice::MapState<int64_t, uint8_t> auctions_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q16");
  SinkUpdating(env, Bids(Events(env))
                        .Map(
                            [](const Bid& b) {
                              return ChannelDayBid{{b.channel, Day(b.dateTime)}, b};
                            },
                            "Channel and day")
                        .KeyBy([](const ChannelDayBid& d) { return d.key; })
                        .Process([] { return std::make_unique<ChannelReport>(); }, "Channel report")
                        .Uid("report"));
}
