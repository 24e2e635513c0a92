// Nexmark q1, currency conversion: every bid's price in euros (0.908 * price, DECIMAL(23, 3)).
//   SELECT auction, bidder, 0.908 * price as price, dateTime, extra FROM bid;
#include "bench/nexmark/job.h"

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q1");
  Sink(env, Bids(Events(env))
                .Map(
                    [](const Bid& b) {
                      return Csv(b.auction, b.bidder, Milli{908 * b.price}, b.dateTime, b.extra);
                    },
                    "q1"));
}
