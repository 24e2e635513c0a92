// Nexmark q22, url directories: each bid with the first three directories of its url.
//   SELECT auction, bidder, price, channel, SPLIT_INDEX(url, '/', 3) AS dir1,
//          SPLIT_INDEX(url, '/', 4) AS dir2, SPLIT_INDEX(url, '/', 5) AS dir3 FROM bid;
#include <string_view>

#include "bench/nexmark/job.h"
#include "bench/nexmark/url_parts.h"

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q22");
  Sink(env, Bids(Events(env))
                .Map(
                    [](const Bid& b) {
                      return Csv(b.auction, b.bidder, b.price, b.channel, SplitIndex(b.url, 3),
                                 SplitIndex(b.url, 4), SplitIndex(b.url, 5));
                    },
                    "q22"));
}
