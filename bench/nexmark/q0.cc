// Nexmark q0, pass through: every bid as auction, bidder, price, dateTime, extra.
//   SELECT auction, bidder, price, dateTime, extra FROM bid;
#include "bench/nexmark/job.h"

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q0");
  Sink(env,
       Bids(Events(env))
           .Map([](const Bid& b) { return Csv(b.auction, b.bidder, b.price, b.dateTime, b.extra); },
                "q0"));
}
