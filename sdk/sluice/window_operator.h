// WindowOperator: groups the records of each key into windows and emits a result per window when
// its trigger fires (Flink's WindowOperator, and EvictingWindowOperator through the evicting
// window contents). Window contents, trigger state and the in-flight session windows are keyed
// state (KeyedStateStore, namespaced by window), timers are the host's (KeyedTimers namespaced by
// window), so a snapshot of the store and the host's timers is a snapshot of every pending
// window. Built by WindowedStream; one instance per subtask, run by its task thread.
//
// Event time, as Flink: a window fires when the watermark reaches its MaxTimestamp() (default
// trigger), and its state is dropped at its cleanup time, MaxTimestamp() + allowed lateness
// (saturating; processing-time windows at MaxTimestamp()). A record whose windows are all past
// their cleanup time is late: it goes to the late-data side output when one is set, else it is
// dropped and counted (num_late_records_dropped, the numLateRecordsDropped metric).
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sluice/evictors.h"
#include "sluice/internal/merging_window_set.h"
#include "sluice/internal/window_contents.h"
#include "sluice/runtime.h"
#include "sluice/state.h"
#include "sluice/timers.h"
#include "sluice/triggers.h"
#include "sluice/window_functions.h"
#include "sluice/windows.h"

namespace sluice {

//! What the host may ask of any window operator, whatever its types.
class WindowOperatorBase {
 public:
  virtual ~WindowOperatorBase() = default;
  //! Late records dropped because no late-data side output is set (numLateRecordsDropped).
  virtual int64_t num_late_records_dropped() const = 0;
};

//! Settings of a window operator besides its functions.
struct WindowOptions {
  //! How long after a window's end late records still update it (event time only). Default 0.
  int64_t allowed_lateness_ms = 0;
  //! The OutputTag id late records go to; empty (default): they are dropped and counted.
  std::string late_data_tag;
};

template <typename K, typename IN, typename OUT, typename Assigner, typename KeyFn>
class WindowOperator final : public InputOperator<IN>, public WindowOperatorBase {
 public:
  using W = typename Assigner::WindowType;

  WindowOperator(KeyFn key_fn, Assigner assigner, std::unique_ptr<Trigger<IN, W>> trigger,
                 std::unique_ptr<internal::WindowContents<K, IN, OUT, W>> contents,
                 WindowOptions options)
      : key_fn_(std::move(key_fn)),
        assigner_(std::move(assigner)),
        trigger_(std::move(trigger)),
        contents_(std::move(contents)),
        options_(std::move(options)),
        trigger_ctx_(this),
        process_ctx_(this) {
    if (options_.allowed_lateness_ms < 0) {
      throw std::invalid_argument("the allowed lateness of a window cannot be negative");
    }
    if constexpr (Assigner::kMerging) {
      if (!trigger_->CanMerge()) {
        throw std::invalid_argument(
            "a merging window assigner needs a trigger that supports merging");
      }
    }
  }

  void InitializeState(InitContext& ctx) override {
    store_.Initialize(ctx);
    timers_.Initialize(ctx, "window-timers", &store_,
                       [this](TimeDomain domain, int64_t time, const W& window) {
                         OnTimer(domain, time, window);
                       });
  }
  void SnapshotState(SnapshotContext& ctx) override { store_.Snapshot(ctx); }

  void Open(RuntimeContext& ctx, Output& out) override {
    InputOperator<IN>::Open(ctx, out);
    collector_.Reset(&out);
    contents_->Open(store_, ctx);
    if constexpr (Assigner::kMerging) {
      merging_sets_ = store_.template GetValueState<std::vector<std::pair<W, W>>>(kMergingSetState);
    }
  }
  void Close() override { contents_->Close(); }

  void Process(const IN& in) override {
    store_.SetCurrentKey(key_fn_(in));
    const int64_t timestamp = this->ctx_->CurrentTimestamp();
    if (assigner_.IsEventTime() && timestamp == kNoTimestamp) {
      throw std::runtime_error("event-time window in task '" + this->ctx_->TaskName() +
                               "' needs timestamps: assign them with AssignTimestampsAndWatermarks "
                               "before the window (a record has none)");
    }
    windows_.clear();
    assigner_.AssignWindows(in, timestamp, timers_.CurrentProcessingTime(), windows_);
    bool skipped = true;
    if constexpr (Assigner::kMerging) {
      internal::MergingWindowSet<W> set = LoadMergingSet();
      for (const W& window : windows_) {
        W actual =
            set.AddWindow(window, [&](const W& result, const std::vector<W>& merged,
                                      const W& state_result, const std::vector<W>& merged_state) {
              OnMerge(result, merged, state_result, merged_state);
            });
        if (IsWindowLate(actual)) {
          set.RetireWindow(actual);
          continue;
        }
        skipped = false;
        const W* state_window = set.GetStateWindow(actual);
        if (!state_window) {
          throw std::logic_error("window " + actual.ToString() + " is not in the in-flight set");
        }
        AddAndTrigger(in, timestamp, actual, *state_window);
      }
      PersistMergingSet(set);
    } else {
      for (const W& window : windows_) {
        if (IsWindowLate(window)) continue;
        skipped = false;
        AddAndTrigger(in, timestamp, window, window);
      }
    }
    if (skipped && IsElementLate(timestamp)) {
      if (!options_.late_data_tag.empty()) {
        this->ctx_->SetCurrentTimestamp(timestamp);
        this->out_->EmitSideOutput(options_.late_data_tag, &in);
      } else {
        ++num_late_records_dropped_;
        this->ctx_->AddLateRecordsDropped(1);  // the host's numLateRecordsDropped metric
      }
    }
  }

