// The Nexmark queries that join auctions with persons or bids, as hand-written loops
// (nexmark_loops.cc): q3, q4, q6, q9, q20. State is kept in hash maps as the packages keep it
// (bench/nexmark/qN.cc): a bid that comes before its auction waits for it.
//
// Auction ids come in increasing order (one generator, in event order), so an auction id not
// above the highest seen whose state is gone was closed; q6 and q9 drop an auction's state once
// the stream time has passed its `expires` (no later bid is within its time), writing what the
// package writes then (q6's sale) or at the end of the input (q9's final row).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "bench/nexmark/loops_common.h"

namespace sluice::nexmark::loops {

//! q3, local item suggestion: category-10 auctions with their sellers from OR, ID or CA.
inline void Q3(const Run& run, Sink& out) {
  struct Seller {
    std::string name, city, state;
  };
  absl::flat_hash_map<int64_t, Seller> sellers;
  absl::flat_hash_map<int64_t, std::vector<int64_t>> waiting;  // seller -> auction ids
  ForEachEvent(run, [&](Event& e) {
    if (e.auction) {
      const Auction& a = *e.auction;
      if (a.category != 10) return;
      if (auto it = sellers.find(a.seller); it != sellers.end()) {
        const Seller& s = it->second;
        out.Write(Csv(s.name, s.city, s.state, a.id));
      } else {
        waiting[a.seller].push_back(a.id);
      }
    } else if (e.person) {
      Person& p = *e.person;
      if (p.state != "OR" && p.state != "ID" && p.state != "CA") return;
      Seller s{std::move(p.name), std::move(p.city), std::move(p.state)};
      if (auto it = waiting.find(p.id); it != waiting.end()) {
        for (int64_t id : it->second) out.Write(Csv(s.name, s.city, s.state, id));
        waiting.erase(it);
      }
      sellers.insert_or_assign(p.id, std::move(s));
    }
  });
}

struct PricedAt {
  int64_t price = 0, time = 0;
};

//! q4, average price for a category: per category the integer average of its auctions' winning
//! bids; every change written, and the final averages at the end.
inline void Q4(const Run& run, Sink& out) {
  struct AuctionState {
    bool arrived = false;
    int64_t start = 0, expires = 0, category = 0;
    bool has_max = false;
    int64_t max = 0;
    std::vector<PricedAt> waiting;  // bids before the auction
  };
  struct SumCount {
    int64_t sum = 0, count = 0;
  };
  absl::flat_hash_map<int64_t, AuctionState> auctions;
  std::map<int64_t, SumCount> categories;
  auto offer = [&](AuctionState& a, int64_t price, int64_t time) {
    if (time < a.start || time > a.expires) return;
    if (a.has_max && price <= a.max) return;
    SumCount& t = categories[a.category];
    if (a.has_max) {
      t.sum += price - a.max;
    } else {
      t.sum += price;
      ++t.count;
    }
    a.has_max = true;
    a.max = price;
    out.Write(Csv(a.category, t.sum / t.count));
  };
  ForEachEvent(run, [&](Event& e) {
    if (e.bid) {
      AuctionState& a = auctions[e.bid->auction];
      if (a.arrived) {
        offer(a, e.bid->price, e.bid->dateTime);
      } else {
        a.waiting.push_back(PricedAt{e.bid->price, e.bid->dateTime});
      }
    } else if (e.auction) {
      AuctionState& a = auctions[e.auction->id];
      a.arrived = true;
      a.start = e.auction->dateTime;
      a.expires = e.auction->expires;
      a.category = e.auction->category;
      for (const PricedAt& p : a.waiting) offer(a, p.price, p.time);
      a.waiting = {};
    }
  });
  for (const auto& [category, t] : categories) out.Write(Csv(category, t.sum / t.count));
}

//! Auctions by `expires`, then id: the order in which they close.
using ClosingOrder = std::priority_queue<std::pair<int64_t, int64_t>,
                                         std::vector<std::pair<int64_t, int64_t>>, std::greater<>>;

//! q6, average selling price by seller: when an auction closes with a winning bid, its seller's
//! integer average over it and up to 10 preceding sales (sales in the order of expires, then id).
inline void Q6(const Run& run, Sink& out) {
  struct AuctionState {
    int64_t seller = 0, start = 0, expires = 0;
    bool has_max = false;
    int64_t max = 0;
  };
  //! A seller's last up to 11 sale prices, a ring, and their sum.
  struct LastSales {
    std::array<int64_t, 11> prices{};
    size_t size = 0, next = 0;
    int64_t sum = 0;
  };
  absl::flat_hash_map<int64_t, AuctionState> open;
  absl::flat_hash_map<int64_t, std::vector<PricedAt>> waiting;  // bids before their auction
  absl::flat_hash_map<int64_t, LastSales> sellers;
  ClosingOrder closing;
  int64_t max_auction = INT64_MIN;
  auto offer = [](AuctionState& a, int64_t price, int64_t time) {
    if (time < a.start || time > a.expires) return;
    if (!a.has_max || price > a.max) {
      a.has_max = true;
      a.max = price;
    }
  };
  auto close = [&](int64_t id) {
    auto it = open.find(id);
    const AuctionState& a = it->second;
    if (a.has_max) {
      LastSales& s = sellers[a.seller];
      if (s.size == s.prices.size()) {
        s.sum -= s.prices[s.next];
      } else {
        ++s.size;
      }
      s.prices[s.next] = a.max;
      s.sum += a.max;
      s.next = (s.next + 1) % s.prices.size();
      out.Write(Csv(a.seller, s.sum / static_cast<int64_t>(s.size)));
    }
    open.erase(it);
  };
  ForEachEvent(run, [&](Event& e) {
    const int64_t now = e.Timestamp();
    while (!closing.empty() && closing.top().first < now) {
      close(closing.top().second);
      closing.pop();
    }
    if (e.bid) {
      const Bid& b = *e.bid;
      if (auto it = open.find(b.auction); it != open.end()) {
        offer(it->second, b.price, b.dateTime);
      } else if (b.auction > max_auction) {
        waiting[b.auction].push_back(PricedAt{b.price, b.dateTime});
      }  // else: closed
    } else if (e.auction) {
      const Auction& a = *e.auction;
      max_auction = std::max(max_auction, a.id);
      AuctionState& s = open[a.id];
      s = AuctionState{a.seller, a.dateTime, a.expires, false, 0};
      if (auto it = waiting.find(a.id); it != waiting.end()) {
        for (const PricedAt& p : it->second) offer(s, p.price, p.time);
        waiting.erase(it);
      }
      closing.emplace(a.expires, a.id);
    }
  });
  for (; !closing.empty(); closing.pop()) close(closing.top().second);
}

//! q9, winning bids: each auction with its highest bid within its time (by HigherBid); every
//! change written, and every auction's final row (when it closes, or at the end).
inline void Q9(const Run& run, Sink& out) {
  struct AuctionState {
    Auction auction;
    bool has_best = false;
    Bid best;
  };
  auto row = [](const Auction& a, const Bid& b) {
    return Csv(a.id, a.itemName, a.description, a.initialBid, a.reserve, a.dateTime, a.expires,
               a.seller, a.category, a.extra, b.auction, b.bidder, b.price, b.dateTime, b.extra);
  };
  absl::flat_hash_map<int64_t, AuctionState> open;
  absl::flat_hash_map<int64_t, std::vector<Bid>> waiting;  // bids before their auction
  ClosingOrder closing;
  int64_t max_auction = INT64_MIN;
  auto offer = [&](AuctionState& s, Bid& b) {
    if (b.dateTime < s.auction.dateTime || b.dateTime > s.auction.expires) return;
    if (s.has_best && !HigherBid(b, s.best)) return;
    out.Write(row(s.auction, b));
    s.has_best = true;
    s.best = std::move(b);
  };
  auto close = [&](int64_t id) {
    auto it = open.find(id);
    if (it->second.has_best) out.Write(row(it->second.auction, it->second.best));  // final row
    open.erase(it);
  };
  ForEachEvent(run, [&](Event& e) {
    const int64_t now = e.Timestamp();
    while (!closing.empty() && closing.top().first < now) {
      close(closing.top().second);
      closing.pop();
    }
    if (e.bid) {
      Bid& b = *e.bid;
      if (auto it = open.find(b.auction); it != open.end()) {
        offer(it->second, b);
      } else if (b.auction > max_auction) {
        waiting[b.auction].push_back(std::move(b));
      }  // else: closed
    } else if (e.auction) {
      const int64_t id = e.auction->id;
      const int64_t expires = e.auction->expires;
      max_auction = std::max(max_auction, id);
      AuctionState& s = open[id];
      s.auction = std::move(*e.auction);
      if (auto it = waiting.find(id); it != waiting.end()) {
        for (Bid& b : it->second) offer(s, b);
        waiting.erase(it);
      }
      closing.emplace(expires, id);
    }
  });
  for (; !closing.empty(); closing.pop()) close(closing.top().second);
}

//! q20, expand bid with auction: every bid of a category-10 auction with its auction's columns.
inline void Q20(const Run& run, Sink& out) {
  auto line = [](const Bid& b, const Auction& a) {
    return Csv(b.auction, b.bidder, b.price, b.channel, b.url, b.dateTime, b.extra, a.itemName,
               a.description, a.initialBid, a.reserve, a.dateTime, a.expires, a.seller, a.category,
               a.extra);
  };
  struct AuctionState {
    bool arrived = false;
    std::unique_ptr<Auction> auction;  // once arrived: null for another category than 10
    std::vector<Bid> waiting;          // bids before the auction
  };
  absl::flat_hash_map<int64_t, AuctionState> auctions;
  ForEachEvent(run, [&](Event& e) {
    if (e.bid) {
      AuctionState& s = auctions[e.bid->auction];
      if (s.arrived) {
        if (s.auction) out.Write(line(*e.bid, *s.auction));
      } else {
        s.waiting.push_back(std::move(*e.bid));
      }
    } else if (e.auction) {
      AuctionState& s = auctions[e.auction->id];
      s.arrived = true;
      if (e.auction->category == 10) {
        for (const Bid& b : s.waiting) out.Write(line(b, *e.auction));
        s.auction = std::make_unique<Auction>(std::move(*e.auction));
      }
      s.waiting = {};
    }
  });
}

}  // namespace sluice::nexmark::loops
