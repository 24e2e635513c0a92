// Nexmark q5, hot items: per sliding window (10 s, every 2 s), the auctions with the most bids
// (ties included). Bids are counted per auction and window (the SDK's sliding windows, sliced
// into panes); each window's counts then meet in one subtask keyed by the window's end, which
// keeps the auctions at the maximum and writes them once the watermark has passed the window.
//   SELECT AuctionBids.auction, AuctionBids.num
//   FROM (SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
//         FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND,
//                        INTERVAL '10' SECOND))
//         GROUP BY auction, window_start, window_end) AS AuctionBids
//   JOIN (SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
//         FROM (... the same counts ...) AS CountBids
//         GROUP BY CountBids.starttime, CountBids.endtime) AS MaxBids
//   ON AuctionBids.starttime = MaxBids.starttime AND AuctionBids.endtime = MaxBids.endtime
//      AND AuctionBids.num >= MaxBids.maxn;
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bench/nexmark/window_counts.h"

namespace {

using sluice::nexmark::Bid;

struct AuctionCount {
  int64_t auction = 0;
  int64_t num = 0;
  int64_t window_end = 0;
  SLUICE_FIELDS(auction, num, window_end)
};

class WithWindow final
    : public sluice::ProcessWindowFunction<int64_t, AuctionCount, int64_t, sluice::TimeWindow> {
 public:
  void Process(const int64_t& auction, Context& ctx, const std::vector<int64_t>& counts,
               sluice::Collector<AuctionCount>& out) override {
    out.Collect(AuctionCount{auction, counts.at(0), ctx.Window().End()});
  }
};

//! Per window end: the auctions at the highest count so far; written when the window is done.
class Hottest final : public sluice::KeyedProcessFunction<int64_t, AuctionCount, std::string> {
 public:
  void Open(sluice::KeyedContext<int64_t>& ctx) override {
    max_ = ctx.GetState<int64_t>("max");
    at_max_ = ctx.GetListState<int64_t>("auctions");
  }
  void ProcessElement(const AuctionCount& c, sluice::KeyedContext<int64_t>& ctx,
                      sluice::Collector<std::string>&) override {
    // The counts of a window come before the watermark that passes its last millisecond.
    ctx.TimerService().RegisterEventTimeTimer(c.window_end - 1);
    const int64_t* max = max_.Get();
    if (max == nullptr || c.num > *max) {
      max_.Update(c.num);
      at_max_.Update({c.auction});
    } else if (c.num == *max) {
      at_max_.Add(c.auction);
    }
  }
  void OnTimer(int64_t, sluice::KeyedContext<int64_t>&,
               sluice::Collector<std::string>& out) override {
    if (const int64_t* max = max_.Get()) {
      for (int64_t auction : at_max_.Get()) out.Collect(sluice::nexmark::Csv(auction, *max));
    }
    max_.Clear();
    at_max_.Clear();
  }

 private:
  sluice::ValueState<int64_t> max_;
  sluice::ListState<int64_t> at_max_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q5");
  Sink(env, Bids(Events(env))
                .KeyBy([](const Bid& b) { return b.auction; })
                .Window(sluice::SlidingEventTimeWindows::Of(std::chrono::seconds(10),
                                                            std::chrono::seconds(2)))
                .Aggregate([] { return std::make_unique<CountBids>(); },
                           [] { return std::make_unique<WithWindow>(); }, "Bids per auction")
                .Uid("counts")
                .KeyBy([](const AuctionCount& c) { return c.window_end; })
                .Process([] { return std::make_unique<Hottest>(); }, "Hottest per window")
                .Uid("hottest"));
}
