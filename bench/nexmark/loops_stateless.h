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
#include "bench/nexmark/url_parts.h"

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

//! q22, url directories.
inline void Q22(const Run& run, Sink& out) {
  ForEachBid(run, [&](const Bid& b) {
    out.Write(Csv(b.auction, b.bidder, b.price, b.channel, SplitIndex(b.url, 3),
                  SplitIndex(b.url, 4), SplitIndex(b.url, 5)));
  });
}

}  // namespace sluice::nexmark::loops
