// The stateless Nexmark queries as hand-written loops (nexmark_loops.cc): q0, q1, q2, q10, q13,
// q14, q21, q22. Each computes its query package's lines (bench/nexmark/qN.cc) bid by bid.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/nexmark/day_stats.h"
#include "bench/nexmark/loops_common.h"

namespace sluice::nexmark::loops {

//! q0, pass through.
inline void Q0(const Run& run, Sink& out) {
  ForEachBid(run, [&](const Bid& b) {
    out.Write(Csv(b.auction, b.bidder, b.price, b.dateTime, b.extra));
  });
}

//! q1, currency conversion: the price in euros, exact to the thousandth.
inline void Q1(const Run& run, Sink& out) {
  ForEachBid(run, [&](const Bid& b) {
    out.Write(Csv(b.auction, b.bidder, Milli{908 * b.price}, b.dateTime, b.extra));
  });
}

//! q2, selection: the bids of every 123rd auction.
inline void Q2(const Run& run, Sink& out) {
  ForEachBid(run, [&](const Bid& b) {
    if (b.auction % 123 == 0) out.Write(Csv(b.auction, b.price));
  });
}

//! q10, log to a partitioned file system: every bid's line and its partition directory
//! "dt=yyyy-MM-dd/hm=HH:mm" (computed once per minute, as the package's bucket assigner does);
//! no files are written.
inline void Q10(const Run& run, Sink& out) {
  int64_t minute = -1;
  std::string bucket;
  ForEachBid(run, [&](const Bid& b) {
    const int64_t m = b.dateTime / 60000 - (b.dateTime % 60000 < 0);
    if (m != minute) {
      minute = m;
      bucket = "dt=" + Day(b.dateTime) + "/hm=" + Minute(b.dateTime);
    }
    DoNotOptimize(bucket.data());
    out.Write(Csv(b.auction, b.bidder, b.price, b.dateTime, b.extra));
  });
}

//! q13, bounded side input join: Nexmark's generated side input i -> "i", i in [0, 10000).
inline void Q13(const Run& run, Sink& out) {
  std::vector<std::string> side(10000);
  for (size_t i = 0; i < side.size(); ++i) side[i] = std::to_string(i);
  ForEachBid(run, [&](const Bid& b) {
    const int64_t key = b.auction % 10000;
    if (key < 0) return;  // no value
    out.Write(Csv(b.auction, b.bidder, b.price, b.dateTime, side[static_cast<size_t>(key)]));
  });
}

//! q14, calculation: bids between 1,000,000 and 50,000,000 euros, their hour classified and the
//! 'c's of their extra counted.
inline void Q14(const Run& run, Sink& out) {
  ForEachBid(run, [&](const Bid& b) {
    const int64_t euros_milli = 908 * b.price;
    if (!(euros_milli > 1000000000 && euros_milli < 50000000000)) return;
    const int64_t hour = (b.dateTime / 3600000) % 24;
    const char* type = hour >= 8 && hour <= 18   ? "dayTime"
                       : hour <= 6 || hour >= 20 ? "nightTime"
                                                 : "otherTime";
    const auto c_counts = static_cast<int64_t>(std::count(b.extra.begin(), b.extra.end(), 'c'));
    out.Write(Csv(b.auction, b.bidder, Milli{908 * b.price}, type, b.dateTime, b.extra, c_counts));
  });
}

//! q21's REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2), as the package finds it.
inline std::optional<std::string_view> ChannelIdParameter(std::string_view url) {
  constexpr std::string_view kKey = "channel_id=";
  for (size_t at = url.find(kKey); at != std::string_view::npos; at = url.find(kKey, at + 1)) {
    if (at != 0 && url[at - 1] != '&') continue;
    const size_t begin = at + kKey.size();
    const size_t end = url.find('&', begin);
    return url.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
  }
  return std::nullopt;
}

//! q21's ids of the hot channels by lower(channel); empty for another channel.
inline std::string_view HotChannelId(std::string_view channel) {
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

//! q21, add channel id.
inline void Q21(const Run& run, Sink& out) {
  ForEachBid(run, [&](const Bid& b) {
    std::string_view id = HotChannelId(b.channel);
    if (id.empty()) {
      const std::optional<std::string_view> parameter = ChannelIdParameter(b.url);
      if (!parameter) return;
      id = *parameter;
    }
    out.Write(Csv(b.auction, b.bidder, b.price, b.channel, id));
  });
}

//! q22's SPLIT_INDEX(s, '/', index): the index-th '/'-separated token; empty when there is none.
inline std::string_view SplitIndex(std::string_view s, int index) {
  size_t begin = 0;
  for (int i = 0; i < index; ++i) {
    const size_t slash = s.find('/', begin);
    if (slash == std::string_view::npos) return {};
    begin = slash + 1;
  }
  const size_t end = s.find('/', begin);
  return s.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
}

//! q22, url directories.
inline void Q22(const Run& run, Sink& out) {
  ForEachBid(run, [&](const Bid& b) {
    out.Write(Csv(b.auction, b.bidder, b.price, b.channel, SplitIndex(b.url, 3),
                  SplitIndex(b.url, 4), SplitIndex(b.url, 5)));
  });
}

}  // namespace sluice::nexmark::loops
