// The Nexmark queries whose rows update, as hand-written loops (nexmark_loops.cc): q15, q16, q17,
// q18, q19. As the packages (bench/nexmark/qN.cc), each writes every change of a row, and at the
// end of the input the final value of every row (the package's output/final).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "bench/nexmark/day_stats.h"
#include "bench/nexmark/loops_common.h"

namespace sluice::nexmark::loops {

//! The bands (bit i: band i) each bidder and auction has bid in, for one row of q15 or q16.
struct BandSets {
  absl::flat_hash_map<int64_t, uint8_t> bidders, auctions;
};

//! Counts `b` into `c` as DayCounts::Add does, with the bands kept in `sets`.
inline void AddBid(DayCounts& c, BandSets& sets, const Bid& b) {
  const int band = Band(b.price);
  const auto bit = static_cast<uint8_t>(1u << band);
  ++c.bids;
  ++c.bids_band[static_cast<size_t>(band)];
  auto distinct = [&](uint8_t& seen, int64_t& total, DayCounts::Bands& per_band) {
    if (seen == 0) ++total;
    if ((seen & bit) == 0) ++per_band[static_cast<size_t>(band)];
    seen = static_cast<uint8_t>(seen | bit);
  };
  distinct(sets.bidders[b.bidder], c.bidders, c.bidders_band);
  distinct(sets.auctions[b.auction], c.auctions, c.auctions_band);
}

//! q15, bidding statistics per day.
inline void Q15(const Run& run, Sink& out) {
  struct DayState {
    DayCounts counts;
    BandSets sets;
  };
  absl::flat_hash_map<std::string, DayState> days;
  auto row = [](const std::string& day, const DayCounts& c) { return day + "," + c.Columns(); };
  ForEachBid(run, [&](const Bid& b) {
    std::string day = Day(b.dateTime);
    DayState& s = days[day];
    AddBid(s.counts, s.sets, b);
    out.Write(row(day, s.counts));
  });
  for (const auto& [day, s] : days) out.Write(row(day, s.counts));
}

//! q16, channel statistics per day: q15's counts per channel and day, and the latest minute.
inline void Q16(const Run& run, Sink& out) {
  using Key = std::pair<std::string, std::string>;  // channel, day
  struct Stats {
    std::string minute;
    DayCounts counts;
    BandSets sets;
  };
  absl::flat_hash_map<Key, Stats> rows;
  auto row = [](const Key& key, const Stats& s) {
    return Csv(key.first, key.second, s.minute) + "," + s.counts.Columns();
  };
  ForEachBid(run, [&](const Bid& b) {
    Key key{b.channel, Day(b.dateTime)};
    Stats& s = rows[key];
    AddBid(s.counts, s.sets, b);
    std::string minute = Minute(b.dateTime);
    if (minute > s.minute) s.minute = std::move(minute);
    out.Write(row(key, s));
  });
  for (const auto& [key, s] : rows) out.Write(row(key, s));
}

//! q17, auction statistics per day.
inline void Q17(const Run& run, Sink& out) {
  using Key = std::pair<int64_t, std::string>;  // auction, day
  struct Stats {
    int64_t bids = 0;
    std::array<int64_t, 3> bands{};
    int64_t min = 0, max = 0, sum = 0;
  };
  absl::flat_hash_map<Key, Stats> rows;
  auto row = [](const Key& key, const Stats& s) {
    return Csv(key.first, key.second, s.bids, s.bands[0], s.bands[1], s.bands[2], s.min, s.max,
               s.sum / s.bids, s.sum);
  };
  ForEachBid(run, [&](const Bid& b) {
    Key key{b.auction, Day(b.dateTime)};
    Stats& s = rows[key];
    s.min = s.bids == 0 ? b.price : std::min(s.min, b.price);
    s.max = s.bids == 0 ? b.price : std::max(s.max, b.price);
    ++s.bids;
    ++s.bands[static_cast<size_t>(Band(b.price))];
    s.sum += b.price;
    out.Write(row(key, s));
  });
  for (const auto& [key, s] : rows) out.Write(row(key, s));
}

//! q18, last bid per bidder and auction (a later bid at the same time replaces it, then by
//! price, then extra, as the package).
inline void Q18(const Run& run, Sink& out) {
  auto later = [](const Bid& a, const Bid& b) {
    if (a.dateTime != b.dateTime) return a.dateTime > b.dateTime;
    if (a.price != b.price) return a.price > b.price;
    return a.extra > b.extra;
  };
  absl::flat_hash_map<std::pair<int64_t, int64_t>, Bid> last;  // by bidder, auction
  ForEachBid(run, [&](Bid& b) {
    auto [it, fresh] = last.try_emplace(std::pair(b.bidder, b.auction));
    if (!fresh && !later(b, it->second)) return;
    out.Write(BidColumns(b));
    it->second = std::move(b);
  });
  for (const auto& [key, b] : last) out.Write(BidColumns(b));
}

//! q19, auction top-10 by HigherBid: when a bid enters an auction's ten, the rows from its rank
//! down with their new ranks.
inline void Q19(const Run& run, Sink& out) {
  constexpr size_t kTop = 10;
  auto row = [](const Bid& b, size_t rank) { return BidColumns(b) + "," + std::to_string(rank); };
  absl::flat_hash_map<int64_t, std::vector<Bid>> tops;  // by auction, highest first
  ForEachBid(run, [&](Bid& b) {
    std::vector<Bid>& top = tops[b.auction];
    auto at = std::find_if(top.begin(), top.end(), [&](const Bid& t) { return HigherBid(b, t); });
    const auto rank = static_cast<size_t>(at - top.begin());
    if (rank >= kTop) return;
    if (top.size() == kTop) top.pop_back();
    top.insert(top.begin() + static_cast<std::ptrdiff_t>(rank), std::move(b));
    for (size_t i = rank; i < top.size(); ++i) out.Write(row(top[i], i + 1));
  });
  for (const auto& [auction, top] : tops) {
    for (size_t i = 0; i < top.size(); ++i) out.Write(row(top[i], i + 1));
  }
}

}  // namespace sluice::nexmark::loops
