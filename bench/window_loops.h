// The hand-written baselines of window_bench: plain loops doing the same aggregation as the window
// operators (a count per key and window, fired when the watermark passes the window's
// MaxTimestamp = end - 1, then erased), without state backends, serialization, triggers or
// timers keyed by strings. Each one reports what it emits as (window MaxTimestamp, count), the
// same thing the operators' output carries, so that window_bench can check that both emit the
// same results. They assume what the benchmark feeds them: timestamps that never go backwards and
// no late records (the operators handle both). Single-threaded, owned by the benchmark.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <queue>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace window_bench {

//! What a window operator or a loop emitted: how many results, and an order-independent checksum
//! of their (window MaxTimestamp, count).
struct Results {
  int64_t n = 0;
  uint64_t checksum = 0;
  void Add(int64_t max_timestamp, int64_t count) {
    ++n;
    uint64_t h = static_cast<uint64_t>(max_timestamp) * 0x9E3779B97F4A7C15ull;
    h ^= static_cast<uint64_t>(count) + 0xBF58476D1CE4E5B9ull + (h << 6) + (h >> 2);
    checksum += h * 0x94D049BB133111EBull;
  }
  bool operator==(const Results&) const = default;
};

inline int64_t WindowStart(int64_t ts, int64_t size) {
  int64_t r = ts % size;
  return ts - (r < 0 ? r + size : r);
}

//! A min-heap of (time, key, tag) timers.
using TimerHeap =
    std::priority_queue<std::tuple<int64_t, int64_t, int64_t>,
                        std::vector<std::tuple<int64_t, int64_t, int64_t>>, std::greater<>>;

//! Tumbling windows, and sliding windows by copying each record into each of its size/slide
//! windows (what Flink's per-window path does): one count per (key, window start), one timer per
//! window.
class CopyingLoop {
 public:
  CopyingLoop(int64_t size, int64_t slide) : size_(size), slide_(slide) {}
  void Record(int64_t key, int64_t ts) {
    for (int64_t start = WindowStart(ts, slide_); start > ts - size_; start -= slide_) {
      auto [it, inserted] = counts_.try_emplace({key, start}, 0);
      ++it->second;
      if (inserted) timers_.emplace(start + size_ - 1, key, start);
    }
  }
  void Watermark(int64_t wm) {
    while (!timers_.empty() && std::get<0>(timers_.top()) <= wm) {
      auto [time, key, start] = timers_.top();
      timers_.pop();
      auto it = counts_.find(std::pair(key, start));
      results_.Add(time, it->second);
      counts_.erase(it);
    }
  }
  const Results& results() const { return results_; }

 private:
  int64_t size_, slide_;
  absl::flat_hash_map<std::pair<int64_t, int64_t>, int64_t> counts_;
  TimerHeap timers_;
  Results results_;
};

//! Sliding windows by panes of one slide (size a multiple of slide): per key, its panes in time
//! order, a count each, and one timer at a time, for the next window that has a pane; a window's
//! count is the sum of its size/slide panes when it fires. The smartest plain loop we wrote that
//! does not also keep running sums.
class PaneLoop {
 public:
  PaneLoop(int64_t size, int64_t slide) : size_(size), slide_(slide) {}
  void Record(int64_t key, int64_t ts) {
    int64_t pane = WindowStart(ts, slide_);
    KeyPanes& k = keys_[key];
    if (!k.panes.empty() && k.panes.back().first == pane) {
      ++k.panes.back().second;
      return;
    }
    k.panes.emplace_back(pane, 1);
    // The first window holding this pane ends one slide after it.
    if (k.panes.size() == 1) timers_.emplace(pane + slide_ - 1, key, 0);
  }
  void Watermark(int64_t wm) {
    while (!timers_.empty() && std::get<0>(timers_.top()) <= wm) {
      auto [time, key, unused] = timers_.top();
      timers_.pop();
      KeyPanes& k = keys_[key];
      const int64_t end = time + 1;
      int64_t count = 0;
      for (const auto& [start, n] : k.panes) {
        if (start >= end - size_ && start < end) count += n;
      }
      results_.Add(time, count);
      // Panes starting in this window's first slide are in no later window.
      while (!k.panes.empty() && k.panes.front().first < end - size_ + slide_) {
        k.panes.pop_front();
      }
      if (k.panes.empty()) {
        keys_.erase(key);
      } else {
        // The next window with a pane: one slide later, or one ending a slide after the oldest.
        timers_.emplace(std::max(end + slide_, k.panes.front().first + slide_) - 1, key, 0);
      }
    }
  }
  const Results& results() const { return results_; }

 private:
  struct KeyPanes {
    std::deque<std::pair<int64_t, int64_t>> panes;  // (start, count), oldest first
  };
  int64_t size_, slide_;
  absl::flat_hash_map<int64_t, KeyPanes> keys_;
  TimerHeap timers_;
  Results results_;
};

//! Event-time sessions with a fixed gap: per key its open session [start, end) and count; a
//! record whose [ts, ts + gap) touches it extends it, otherwise it starts a new one (the old one is
//! complete: timestamps never go backwards, so it is emitted at once). Timers are checked against
//! the session's current end when they fire (extended sessions leave stale ones).
class SessionLoop {
 public:
  explicit SessionLoop(int64_t gap) : gap_(gap) {}
  void Record(int64_t key, int64_t ts) {
    auto [it, inserted] = sessions_.try_emplace(key);
    Session& s = it->second;
    if (!inserted && ts <= s.end) {
      ++s.count;
      if (ts + gap_ > s.end) {
        s.end = ts + gap_;
        timers_.emplace(s.end - 1, key, 0);
      }
      return;
    }
    if (!inserted) results_.Add(s.end - 1, s.count);
    s = Session{ts + gap_, 1};
    timers_.emplace(s.end - 1, key, 0);
  }
  void Watermark(int64_t wm) {
    while (!timers_.empty() && std::get<0>(timers_.top()) <= wm) {
      auto [time, key, unused] = timers_.top();
      timers_.pop();
      auto it = sessions_.find(key);
      if (it == sessions_.end() || it->second.end - 1 != time) continue;
      results_.Add(time, it->second.count);
      sessions_.erase(it);
    }
  }
  const Results& results() const { return results_; }

 private:
  struct Session {
    int64_t end = 0;
    int64_t count = 0;
  };
  int64_t gap_;
  absl::flat_hash_map<int64_t, Session> sessions_;
  TimerHeap timers_;
  Results results_;
};

}  // namespace window_bench
