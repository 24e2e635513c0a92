// The windows of a window operator: TimeWindow, a half-open range [start, end) of event or
// processing time, and GlobalWindow, the one window of GlobalWindows. Both serialize, so that a
// window can be the namespace of keyed state and timers. Plain values; any thread.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "sluice/serialization.h"
#include "sluice/state_types.h"

namespace sluice {

//! [start, end) in epoch milliseconds (Flink's TimeWindow).
class TimeWindow {
 public:
  TimeWindow() = default;
  TimeWindow(int64_t start, int64_t end) : start_(start), end_(end) {}
  int64_t Start() const { return start_; }
  int64_t End() const { return end_; }
  //! The largest timestamp in the window: the timestamp of its results.
  int64_t MaxTimestamp() const { return end_ - 1; }
  //! Whether the windows overlap or touch (session windows merge then).
  bool Intersects(const TimeWindow& o) const { return start_ <= o.end_ && end_ >= o.start_; }
  //! The smallest window covering both.
  TimeWindow Cover(const TimeWindow& o) const {
    return TimeWindow(std::min(start_, o.start_), std::max(end_, o.end_));
  }
  bool operator==(const TimeWindow& o) const { return start_ == o.start_ && end_ == o.end_; }
  bool operator!=(const TimeWindow& o) const { return !(*this == o); }
  bool operator<(const TimeWindow& o) const {
    return start_ != o.start_ ? start_ < o.start_ : end_ < o.end_;
  }
  std::string ToString() const {
    return "TimeWindow{start=" + std::to_string(start_) + ", end=" + std::to_string(end_) + "}";
  }

  //! The start of the window of `size` (shifted by `offset`) that holds `timestamp`, for any sign
  //! of timestamp and offset (Flink's TimeWindow.getWindowStartWithOffset).
  static int64_t GetWindowStartWithOffset(int64_t timestamp, int64_t offset, int64_t size) {
    int64_t remainder = (timestamp - offset) % size;
    // A negative remainder (timestamp before offset) belongs to the window below.
    if (remainder < 0) return timestamp - (remainder + size);
    return timestamp - remainder;
  }

  //! Groups `windows` into sets of intersecting ones (sorted by start) and calls
  //! `merge(members, cover)` for each set of two or more (Flink's TimeWindow.mergeWindows).
  static void MergeWindows(
      std::vector<TimeWindow> windows,
      const std::function<void(const std::vector<TimeWindow>&, const TimeWindow&)>& merge) {
    std::sort(windows.begin(), windows.end());
    std::vector<std::pair<TimeWindow, std::vector<TimeWindow>>> merged;
    for (const TimeWindow& w : windows) {
      if (!merged.empty() && merged.back().first.Intersects(w)) {
        merged.back().first = merged.back().first.Cover(w);
        merged.back().second.push_back(w);
      } else {
        merged.push_back({w, {w}});
      }
    }
    for (const auto& [cover, members] : merged) {
      if (members.size() > 1) merge(members, cover);
    }
  }

 private:
  friend struct Serializer<TimeWindow>;
  int64_t start_ = 0;
  int64_t end_ = 0;
};

//! The single window of GlobalWindows: it never ends.
class GlobalWindow {
 public:
  int64_t MaxTimestamp() const { return std::numeric_limits<int64_t>::max(); }
  bool operator==(const GlobalWindow&) const { return true; }
  bool operator!=(const GlobalWindow&) const { return false; }
  bool operator<(const GlobalWindow&) const { return false; }
  std::string ToString() const { return "GlobalWindow"; }
};

template <>
struct Serializer<TimeWindow> {
  static void Write(const TimeWindow& w, ByteWriter& out) {
    Serializer<int64_t>::Write(w.start_, out);
    Serializer<int64_t>::Write(w.end_, out);
  }
  static void Read(ByteReader& in, TimeWindow& w) {
    Serializer<int64_t>::Read(in, w.start_);
    Serializer<int64_t>::Read(in, w.end_);
  }
};

//! Serializes to one byte, as Flink's GlobalWindow serializer does.
template <>
struct Serializer<GlobalWindow> {
  static void Write(const GlobalWindow&, ByteWriter& out) { Serializer<uint8_t>::Write(0, out); }
  static void Read(ByteReader& in, GlobalWindow&) {
    uint8_t b = 0;
    Serializer<uint8_t>::Read(in, b);
  }
};

template <>
struct KeyHasher<TimeWindow> {
  size_t operator()(const TimeWindow& w) const {
    return std::hash<int64_t>()(w.Start()) * 31 + std::hash<int64_t>()(w.End());
  }
};

template <>
struct KeyHasher<GlobalWindow> {
  size_t operator()(const GlobalWindow&) const { return 0; }
};

namespace internal {
//! a + b for b >= 0, saturating at INT64_MAX instead of overflowing.
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max() : a + b;
}
}  // namespace internal

}  // namespace sluice
