// Nexmark q21, add channel id: the hot channels get ids 0-3, the others the channel_id parameter
// of their url; bids with neither are left out.
//   SELECT auction, bidder, price, channel,
//          CASE WHEN lower(channel) = 'apple' THEN '0' WHEN lower(channel) = 'google' THEN '1'
//               WHEN lower(channel) = 'facebook' THEN '2' WHEN lower(channel) = 'baidu' THEN '3'
//               ELSE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) END AS channel_id
//   FROM bid WHERE REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) IS NOT NULL
//               OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu');
#include <optional>
#include <string>
#include <string_view>

#include "bench/nexmark/job.h"
#include "bench/nexmark/url_parts.h"

SLUICE_JOB(env) {
  using namespace sluice::nexmark;
  env.SetJobName("nexmark-q21");
  Sink(env, Bids(Events(env))
                .FlatMap(
                    [](const Bid& b, sluice::Collector<std::string>& out) {
                      std::string_view id = HotChannelId(b.channel);
                      if (id.empty()) {
                        const std::optional<std::string_view> parameter = ChannelIdParameter(b.url);
                        if (!parameter) return;
                        id = *parameter;
                      }
                      out.Collect(Csv(b.auction, b.bidder, b.price, b.channel, id));
                    },
                    "q21"));
}