  int64_t num_late_records_dropped() const override { return num_late_records_dropped_; }

 private:
  static constexpr char kMergingSetState[] = "merging-window-set";

  //! The trigger's view, for the current key and `window` (and `merged` during OnMerge).
  class TriggerCtx final : public OnMergeContext<W> {
   public:
    explicit TriggerCtx(WindowOperator* op) : op_(op) {}
    int64_t CurrentWatermark() const override { return op_->timers_.CurrentWatermark(); }
    int64_t CurrentProcessingTime() const override { return op_->timers_.CurrentProcessingTime(); }
    void RegisterEventTimeTimer(int64_t t) override {
      op_->timers_.RegisterEventTimeTimer(t, window);
    }
    void DeleteEventTimeTimer(int64_t t) override { op_->timers_.DeleteEventTimeTimer(t, window); }
    void RegisterProcessingTimeTimer(int64_t t) override {
      op_->timers_.RegisterProcessingTimeTimer(t, window);
    }
    void DeleteProcessingTimeTimer(int64_t t) override {
      op_->timers_.DeleteProcessingTimeTimer(t, window);
    }
    const std::vector<W>& MergedWindows() const override { return merged; }

    W window{};
    std::vector<W> merged;

   protected:
    Namespaced<ValueState<std::string>, W> RawState(const std::string& name) override {
      // Prefixed: a trigger's state never collides with the window function's.
      auto state = op_->store_.template GetValueState<std::string, W>("trigger/" + name);
      state.SetCurrentNamespace(window);
      return state;
    }

   private:
    WindowOperator* op_;
  };

  //! The window function's and the evictor's view.
  class ProcessCtx final : public WindowContext<K, W>, public EvictorContext {
   public:
    explicit ProcessCtx(WindowOperator* op)
        : op_(op), window_state_(&op->store_), global_state_(&op->store_) {}
    void SetWindow(const W& w) {
      window_ = w;
      window_state_.SetNamespace(w);
    }
    const W& Window() const override { return window_; }
    int64_t CurrentWatermark() const override { return op_->timers_.CurrentWatermark(); }
    int64_t CurrentProcessingTime() const override { return op_->timers_.CurrentProcessingTime(); }
    ScopedKeyedState<K, W>& WindowState() override {
      // As Flink's MergingWindowStateStore: the function's state of merged windows could not be
      // merged into the result's, so it is refused rather than leaked.
      if constexpr (Assigner::kMerging) {
        throw std::logic_error(
            "per-window state (WindowState) is not supported with merging windows (sessions)");
      }
      return window_state_;
    }
    ScopedKeyedState<K, VoidNamespace>& GlobalState() override { return global_state_; }

   protected:
    void EmitSideOutput(const std::string& tag, const void* record) override {
      op_->out_->EmitSideOutput(tag, record);
    }

   private:
    WindowOperator* op_;
    W window_{};
    ScopedKeyedState<K, W> window_state_;
    ScopedKeyedState<K, VoidNamespace> global_state_;
  };

  void AddAndTrigger(const IN& in, int64_t timestamp, const W& window, const W& state_window) {
    contents_->SetWindow(state_window);
    contents_->Add(in, timestamp);
    trigger_ctx_.window = window;
    TriggerResult r = trigger_->OnElement(in, timestamp, window, trigger_ctx_);
    if (IsFire(r)) EmitWindowContents(window, state_window);
    if (IsPurge(r)) {
      contents_->SetWindow(state_window);
      contents_->Clear();
    }
    RegisterCleanupTimer(window);
  }

  //! Merging windows: what Flink's MergingWindowSet.MergeFunction does in WindowOperator.
  void OnMerge(const W& result, const std::vector<W>& merged, const W& state_result,
               const std::vector<W>& merged_state) {
    if (assigner_.IsEventTime() &&
        internal::SaturatingAdd(result.MaxTimestamp(), options_.allowed_lateness_ms) <=
            timers_.CurrentWatermark()) {
      throw std::logic_error(
          "the end of an event-time window cannot become earlier than the "
          "watermark by merging: watermark " +
          std::to_string(timers_.CurrentWatermark()) + ", window " + result.ToString());
    }
    if (!assigner_.IsEventTime() && result.MaxTimestamp() <= timers_.CurrentProcessingTime()) {
      throw std::logic_error(
          "the end of a processing-time window cannot become earlier than "
          "the current processing time by merging: window " +
          result.ToString());
    }
    trigger_ctx_.window = result;
    trigger_ctx_.merged = merged;
    trigger_->OnMerge(result, trigger_ctx_);
    trigger_ctx_.merged.clear();
    for (const W& m : merged) {
      trigger_ctx_.window = m;
      trigger_->Clear(m, trigger_ctx_);
      DeleteCleanupTimer(m);
    }
    contents_->MergeNamespaces(state_result, merged_state);
  }

