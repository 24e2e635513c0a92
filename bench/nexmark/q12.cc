// Nexmark q12, processing-time windows: per bidder, the bids of each 10-second window of the
// TaskManager's clock (so the results depend on when the bids are processed; not validated
// against a reference).
//   SELECT bidder, count(*) AS bid_count, window_start AS starttime, window_end AS endtime
//   FROM TABLE(TUMBLE(TABLE B, DESCRIPTOR(p_time), INTERVAL '10' SECOND))
//   GROUP BY bidder, window_start, window_end;   -- B: bid with PROCTIME() AS p_time
#include <chrono>
#include <memory>

#include "bench/nexmark/window_counts.h"

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q12");
  Sink(env, Bids(Events(env))
                .KeyBy([](const Bid& b) { return b.bidder; })
                .Window(sluice::TumblingProcessingTimeWindows::Of(std::chrono::seconds(10)))
                .Aggregate([] { return std::make_unique<CountBids>(); },
                           [] { return std::make_unique<CountRow>(); }, "q12 windows")
                .Uid("windows"));
}
