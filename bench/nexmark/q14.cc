// Nexmark q14, calculation: bids priced between 1,000,000 and 50,000,000 euros (0.908 * price,
// exact), with the hour of their time classified and the 'c's of their extra counted.
//   SELECT auction, bidder, 0.908 * price AS price,
//          CASE WHEN HOUR(dateTime) >= 8 AND HOUR(dateTime) <= 18 THEN 'dayTime'
//               WHEN HOUR(dateTime) <= 6 OR HOUR(dateTime) >= 20 THEN 'nightTime'
//               ELSE 'otherTime' END AS bidTimeType,
//          dateTime, extra, count_char(extra, 'c') AS c_counts
//   FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
#include <algorithm>

#include "bench/nexmark/job.h"

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q14");
  Sink(env, Bids(Events(env))
                .Filter(
                    [](const Bid& b) {
                      const int64_t euros_milli = 908 * b.price;  // thousandths of a euro
                      return euros_milli > 1000000000 && euros_milli < 50000000000;
                    },
                    "Price between")
                .Map(
                    [](const Bid& b) {
                      const int64_t hour = (b.dateTime / 3600000) % 24;  // UTC
                      const char* type = hour >= 8 && hour <= 18   ? "dayTime"
                                         : hour <= 6 || hour >= 20 ? "nightTime"
                                                                   : "otherTime";
                      const auto c_counts =
                          static_cast<int64_t>(std::count(b.extra.begin(), b.extra.end(), 'c'));
                      return Csv(b.auction, b.bidder, Milli{908 * b.price}, type, b.dateTime,
                                 b.extra, c_counts);
                    },
                    "q14"));
}
