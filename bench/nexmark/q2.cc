// Nexmark q2, selection: the bids of every 123rd auction.
//   SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
#include "bench/nexmark/job.h"

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q2");
  Sink(env, Bids(Events(env))
                .Filter([](const Bid& b) { return b.auction % 123 == 0; }, "MOD(auction, 123) = 0")
                .Map([](const Bid& b) { return Csv(b.auction, b.price); }, "q2"));
}
