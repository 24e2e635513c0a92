// Nexmark q11, user sessions: per bidder, the bids of each session (bids at most 10 s apart: as
// in Flink, session windows that touch merge), with the session's start (its first bid) and end
// (its last bid + 10 s).
//   SELECT B.bidder, count(*) AS bid_count,
//          SESSION_START(B.dateTime, INTERVAL '10' SECOND) AS starttime,
//          SESSION_END(B.dateTime, INTERVAL '10' SECOND) AS endtime
//   FROM bid B GROUP BY B.bidder, SESSION(B.dateTime, INTERVAL '10' SECOND);
#include <chrono>
#include <memory>

#include "bench/nexmark/window_counts.h"

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q11");
  Sink(env, Bids(Events(env))
                .KeyBy([](const Bid& b) { return b.bidder; })
                .Window(sluice::EventTimeSessionWindows::WithGap(std::chrono::seconds(10)))
                .Aggregate([] { return std::make_unique<CountBids>(); },
                           [] { return std::make_unique<CountRow>(); }, "q11 sessions")
                .Uid("sessions"));
}