  void OnTimer(TimeDomain domain, int64_t time, const W& window) {
    W state_window = window;
    std::optional<internal::MergingWindowSet<W>> set;
    if constexpr (Assigner::kMerging) {
      set.emplace(LoadMergingSet());
      const W* sw = set->GetStateWindow(window);
      if (!sw) return;  // merged into another window or purged: a stale timer
      state_window = *sw;
    }
    trigger_ctx_.window = window;
    TriggerResult r = domain == TimeDomain::kEventTime
                          ? trigger_->OnEventTime(time, window, trigger_ctx_)
                          : trigger_->OnProcessingTime(time, window, trigger_ctx_);
    if (IsFire(r)) EmitWindowContents(window, state_window);
    if (IsPurge(r)) {
      contents_->SetWindow(state_window);
      contents_->Clear();
    }
    bool own_domain = (domain == TimeDomain::kEventTime) == assigner_.IsEventTime();
    if (own_domain && time == CleanupTime(window)) {
      ClearAllState(window, state_window, set ? &*set : nullptr);
    }
    if (set) PersistMergingSet(*set);
  }

  void EmitWindowContents(const W& window, const W& state_window) {
    this->ctx_->SetCurrentTimestamp(window.MaxTimestamp());
    process_ctx_.SetWindow(window);
    contents_->SetWindow(state_window);
    contents_->Emit(store_.CurrentKey(), process_ctx_, process_ctx_, collector_);
  }

  void ClearAllState(const W& window, const W& state_window, internal::MergingWindowSet<W>* set) {
    contents_->SetWindow(state_window);
    contents_->Clear();
    trigger_ctx_.window = window;
    trigger_->Clear(window, trigger_ctx_);
    process_ctx_.SetWindow(window);
    contents_->ClearFunction(process_ctx_);
    if (set) set->RetireWindow(window);
  }

  //! When the window's state goes: MaxTimestamp() + allowed lateness in event time (INT64_MAX,
  //! never, when that overflows), MaxTimestamp() in processing time.
  int64_t CleanupTime(const W& window) const {
    if (!assigner_.IsEventTime()) return window.MaxTimestamp();
    return internal::SaturatingAdd(window.MaxTimestamp(), options_.allowed_lateness_ms);
  }
  bool IsWindowLate(const W& window) const {
    return assigner_.IsEventTime() && CleanupTime(window) <= timers_.CurrentWatermark();
  }
  bool IsElementLate(int64_t timestamp) const {
    return assigner_.IsEventTime() &&
           internal::SaturatingAdd(timestamp, options_.allowed_lateness_ms) <=
               timers_.CurrentWatermark();
  }
  void RegisterCleanupTimer(const W& window) {
    int64_t t = CleanupTime(window);
    if (t == INT64_MAX) return;  // never: the window lives as long as the job
    if (assigner_.IsEventTime()) {
      timers_.RegisterEventTimeTimer(t, window);
    } else {
      timers_.RegisterProcessingTimeTimer(t, window);
    }
  }
  void DeleteCleanupTimer(const W& window) {
    int64_t t = CleanupTime(window);
    if (t == INT64_MAX) return;
    if (assigner_.IsEventTime()) {
      timers_.DeleteEventTimeTimer(t, window);
    } else {
      timers_.DeleteProcessingTimeTimer(t, window);
    }
  }

  internal::MergingWindowSet<W> LoadMergingSet() {
    const std::vector<std::pair<W, W>>* stored = merging_sets_.Get();
    return internal::MergingWindowSet<W>(&Assigner::MergeWindows,
                                         stored ? *stored : std::vector<std::pair<W, W>>{});
  }
  void PersistMergingSet(const internal::MergingWindowSet<W>& set) {
    if (!set.Changed()) return;
    if (set.size() == 0) {
      merging_sets_.Clear();
    } else {
      merging_sets_.Update(set.Entries());
    }
  }

  KeyFn key_fn_;
  Assigner assigner_;
  std::unique_ptr<Trigger<IN, W>> trigger_;
  std::unique_ptr<internal::WindowContents<K, IN, OUT, W>> contents_;
  WindowOptions options_;
  KeyedStateStore<K> store_;
  KeyedTimers<K, W> timers_;
  ValueState<std::vector<std::pair<W, W>>> merging_sets_;
  TriggerCtx trigger_ctx_;
  ProcessCtx process_ctx_;
  Collector<OUT> collector_;
  std::vector<W> windows_;
  int64_t num_late_records_dropped_ = 0;
};

}  // namespace sluice
