// The windowed Nexmark queries as hand-written loops (nexmark_loops.cc): q5, q7, q8, q11, q12.
// Event time never goes backwards in the loop (one generator, in event order), so a window is
// closed as soon as an event's time passes its end (the engine closes it by the watermark, 4 s
// later: the same results), and the windows still open are closed at the end of the input, as
// the engine's last watermark does (except q12's, which are of the clock).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "bench/nexmark/loops_common.h"

namespace sluice::nexmark::loops {

//! q5, hot items: per sliding window (10 s every 2 s), the auctions with the most bids. Bids are
//! counted per 2 s pane and auction; a window's counts are its five panes' (as the SDK's panes).
inline void Q5(const Run& run, Sink& out) {
  constexpr int64_t kSize = 10000, kSlide = 2000;
  using Counts = absl::flat_hash_map<int64_t, int64_t>;  // auction -> bids
  std::map<int64_t, Counts> panes;                       // by pane start
  int64_t next_end = 0;  // the end of the next window to close, when there are panes
  Counts window;
  auto close = [&](int64_t end) {
    window.clear();
    for (auto it = panes.lower_bound(end - kSize); it != panes.end() && it->first < end; ++it) {
      for (const auto& [auction, n] : it->second) window[auction] += n;
    }
    int64_t max = 0;
    for (const auto& [auction, n] : window) max = std::max(max, n);
    for (const auto& [auction, n] : window) {
      if (n == max) out.Write(Csv(auction, max));
    }
    // The panes of no later window.
    panes.erase(panes.begin(), panes.lower_bound(end - kSize + kSlide));
  };
  ForEachBid(run, [&](const Bid& b) {
    const int64_t t = b.dateTime;
    for (; !panes.empty() && next_end <= t; next_end += kSlide) close(next_end);
    const int64_t pane = t - t % kSlide;
    if (panes.empty()) next_end = pane + kSlide;
    ++panes[pane][b.auction];
  });
  for (; !panes.empty(); next_end += kSlide) close(next_end);
}

//! q7, highest bid: per 10 s tumbling window the bids at its maximum price, and the bids timed
//! exactly at its end at that price.
inline void Q7(const Run& run, Sink& out) {
  constexpr int64_t kWindow = 10000;
  auto row = [](const Bid& b) { return Csv(b.auction, b.price, b.bidder, b.dateTime, b.extra); };
  int64_t end = 0;  // the open window's; 0: none
  int64_t max = 0;
  std::vector<Bid> at_max;
  int64_t closed_end = -1, closed_max = 0;  // the last window closed
  auto close = [&] {
    for (const Bid& b : at_max) out.Write(row(b));
    at_max.clear();
    closed_end = end;
    closed_max = max;
    end = 0;
  };
  ForEachBid(run, [&](Bid& b) {
    const int64_t t = b.dateTime;
    const int64_t window_end = (t / kWindow + 1) * kWindow;
    if (window_end != end && end != 0) close();
    if (t == closed_end && b.price == closed_max) out.Write(row(b));  // at the window's end
    if (end == 0 || b.price > max) {
      end = window_end;
      max = b.price;
      at_max.clear();
      at_max.push_back(std::move(b));
    } else if (b.price == max) {
      at_max.push_back(std::move(b));
    }
  });
  if (end != 0) close();
}

//! q8, monitor new users: the people who registered and opened an auction in the same 10 s
//! tumbling window.
inline void Q8(const Run& run, Sink& out) {
  constexpr int64_t kWindow = 10000;
  int64_t start = -1;                               // the open window's; -1: none
  absl::flat_hash_map<int64_t, std::string> names;  // person id -> name
  absl::flat_hash_set<int64_t> sellers;
  auto close = [&] {
    for (const auto& [id, name] : names) {
      if (sellers.contains(id)) out.Write(Csv(id, name, start));
    }
    names.clear();
    sellers.clear();
  };
  ForEachEvent(run, [&](Event& e) {
    if (!e.person && !e.auction) return;
    const int64_t t = e.Timestamp();
    const int64_t window_start = t - t % kWindow;
    if (window_start != start) {
      if (start != -1) close();
      start = window_start;
    }
    if (e.person) {
      names.insert_or_assign(e.person->id, std::move(e.person->name));
    } else {
      sellers.insert(e.auction->seller);
    }
  });
  if (start != -1) close();
}

//! q11, user sessions: per bidder, the bids at most 10 s apart, as bidder, count, first bid,
//! last bid + 10 s. A session ends when a bid comes more than 10 s after its last, or when the
//! time passes its end (the open sessions are looked at every second of event time).
inline void Q11(const Run& run, Sink& out) {
  constexpr int64_t kGap = 10000, kScan = 1000;
  struct Session {
    int64_t count = 0, first = 0, last = 0;
  };
  absl::flat_hash_map<int64_t, Session> sessions;  // by bidder
  auto row = [](int64_t bidder, const Session& s) {
    return Csv(bidder, s.count, s.first, s.last + kGap);
  };
  int64_t next_scan = INT64_MIN;
  ForEachBid(run, [&](const Bid& b) {
    const int64_t t = b.dateTime;
    if (t >= next_scan) {
      for (auto it = sessions.begin(); it != sessions.end();) {
        if (it->second.last + kGap < t) {
          out.Write(row(it->first, it->second));
          sessions.erase(it++);
        } else {
          ++it;
        }
      }
      next_scan = t + kScan;
    }
    auto [it, fresh] = sessions.try_emplace(b.bidder);
    Session& s = it->second;
    if (!fresh && t - s.last > kGap) {
      out.Write(row(b.bidder, s));
      s = Session{};
      fresh = true;
    }
    if (fresh) s.first = t;
    ++s.count;
    s.last = t;
  });
  for (const auto& [bidder, s] : sessions) out.Write(row(bidder, s));
}

//! q12, processing-time windows: per bidder, the bids of each 10 s window of the clock, written
//! when the clock passes the window's end (checked at every bid); the window still open at the
//! end is not written.
inline void Q12(const Run& run, Sink& out) {
  constexpr int64_t kWindow = 10000;
  absl::flat_hash_map<int64_t, int64_t> counts;  // bidder -> bids
  int64_t start = -1;
  ForEachBid(run, [&](const Bid& b) {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const int64_t window_start = now - now % kWindow;
    if (window_start != start) {
      for (const auto& [bidder, n] : counts) out.Write(Csv(bidder, n, start, start + kWindow));
      counts.clear();
      start = window_start;
    }
    ++counts[b.bidder];
  });
}

}  // namespace sluice::nexmark::loops
