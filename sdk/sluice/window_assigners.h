// Window assigners put each element into zero or more windows (Flink's WindowAssigner). They are
// plain values, checked when built (bad sizes, slides, offsets and gaps throw
// JobDefinitionError), copied into every window operator instance. Each one provides:
//   using WindowType;                       TimeWindow or GlobalWindow
//   static constexpr bool kMerging;         session windows merge (MergeWindows)
//   bool IsEventTime() const;
//   void AssignWindows(const T& element, int64_t timestamp, int64_t processing_time,
//                      std::vector<WindowType>& out) const;
//   DefaultTrigger() const;                 the trigger used unless WindowedStream::Trigger is set
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/environment.h"
#include "sluice/triggers.h"
#include "sluice/windows.h"

namespace sluice {

namespace internal {

//! "-10000 ms", or "-10000 ms (-10 s)" for whole seconds: durations in bad-definition messages.
inline std::string FormatMillis(int64_t ms) {
  std::string text = std::to_string(ms) + " ms";
  if (ms != 0 && ms % 1000 == 0) text += " (" + std::to_string(ms / 1000) + " s)";
  return text;
}

//! The default trigger of the time-based assigners: fire at the window's end, in their time.
template <bool kEventTime>
auto TimeTrigger() {
  if constexpr (kEventTime) {
    return EventTimeTrigger::Create();
  } else {
    return ProcessingTimeTrigger::Create();
  }
}

//! Tumbling windows of `size`, shifted by `offset`, over event or processing time.
template <bool kEventTime>
class TumblingWindows {
 public:
  using WindowType = TimeWindow;
  static constexpr bool kMerging = false;
  static TumblingWindows Of(std::chrono::milliseconds size,
                            std::chrono::milliseconds offset = std::chrono::milliseconds(0)) {
    const std::string name =
        kEventTime ? "TumblingEventTimeWindows::Of" : "TumblingProcessingTimeWindows::Of";
    if (size.count() <= 0) {
      throw JobDefinitionError(name + ": the window size must be positive, got " +
                               FormatMillis(size.count()));
    }
    if (std::llabs(offset.count()) >= size.count()) {
      throw JobDefinitionError(name + ": the offset must be smaller than the window size, got " +
                               "offset " + FormatMillis(offset.count()) + " for size " +
                               FormatMillis(size.count()));
    }
    TumblingWindows w;
    w.size_ = size.count();
    w.offset_ = offset.count();
    return w;
  }
  bool IsEventTime() const { return kEventTime; }
  int64_t size() const { return size_; }
  int64_t offset() const { return offset_; }
  template <typename T>
  void AssignWindows(const T&, int64_t timestamp, int64_t processing_time,
                     std::vector<TimeWindow>& out) const {
    int64_t t = kEventTime ? timestamp : processing_time;
    int64_t start = TimeWindow::GetWindowStartWithOffset(t, offset_, size_);
    out.emplace_back(start, start + size_);
  }
  auto DefaultTrigger() const { return TimeTrigger<kEventTime>(); }

 private:
  int64_t size_ = 1;
  int64_t offset_ = 0;
};

//! Windows of `size` every `slide`, shifted by `offset`: an element is in size/slide of them.
template <bool kEventTime>
class SlidingWindows {
 public:
  using WindowType = TimeWindow;
  static constexpr bool kMerging = false;
  static SlidingWindows Of(std::chrono::milliseconds size, std::chrono::milliseconds slide,
                           std::chrono::milliseconds offset = std::chrono::milliseconds(0)) {
    const std::string name =
        kEventTime ? "SlidingEventTimeWindows::Of" : "SlidingProcessingTimeWindows::Of";
    if (size.count() <= 0) {
      throw JobDefinitionError(name + ": the window size must be positive, got " +
                               FormatMillis(size.count()));
    }
    if (slide.count() <= 0) {
      throw JobDefinitionError(name + ": the slide must be positive, got " +
                               FormatMillis(slide.count()));
    }
    if (slide.count() > size.count()) {
      throw JobDefinitionError(
          name + ": the slide must not be larger than the window size, got slide " +
          FormatMillis(slide.count()) + " and size " + FormatMillis(size.count()));
    }
    if (std::llabs(offset.count()) >= slide.count()) {
      throw JobDefinitionError(name + ": the offset must be smaller than the slide, got offset " +
                               FormatMillis(offset.count()) + " for slide " +
                               FormatMillis(slide.count()));
    }
    SlidingWindows w;
    w.size_ = size.count();
    w.slide_ = slide.count();
    w.offset_ = offset.count();
    return w;
  }
  bool IsEventTime() const { return kEventTime; }
  int64_t size() const { return size_; }
  int64_t slide() const { return slide_; }
  int64_t offset() const { return offset_; }
  template <typename T>
  void AssignWindows(const T&, int64_t timestamp, int64_t processing_time,
                     std::vector<TimeWindow>& out) const {
    int64_t t = kEventTime ? timestamp : processing_time;
    int64_t last_start = TimeWindow::GetWindowStartWithOffset(t, offset_, slide_);
    for (int64_t start = last_start; start > t - size_; start -= slide_) {
      out.emplace_back(start, start + size_);
    }
  }
  auto DefaultTrigger() const { return TimeTrigger<kEventTime>(); }

