// Evictors remove elements from a window's buffer before and/or after the window function runs
// (Flink's Evictor). With an evictor the window operator keeps every element of a window with its
// timestamp (TimestampedValue), even for Reduce and Aggregate, and pre-aggregates nothing. Called
// on the task thread, for the current key and one window.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/environment.h"
#include "sluice/runtime.h"
#include "sluice/serialization.h"

namespace sluice {

//! An element with its timestamp, as evictors see it (Flink's TimestampedValue).
template <typename T>
struct TimestampedValue {
  T value{};
  int64_t timestamp = kNoTimestamp;
  bool HasTimestamp() const { return timestamp != kNoTimestamp; }
  SLUICE_FIELDS(value, timestamp)
};

//! What an evictor may look at (Flink's Evictor.EvictorContext).
class EvictorContext {
 public:
  virtual ~EvictorContext() = default;
  virtual int64_t CurrentProcessingTime() const = 0;
  virtual int64_t CurrentWatermark() const = 0;
};

//! User evictors derive from this. `elements` is the window's buffer in insertion order; remove
//! from it what is to be evicted. `size` is its size when the call started.
template <typename T, typename W>
class Evictor {
 public:
  virtual ~Evictor() = default;
  virtual void EvictBefore(std::vector<TimestampedValue<T>>& elements, int size, const W& window,
                           EvictorContext& ctx) = 0;
  virtual void EvictAfter(std::vector<TimestampedValue<T>>& elements, int size, const W& window,
                          EvictorContext& ctx) = 0;
};

//! Makes a built-in evictor value (template member functions) an Evictor<T, W>.
template <typename T, typename W, typename Ev>
class EvictorAdapter final : public Evictor<T, W> {
 public:
  explicit EvictorAdapter(Ev evictor) : evictor_(std::move(evictor)) {}
  void EvictBefore(std::vector<TimestampedValue<T>>& elements, int size, const W& window,
                   EvictorContext& ctx) override {
    evictor_.EvictBefore(elements, size, window, ctx);
  }
  void EvictAfter(std::vector<TimestampedValue<T>>& elements, int size, const W& window,
                  EvictorContext& ctx) override {
    evictor_.EvictAfter(elements, size, window, ctx);
  }

 private:
  Ev evictor_;
};

template <typename T, typename W, typename Ev>
std::function<std::unique_ptr<Evictor<T, W>>()> MakeEvictorFactory(Ev evictor) {
  if constexpr (std::is_base_of_v<Evictor<T, W>, Ev>) {
    return [evictor]() -> std::unique_ptr<Evictor<T, W>> { return std::make_unique<Ev>(evictor); };
  } else {
    return [evictor]() -> std::unique_ptr<Evictor<T, W>> {
      return std::make_unique<EvictorAdapter<T, W, Ev>>(evictor);
    };
  }
}

//! Keeps at most `max_count` elements: evicts the oldest (Flink's CountEvictor), before the
//! window function unless `do_evict_after`.
class CountEvictor {
 public:
  static CountEvictor Of(int64_t max_count, bool do_evict_after = false) {
    if (max_count < 0) throw JobDefinitionError("CountEvictor::Of: the count must be >= 0");
    CountEvictor e;
    e.max_count_ = max_count;
    e.do_evict_after_ = do_evict_after;
    return e;
  }
  template <typename T, typename W>
  void EvictBefore(std::vector<TimestampedValue<T>>& elements, int size, const W&,
                   EvictorContext&) const {
    if (!do_evict_after_) Evict(elements, size);
  }
  template <typename T, typename W>
  void EvictAfter(std::vector<TimestampedValue<T>>& elements, int size, const W&,
                  EvictorContext&) const {
    if (do_evict_after_) Evict(elements, size);
  }

 private:
  template <typename T>
  void Evict(std::vector<TimestampedValue<T>>& elements, int size) const {
    if (size <= max_count_) return;
    int64_t evict = std::min<int64_t>(size - max_count_, static_cast<int64_t>(elements.size()));
    elements.erase(elements.begin(), elements.begin() + evict);
  }
  int64_t max_count_ = 0;
  bool do_evict_after_ = false;
};

//! Keeps the elements within `window_size` of the newest element's timestamp: evicts those at or
//! before max timestamp - window_size (Flink's TimeEvictor). Does nothing when the elements have
//! no timestamps.
class TimeEvictor {
 public:
  static TimeEvictor Of(std::chrono::milliseconds window_size, bool do_evict_after = false) {
    if (window_size.count() < 0) throw JobDefinitionError("TimeEvictor::Of: negative size");
    TimeEvictor e;
    e.window_size_ = window_size.count();
    e.do_evict_after_ = do_evict_after;
    return e;
  }
  template <typename T, typename W>
  void EvictBefore(std::vector<TimestampedValue<T>>& elements, int, const W&,
                   EvictorContext&) const {
    if (!do_evict_after_) Evict(elements);
  }
  template <typename T, typename W>
  void EvictAfter(std::vector<TimestampedValue<T>>& elements, int, const W&,
                  EvictorContext&) const {
    if (do_evict_after_) Evict(elements);
  }

 private:
  template <typename T>
  void Evict(std::vector<TimestampedValue<T>>& elements) const {
    if (elements.empty() || !elements.front().HasTimestamp()) return;
    int64_t max_ts = kNoTimestamp;
    for (const auto& e : elements) max_ts = std::max(max_ts, e.timestamp);
    int64_t cutoff = max_ts - window_size_;
    std::erase_if(elements,
                  [cutoff](const TimestampedValue<T>& e) { return e.timestamp <= cutoff; });
  }
  int64_t window_size_ = 0;
  bool do_evict_after_ = false;
};

}  // namespace sluice
