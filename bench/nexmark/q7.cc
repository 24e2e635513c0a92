// Nexmark q7, highest bid: the bids with the highest price of their 10-second window. The SQL
// joins every bid with the windows' maxima on the price, for bids timed within the window's 10
// seconds up to and including its end; here each window's subtask keeps only the bids at the
// window's current maximum, and a bid timed exactly at a window's end also competes, without
// counting towards the maximum, for the window before. As in the SQL, the columns are the
// SELECT's: auction, price, bidder, dateTime, extra.
//   SELECT B.auction, B.price, B.bidder, B.dateTime, B.extra
//   FROM bid B JOIN (SELECT MAX(price) AS maxprice, window_end AS dateTime
//                    FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
//                    GROUP BY window_start, window_end) B1
//   ON B.price = B1.maxprice
//   WHERE B.dateTime BETWEEN B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime;
#include <memory>
#include <string>

#include "bench/nexmark/job.h"

namespace {

using sluice::nexmark::Bid;

constexpr int64_t kWindowMs = 10000;

//! A bid for the window ending at `window_end`: one of its own (`counts`: towards the maximum),
//! or one timed exactly at its end.
struct ForWindow {
  int64_t window_end = 0;
  bool counts = true;
  Bid bid;
  SLUICE_FIELDS(window_end, counts, bid)
};

class HighestBids final : public sluice::KeyedProcessFunction<int64_t, ForWindow, std::string> {
 public:
  void Open(sluice::KeyedContext<int64_t>& ctx) override {
    max_ = ctx.GetState<int64_t>("max");
    at_max_ = ctx.GetListState<Bid>("at-max");
    at_end_ = ctx.GetListState<Bid>("at-end");
  }
  void ProcessElement(const ForWindow& in, sluice::KeyedContext<int64_t>& ctx,
                      sluice::Collector<std::string>&) override {
    if (in.window_end <= ctx.TimerService().CurrentWatermark()) return;  // late: its window fired
    ctx.TimerService().RegisterEventTimeTimer(in.window_end);
    if (!in.counts) {
      at_end_.Add(in.bid);
      return;
    }
    const int64_t* max = max_.Get();
    if (max == nullptr || in.bid.price > *max) {
      max_.Update(in.bid.price);
      at_max_.Update({in.bid});
    } else if (in.bid.price == *max) {
      at_max_.Add(in.bid);
    }
  }
  void OnTimer(int64_t, sluice::KeyedContext<int64_t>&,
               sluice::Collector<std::string>& out) override {
    if (const int64_t* max = max_.Get()) {
      auto emit = [&](const Bid& b) {
        out.Collect(sluice::nexmark::Csv(b.auction, b.price, b.bidder, b.dateTime, b.extra));
      };
      for (const Bid& b : at_max_.Get()) emit(b);
      for (const Bid& b : at_end_.Get()) {
        if (b.price == *max) emit(b);
      }
    }
    max_.Clear();
    at_max_.Clear();
    at_end_.Clear();
  }

 private:
  sluice::ValueState<int64_t> max_;
  sluice::ListState<Bid> at_max_;
  sluice::ListState<Bid> at_end_;
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q7");
  Sink(env, Bids(Events(env))
                .FlatMap(
                    [](const Bid& b, sluice::Collector<ForWindow>& out) {
                      const int64_t end = (b.dateTime / kWindowMs + 1) * kWindowMs;
                      out.Collect(ForWindow{end, true, b});
                      if (b.dateTime % kWindowMs == 0) out.Collect(ForWindow{b.dateTime, false, b});
                    },
                    "To windows")
                .KeyBy([](const ForWindow& f) { return f.window_end; })
                .Process([] { return std::make_unique<HighestBids>(); }, "Highest bids")
                .Uid("highest"));
}
