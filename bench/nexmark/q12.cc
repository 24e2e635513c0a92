// Nexmark q12, processing-time windows: per bidder, the bids of each 10-second window of the
// TaskManager's clock (so the results depend on when the bids are processed; not validated
// against a reference).
//   SELECT bidder, count(*) AS bid_count, window_start AS starttime, window_end AS endtime
//   FROM TABLE(TUMBLE(TABLE B, DESCRIPTOR(p_time), INTERVAL '10' SECOND))
//   GROUP BY bidder, window_start, window_end;   -- B: bid with PROCTIME() AS p_time
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bench/nexmark/job.h"

namespace {

using sluice::nexmark::Bid;

class Count final : public sluice::AggregateFunction<Bid, int64_t, int64_t> {
 public:
  int64_t CreateAccumulator() override { return 0; }
  int64_t Add(const Bid&, int64_t n) override { return n + 1; }
  int64_t GetResult(const int64_t& n) override { return n; }
  int64_t Merge(int64_t a, const int64_t& b) override { return a + b; }
};

class Format final
    : public sluice::ProcessWindowFunction<int64_t, std::string, int64_t, sluice::TimeWindow> {
 public:
  void Process(const int64_t& bidder, Context& ctx, const std::vector<int64_t>& counts,
               sluice::Collector<std::string>& out) override {
    out.Collect(
        sluice::nexmark::Csv(bidder, counts.at(0), ctx.Window().Start(), ctx.Window().End()));
  }
};

}  // namespace

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q12");
  Sink(env, Bids(Events(env))
                .KeyBy([](const Bid& b) { return b.bidder; })
                .Window(sluice::TumblingProcessingTimeWindows::Of(std::chrono::seconds(10)))
                .Aggregate([] { return std::make_unique<Count>(); },
                           [] { return std::make_unique<Format>(); }, "q12 windows")
                .Uid("windows"));
}
