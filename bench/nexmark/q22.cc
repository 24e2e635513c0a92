// Nexmark q22, url directories: each bid with the first three directories of its url.
//   SELECT auction, bidder, price, channel, SPLIT_INDEX(url, '/', 3) AS dir1,
//          SPLIT_INDEX(url, '/', 4) AS dir2, SPLIT_INDEX(url, '/', 5) AS dir3 FROM bid;
#include <string_view>

#include "bench/nexmark/job.h"

namespace {

//! SPLIT_INDEX(s, '/', index): the index-th '/'-separated token (empty tokens count); empty when
//! there is none (NULL, an empty CSV field).
std::string_view SplitIndex(std::string_view s, int index) {
  size_t begin = 0;
  for (int i = 0; i < index; ++i) {
    const size_t slash = s.find('/', begin);
    if (slash == std::string_view::npos) return {};
    begin = slash + 1;
  }
  const size_t end = s.find('/', begin);
  return s.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

}  // namespace

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
