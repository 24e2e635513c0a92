// Triggers decide when a window emits its contents and when its contents are purged (Flink's
// Trigger). A Trigger<T, W> is called by the window operator on the task thread, for the current
// key and one window: on every element added to the window, when a timer it registered fires, on
// a merge of session windows, and when the window is cleared. Per-window trigger state lives in
// keyed state scoped to the window (TriggerContext::GetValueState / GetReducingState).
//
// The built-in triggers (EventTimeTrigger, ProcessingTimeTrigger, CountTrigger, PurgingTrigger,
// ContinuousEventTimeTrigger, NeverTrigger) are plain values usable with any element and window
// type; WindowedStream::Trigger wraps them (TriggerAdapter) into a Trigger<T, W>.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/environment.h"
#include "sluice/state_types.h"
#include "sluice/windows.h"

namespace sluice {

//! What a trigger asks of the window operator (Flink's TriggerResult).
enum class TriggerResult { kContinue, kFire, kPurge, kFireAndPurge };

inline bool IsFire(TriggerResult r) {
  return r == TriggerResult::kFire || r == TriggerResult::kFireAndPurge;
}
inline bool IsPurge(TriggerResult r) {
  return r == TriggerResult::kPurge || r == TriggerResult::kFireAndPurge;
}

//! Per-window trigger state of type T: one value for the current key and window.
template <typename T, typename W>
class TriggerValueState {
 public:
  explicit TriggerValueState(Namespaced<ValueState<std::string>, W> raw) : raw_(raw) {}
  std::optional<T> Get() const {
    const std::string* bytes = raw_.Get();
    if (!bytes) return std::nullopt;
    T v{};
    internal::DeserializeFrom(*bytes, v);
    return v;
  }
  void Update(const T& v) {
    ByteWriter w;
    raw_.Update(internal::SerializeToString(v, w));
  }
  void Clear() { raw_.Clear(); }

 private:
  Namespaced<ValueState<std::string>, W> raw_;
};

//! Per-window trigger state folded with a reduce function on Add (Flink's ReducingState).
template <typename T, typename W>
class TriggerReducingState {
 public:
  TriggerReducingState(Namespaced<ValueState<std::string>, W> raw,
                       std::function<T(const T&, const T&)> reduce)
      : value_(raw), reduce_(std::move(reduce)) {}
  std::optional<T> Get() const { return value_.Get(); }
  void Add(const T& v) {
    std::optional<T> acc = value_.Get();
    value_.Update(acc ? reduce_(*acc, v) : v);
  }
  void Clear() { value_.Clear(); }

 private:
  TriggerValueState<T, W> value_;
  std::function<T(const T&, const T&)> reduce_;
};

//! What a trigger may do for the current key and window (Flink's Trigger.TriggerContext).
//! Implemented by the window operator; valid during the call it is passed to.
template <typename W>
class TriggerContext {
 public:
  virtual ~TriggerContext() = default;
  virtual int64_t CurrentWatermark() const = 0;
  virtual int64_t CurrentProcessingTime() const = 0;
  virtual void RegisterEventTimeTimer(int64_t time) = 0;
  virtual void DeleteEventTimeTimer(int64_t time) = 0;
  virtual void RegisterProcessingTimeTimer(int64_t time) = 0;
  virtual void DeleteProcessingTimeTimer(int64_t time) = 0;

  //! Trigger state `name` of the current window; a handle is valid for this call only.
  template <typename T>
  TriggerValueState<T, W> GetValueState(const std::string& name) {
    return TriggerValueState<T, W>(RawState(name));
  }
  template <typename T>
  TriggerReducingState<T, W> GetReducingState(const std::string& name,
                                              std::function<T(const T&, const T&)> reduce) {
    return TriggerReducingState<T, W>(RawState(name), std::move(reduce));
  }

