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

namespace {

//! REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2): the first "channel_id=" at the start or
//! after a '&', up to the next '&'.
std::optional<std::string_view> ChannelIdParameter(std::string_view url) {
  constexpr std::string_view kKey = "channel_id=";
  for (size_t at = url.find(kKey); at != std::string_view::npos; at = url.find(kKey, at + 1)) {
    if (at != 0 && url[at - 1] != '&') continue;
    const size_t begin = at + kKey.size();
    const size_t end = url.find('&', begin);
    return url.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
  }
  return std::nullopt;
}

//! The hot channels' ids by lower(channel); empty for another channel.
std::string_view HotChannelId(std::string_view channel) {
  auto is = [&](std::string_view name) {
    if (channel.size() != name.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
      char c = channel[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != name[i]) return false;
    }
    return true;
  };
  if (is("apple")) return "0";
  if (is("google")) return "1";
  if (is("facebook")) return "2";
  if (is("baidu")) return "3";
  return {};
}

}  // namespace

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
