// What q15, q16 and q17 share: the UTC day and minute of a time as DATE_FORMAT writes them, the
// price bands of their FILTER clauses, and q15/q16's counts of bids and distinct bidders and
// auctions, in total and per band.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "bench/nexmark/model.h"
#include "sluice/serialization.h"
#include "sluice/state_types.h"

namespace sluice::nexmark {

//! DATE_FORMAT(t, 'yyyy-MM-dd'), UTC.
inline std::string Day(int64_t time_ms) {
  using namespace std::chrono;
  const year_month_day d{floor<days>(sys_time<milliseconds>(milliseconds(time_ms)))};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return buf;
}

//! DATE_FORMAT(t, 'HH:mm'), UTC.
inline std::string Minute(int64_t time_ms) {
  const int64_t ms_of_day = ((time_ms % 86400000) + 86400000) % 86400000;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", static_cast<int>(ms_of_day / 3600000),
                static_cast<int>(ms_of_day / 60000 % 60));
  return buf;
}

//! The FILTER bands: 0 for price < 10,000, 1 for [10,000, 1,000,000), 2 above.
inline int Band(int64_t price) { return price < 10000 ? 0 : price < 1000000 ? 1 : 2; }

//! count(*), count(DISTINCT bidder) and count(DISTINCT auction), each in total and per band.
struct DayCounts {
  using Bands = std::array<int64_t, 3>;
  int64_t bids = 0;
  Bands bids_band{};
  int64_t bidders = 0;
  Bands bidders_band{};
  int64_t auctions = 0;
  Bands auctions_band{};
  SLUICE_FIELDS(bids, bids_band, bidders, bidders_band, auctions, auctions_band)

  //! Counts `b`, with the bands its bidder and auction had bid in kept per key in `bidders` and
  //! `auctions` (a key's map state: the day's, or the channel's and day's).
  void Add(const Bid& b, MapState<int64_t, uint8_t>& bidders,
           MapState<int64_t, uint8_t>& auctions) {
    uint8_t bidder = bidders.Get(b.bidder).value_or(0);
    uint8_t auction = auctions.Get(b.auction).value_or(0);
    const uint8_t bidder_before = bidder, auction_before = auction;
    Add(Band(b.price), bidder, auction);
    if (bidder != bidder_before) bidders.Put(b.bidder, bidder);
    if (auction != auction_before) auctions.Put(b.auction, auction);
  }
  //! The 12 columns from total_bids to rank3_auctions, comma-separated.
  std::string Columns() const {
    std::string s;
    for (int64_t v :
         {bids, bids_band[0], bids_band[1], bids_band[2], bidders, bidders_band[0], bidders_band[1],
          bidders_band[2], auctions, auctions_band[0], auctions_band[1], auctions_band[2]}) {
      if (!s.empty()) s += ',';
      s += std::to_string(v);
    }
    return s;
  }

 private:
  //! A bid in `band`; `bidder_bands` / `auction_bands`: the bands its bidder / auction had bid
  //! in before (bit i: band i; 0: never), updated.
  void Add(int band, uint8_t& bidder_bands, uint8_t& auction_bands) {
    ++bids;
    ++bids_band[static_cast<size_t>(band)];
    Distinct(band, bidder_bands, bidders, bidders_band);
    Distinct(band, auction_bands, auctions, auctions_band);
  }

  static void Distinct(int band, uint8_t& seen, int64_t& total, Bands& per_band) {
    if (seen == 0) ++total;
    const auto bit = static_cast<uint8_t>(1u << band);
    if ((seen & bit) == 0) ++per_band[static_cast<size_t>(band)];
    seen = static_cast<uint8_t>(seen | bit);
  }
};

}  // namespace sluice::nexmark