 protected:
  //! The serialized state `name`, its namespace set to the current window.
  virtual Namespaced<ValueState<std::string>, W> RawState(const std::string& name) = 0;
};

//! The context of Trigger::OnMerge: the current window is the result of the merge.
template <typename W>
class OnMergeContext : public TriggerContext<W> {
 public:
  //! The windows merged into the current one (Flink's mergedWindows).
  virtual const std::vector<W>& MergedWindows() const = 0;
  //! Folds the reducing state `name` of every merged window into the current window's, clearing
  //! theirs (Flink's mergePartitionedState).
  template <typename T>
  void MergePartitionedState(const std::string& name, std::function<T(const T&, const T&)> reduce) {
    Namespaced<ValueState<std::string>, W> raw = this->RawState(name);
    std::optional<T> acc;
    for (const W& w : MergedWindows()) {
      raw.SetCurrentNamespace(w);
      std::optional<T> v = TriggerValueState<T, W>(raw).Get();
      if (!v) continue;
      raw.Clear();
      acc = acc ? reduce(*acc, *v) : *v;
    }
    raw = this->RawState(name);  // back to the current window
    if (!acc) return;
    TriggerReducingState<T, W>(raw, reduce).Add(*acc);
  }
};

//! User triggers derive from this (Flink's Trigger). One instance per operator instance.
template <typename T, typename W>
class Trigger {
 public:
  using ElementType = T;
  using WindowType = W;
  virtual ~Trigger() = default;
  virtual TriggerResult OnElement(const T& element, int64_t timestamp, const W& window,
                                  TriggerContext<W>& ctx) = 0;
  virtual TriggerResult OnEventTime(int64_t time, const W& window, TriggerContext<W>& ctx) = 0;
  virtual TriggerResult OnProcessingTime(int64_t time, const W& window, TriggerContext<W>& ctx) = 0;
  //! Whether OnMerge is implemented (merging assigners need it).
  virtual bool CanMerge() const { return false; }
  virtual void OnMerge(const W& window, OnMergeContext<W>& ctx) {
    (void)window;
    (void)ctx;
    throw std::logic_error("this trigger does not support merging");
  }
  //! The window is being purged for good: delete its timers and state.
  virtual void Clear(const W& window, TriggerContext<W>& ctx) = 0;
};

//! Makes a built-in trigger value `Tr` (template member functions) a Trigger<T, W>.
template <typename T, typename W, typename Tr>
class TriggerAdapter final : public Trigger<T, W> {
 public:
  explicit TriggerAdapter(Tr trigger) : trigger_(std::move(trigger)) {}
  TriggerResult OnElement(const T& element, int64_t timestamp, const W& window,
                          TriggerContext<W>& ctx) override {
    return trigger_.OnElement(element, timestamp, window, ctx);
  }
  TriggerResult OnEventTime(int64_t time, const W& window, TriggerContext<W>& ctx) override {
    return trigger_.OnEventTime(time, window, ctx);
  }
  TriggerResult OnProcessingTime(int64_t time, const W& window, TriggerContext<W>& ctx) override {
    return trigger_.OnProcessingTime(time, window, ctx);
  }
  bool CanMerge() const override { return trigger_.CanMerge(); }
  void OnMerge(const W& window, OnMergeContext<W>& ctx) override { trigger_.OnMerge(window, ctx); }
  void Clear(const W& window, TriggerContext<W>& ctx) override { trigger_.Clear(window, ctx); }