 private:
  int64_t size_ = 1;
  int64_t slide_ = 1;
  int64_t offset_ = 0;
};

inline int64_t GapMillis(int64_t ms) { return ms; }
template <typename Rep, typename Period>
int64_t GapMillis(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

//! Session windows: [t, t + gap) per element, merged while they overlap or touch. `Gap` is
//! an int64_t for a fixed gap, or a function of the element giving it (dynamic gap).
template <bool kEventTime, typename GapFn>
class SessionWindows {
 public:
  using WindowType = TimeWindow;
  static constexpr bool kMerging = true;
  explicit SessionWindows(GapFn gap) : gap_(std::move(gap)) {}
  bool IsEventTime() const { return kEventTime; }
  template <typename T>
  void AssignWindows(const T& element, int64_t timestamp, int64_t processing_time,
                     std::vector<TimeWindow>& out) const {
    int64_t t = kEventTime ? timestamp : processing_time;
    int64_t gap;
    if constexpr (std::is_same_v<GapFn, int64_t>) {
      gap = gap_;
    } else {
      gap = GapMillis(gap_(element));
      if (gap <= 0) {
        throw std::runtime_error("session window: a dynamic gap must be positive, got " +
                                 FormatMillis(gap));
      }
    }
    out.emplace_back(t, SaturatingAdd(t, gap));
  }
  static void MergeWindows(
      std::vector<TimeWindow> windows,
      const std::function<void(const std::vector<TimeWindow>&, const TimeWindow&)>& merge) {
    TimeWindow::MergeWindows(std::move(windows), merge);
  }
  auto DefaultTrigger() const { return TimeTrigger<kEventTime>(); }
  //! The fixed gap in milliseconds (fixed-gap sessions only).
  int64_t gap() const requires std::is_same_v<GapFn, int64_t> { return gap_; }

 private:
  GapFn gap_;
};

template <bool kEventTime>
class SessionWindowsBuilder {
 public:
  static SessionWindows<kEventTime, int64_t> WithGap(std::chrono::milliseconds gap) {
    if (gap.count() <= 0) {
      throw JobDefinitionError(std::string(kEventTime ? "EventTimeSessionWindows::WithGap"
                                                      : "ProcessingTimeSessionWindows::WithGap") +
                               ": the session gap must be positive, got " +
                               FormatMillis(gap.count()));
    }
    return SessionWindows<kEventTime, int64_t>(gap.count());
  }
  //! `fn(const T&)` gives the gap after each element (a std::chrono duration or milliseconds).
  template <typename F>
  static SessionWindows<kEventTime, F> WithDynamicGap(F fn) {
    return SessionWindows<kEventTime, F>(std::move(fn));
  }
};

}  // namespace internal

using TumblingEventTimeWindows = internal::TumblingWindows<true>;
using TumblingProcessingTimeWindows = internal::TumblingWindows<false>;
using SlidingEventTimeWindows = internal::SlidingWindows<true>;
using SlidingProcessingTimeWindows = internal::SlidingWindows<false>;
using EventTimeSessionWindows = internal::SessionWindowsBuilder<true>;
using ProcessingTimeSessionWindows = internal::SessionWindowsBuilder<false>;

//! All elements of a key in one window that never ends; give it a Trigger (Flink's
//! GlobalWindows; its default trigger never fires).
class GlobalWindows {
 public:
  using WindowType = GlobalWindow;
  static constexpr bool kMerging = false;
  static GlobalWindows Create() { return {}; }
  bool IsEventTime() const { return false; }
  template <typename T>
  void AssignWindows(const T&, int64_t, int64_t, std::vector<GlobalWindow>& out) const {
    out.emplace_back();
  }
  NeverTrigger DefaultTrigger() const { return NeverTrigger::Create(); }
};

}  // namespace sluice