 private:
  Tr trigger_;
};

//! A factory of Trigger<T, W> from a trigger value: a Trigger<T, W> subclass is copied, a
//! built-in one adapted.
template <typename T, typename W, typename Tr>
std::function<std::unique_ptr<Trigger<T, W>>()> MakeTriggerFactory(Tr trigger) {
  if constexpr (std::is_base_of_v<Trigger<T, W>, Tr>) {
    return [trigger]() -> std::unique_ptr<Trigger<T, W>> { return std::make_unique<Tr>(trigger); };
  } else {
    return [trigger]() -> std::unique_ptr<Trigger<T, W>> {
      return std::make_unique<TriggerAdapter<T, W, Tr>>(trigger);
    };
  }
}

//! Fires once the watermark passes the window's end (Flink's EventTimeTrigger); the default of
//! event-time assigners. A late element within the allowed lateness fires the window again.
class EventTimeTrigger {
 public:
  static EventTimeTrigger Create() { return {}; }
  template <typename T, typename W>
  TriggerResult OnElement(const T&, int64_t, const W& window, TriggerContext<W>& ctx) const {
    if (window.MaxTimestamp() <= ctx.CurrentWatermark()) return TriggerResult::kFire;
    ctx.RegisterEventTimeTimer(window.MaxTimestamp());
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult OnEventTime(int64_t time, const W& window, TriggerContext<W>&) const {
    return time == window.MaxTimestamp() ? TriggerResult::kFire : TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult OnProcessingTime(int64_t, const W&, TriggerContext<W>&) const {
    return TriggerResult::kContinue;
  }
  bool CanMerge() const { return true; }
  template <typename W>
  void OnMerge(const W& window, OnMergeContext<W>& ctx) const {
    // Only register a timer if the watermark is not past the end of the merged window yet: else
    // the window fired already and firing it again belongs to the next element (FLINK-5099).
    if (window.MaxTimestamp() > ctx.CurrentWatermark()) {
      ctx.RegisterEventTimeTimer(window.MaxTimestamp());
    }
  }
  template <typename W>
  void Clear(const W& window, TriggerContext<W>& ctx) const {
    ctx.DeleteEventTimeTimer(window.MaxTimestamp());
  }
};

//! Fires when the host's clock passes the window's end (Flink's ProcessingTimeTrigger).
class ProcessingTimeTrigger {
 public:
  static ProcessingTimeTrigger Create() { return {}; }
  template <typename T, typename W>
  TriggerResult OnElement(const T&, int64_t, const W& window, TriggerContext<W>& ctx) const {
    ctx.RegisterProcessingTimeTimer(window.MaxTimestamp());
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult OnEventTime(int64_t, const W&, TriggerContext<W>&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult OnProcessingTime(int64_t, const W&, TriggerContext<W>&) const {
    return TriggerResult::kFire;
  }
  bool CanMerge() const { return true; }
  template <typename W>
  void OnMerge(const W& window, OnMergeContext<W>& ctx) const {
    if (window.MaxTimestamp() > ctx.CurrentProcessingTime()) {
      ctx.RegisterProcessingTimeTimer(window.MaxTimestamp());
    }
  }
  template <typename W>
  void Clear(const W& window, TriggerContext<W>& ctx) const {
    ctx.DeleteProcessingTimeTimer(window.MaxTimestamp());
  }
};

//! Never fires: the default trigger of GlobalWindows (Flink's GlobalWindows.NeverTrigger).
class NeverTrigger {
 public:
  static NeverTrigger Create() { return {}; }
  template <typename T, typename W>
  TriggerResult OnElement(const T&, int64_t, const W&, TriggerContext<W>&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult OnEventTime(int64_t, const W&, TriggerContext<W>&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult OnProcessingTime(int64_t, const W&, TriggerContext<W>&) const {
    return TriggerResult::kContinue;
  }
  bool CanMerge() const { return true; }
  template <typename W>
  void OnMerge(const W&, OnMergeContext<W>&) const {}
  template <typename W>
  void Clear(const W&, TriggerContext<W>&) const {}
};

namespace internal {
inline int64_t Sum(const int64_t& a, const int64_t& b) { return a + b; }
inline int64_t Min(const int64_t& a, const int64_t& b) { return std::min(a, b); }
}  // namespace internal

//! Fires every `max_count` elements of a window, counting in trigger state "count" (Flink's
//! CountTrigger). It does not purge: wrap it in PurgingTrigger for that.
class CountTrigger {
 public:
  static CountTrigger Of(int64_t max_count) {
    if (max_count <= 0) throw JobDefinitionError("CountTrigger::Of: the count must be positive");
    CountTrigger t;
    t.max_count_ = max_count;
    return t;
  }
  int64_t max_count() const { return max_count_; }
  template <typename T, typename W>
  TriggerResult OnElement(const T&, int64_t, const W&, TriggerContext<W>& ctx) const {
    auto count = ctx.template GetReducingState<int64_t>(kState, internal::Sum);
    count.Add(1);
    if (*count.Get() >= max_count_) {
      count.Clear();
      return TriggerResult::kFire;
    }
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult OnEventTime(int64_t, const W&, TriggerContext<W>&) const {
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult OnProcessingTime(int64_t, const W&, TriggerContext<W>&) const {
    return TriggerResult::kContinue;
  }
  bool CanMerge() const { return true; }
  template <typename W>
  void OnMerge(const W&, OnMergeContext<W>& ctx) const {
    ctx.template MergePartitionedState<int64_t>(kState, internal::Sum);
  }
  template <typename W>
  void Clear(const W&, TriggerContext<W>& ctx) const {
    ctx.template GetReducingState<int64_t>(kState, internal::Sum).Clear();
  }

 private:
  static constexpr const char* kState = "count";
  int64_t max_count_ = 1;
};

//! Makes any trigger purge the window whenever it fires (Flink's PurgingTrigger).
template <typename Tr>
class PurgingTriggerOf {
 public:
  explicit PurgingTriggerOf(Tr nested) : nested_(std::move(nested)) {}
  template <typename T, typename W>
  TriggerResult OnElement(const T& e, int64_t ts, const W& w, TriggerContext<W>& ctx) {
    return Purging(nested_.OnElement(e, ts, w, ctx));
  }
  template <typename W>
  TriggerResult OnEventTime(int64_t time, const W& w, TriggerContext<W>& ctx) {
    return Purging(nested_.OnEventTime(time, w, ctx));
  }
  template <typename W>
  TriggerResult OnProcessingTime(int64_t time, const W& w, TriggerContext<W>& ctx) {
    return Purging(nested_.OnProcessingTime(time, w, ctx));
  }
  bool CanMerge() const { return nested_.CanMerge(); }
  template <typename W>
  void OnMerge(const W& w, OnMergeContext<W>& ctx) {
    nested_.OnMerge(w, ctx);
  }
  template <typename W>
  void Clear(const W& w, TriggerContext<W>& ctx) {
    nested_.Clear(w, ctx);
  }
  const Tr& nested() const { return nested_; }

 private:
  static TriggerResult Purging(TriggerResult r) {
    return IsFire(r) ? TriggerResult::kFireAndPurge : r;
  }
  Tr nested_;
};

class PurgingTrigger {
 public:
  template <typename Tr>
  static PurgingTriggerOf<Tr> Of(Tr nested) {
    return PurgingTriggerOf<Tr>(std::move(nested));
  }
};

//! Fires every `interval` of event time within the window, aligned to multiples of the
//! interval, and at the window's end (Flink's ContinuousEventTimeTrigger). The next firing time
//! lives in trigger state "fire-time".
class ContinuousEventTimeTrigger {
 public:
  static ContinuousEventTimeTrigger Of(std::chrono::milliseconds interval) {
    if (interval.count() <= 0) {
      throw JobDefinitionError("ContinuousEventTimeTrigger::Of: the interval must be positive");
    }
    ContinuousEventTimeTrigger t;
    t.interval_ = interval.count();
    return t;
  }
  int64_t interval_ms() const { return interval_; }
  template <typename T, typename W>
  TriggerResult OnElement(const T&, int64_t timestamp, const W& window,
                          TriggerContext<W>& ctx) const {
    if (window.MaxTimestamp() <= ctx.CurrentWatermark()) return TriggerResult::kFire;
    ctx.RegisterEventTimeTimer(window.MaxTimestamp());
    auto fire_time = ctx.template GetReducingState<int64_t>(kState, internal::Min);
    if (!fire_time.Get()) {
      RegisterNextFireTimestamp(timestamp - (timestamp % interval_), window, ctx, fire_time);
    }
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult OnEventTime(int64_t time, const W& window, TriggerContext<W>& ctx) const {
    if (time == window.MaxTimestamp()) return TriggerResult::kFire;
    auto fire_time = ctx.template GetReducingState<int64_t>(kState, internal::Min);
    std::optional<int64_t> next = fire_time.Get();
    if (next && *next == time) {
      fire_time.Clear();
      RegisterNextFireTimestamp(time, window, ctx, fire_time);
      return TriggerResult::kFire;
    }
    return TriggerResult::kContinue;
  }
  template <typename W>
  TriggerResult OnProcessingTime(int64_t, const W&, TriggerContext<W>&) const {
    return TriggerResult::kContinue;
  }
  bool CanMerge() const { return true; }
  template <typename W>
  void OnMerge(const W&, OnMergeContext<W>& ctx) const {
    ctx.template MergePartitionedState<int64_t>(kState, internal::Min);
    std::optional<int64_t> next =
        ctx.template GetReducingState<int64_t>(kState, internal::Min).Get();
    if (next) ctx.RegisterEventTimeTimer(*next);
  }
  template <typename W>
  void Clear(const W&, TriggerContext<W>& ctx) const {
    auto fire_time = ctx.template GetReducingState<int64_t>(kState, internal::Min);
    if (std::optional<int64_t> next = fire_time.Get()) ctx.DeleteEventTimeTimer(*next);
    fire_time.Clear();
  }

 private:
  template <typename W>
  void RegisterNextFireTimestamp(int64_t time, const W& window, TriggerContext<W>& ctx,
                                 TriggerReducingState<int64_t, W>& fire_time) const {
    int64_t next = std::min(internal::SaturatingAdd(time, interval_), window.MaxTimestamp());
    fire_time.Add(next);
    ctx.RegisterEventTimeTimer(next);
  }
  static constexpr const char* kState = "fire-time";
  int64_t interval_ = 1;
};

}  // namespace sluice
