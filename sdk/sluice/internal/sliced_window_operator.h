// SlicedWindowOperator: Reduce and Aggregate over sliding event-time windows by slicing time into
// panes (Flink's per-window path copies each record into size/slide windows). A pane is
// gcd(size, slide) long, so every window is a whole number of panes; each record updates the one
// pane holding its timestamp, and a window's result is the merge of its panes when it fires. The
// results, their timestamps, late-data handling and cleanup are those of WindowOperator with the
// default EventTimeTrigger, for reduce and aggregate functions whose result does not depend on
// the order of the records (as Flink's does not promise one either).
//
// Why it is the same: a window with contents fires on the same timers (its MaxTimestamp(), and
// its cleanup time) that WindowOperator registers, and a pane is dropped at the cleanup of the
// last window holding it, after which no window that holds it fires again. The timers are not
// registered for every window of every record, though: a new pane registers those of its first
// window not fired yet, and a window that fires registers those of the next one if it has
// contents. The host fires a timer registered while it fires others in the same watermark
// advance, in time order, so the results come out in the same order. Built by WindowedStream when
// the assigner is SlidingEventTimeWindows with slide < size, the trigger is the default one and
// there is no evictor. Task thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/state.h"
#include "sluice/timers.h"
#include "sluice/window_assigners.h"
#include "sluice/window_functions.h"
#include "sluice/window_operator.h"
#include "sluice/windows.h"

namespace sluice {
namespace internal {

inline constexpr char kWindowPanesState[] = "window-panes";

//! The panes of a sliced window operator: one pre-aggregate per pane, and the window function.
template <typename K, typename IN, typename OUT>
class PaneContents {
 public:
  virtual ~PaneContents() = default;
  virtual void Open(KeyedStateStore<K>& store, RuntimeContext& ctx) = 0;
  //! Adds `in` to `pane`; true when the pane was empty before.
  virtual bool Add(const TimeWindow& pane, const IN& in) = 0;
  //! Merges `panes` (in time order) and runs the window function; nothing when all are empty.
  virtual void Emit(const K& key, const std::vector<TimeWindow>& panes,
                    WindowContext<K, TimeWindow>& ctx, Collector<OUT>& out) = 0;
  virtual bool HasPane(const TimeWindow& pane) = 0;
  virtual void ClearPane(const TimeWindow& pane) = 0;
  virtual void ClearFunction(WindowContext<K, TimeWindow>& ctx) = 0;
  virtual void Close() = 0;
};

//! Reduce or Aggregate (Fold, window_contents.h): one accumulator per pane; a window merges its
//! panes' accumulators when it fires.
template <typename K, typename IN, typename OUT, typename Fold>
class FoldingPanes final : public PaneContents<K, IN, OUT> {
  using ACC = typename Fold::Acc;
  using RES = typename Fold::Result;

 public:
  FoldingPanes(Fold fold, std::unique_ptr<ProcessWindowFunction<RES, OUT, K, TimeWindow>> fn)
      : fold_(std::move(fold)), fn_(std::move(fn)) {}
  void Open(KeyedStateStore<K>& store, RuntimeContext& ctx) override {
    state_ = store.template GetValueState<ACC, TimeWindow>(kWindowPanesState);
    fn_->Open(ctx);
  }
  bool Add(const TimeWindow& pane, const IN& in) override {
    state_.SetCurrentNamespace(pane);
    const ACC* acc = state_.Get();
    const bool created = acc == nullptr;
    state_.Update(fold_.Add(acc, in));
    return created;
  }
  void Emit(const K& key, const std::vector<TimeWindow>& panes, WindowContext<K, TimeWindow>& ctx,
            Collector<OUT>& out) override {
    std::optional<ACC> acc;
    for (const TimeWindow& p : panes) {
      state_.SetCurrentNamespace(p);
      if (const ACC* v = state_.Get()) acc = acc ? fold_.Merge(std::move(*acc), *v) : *v;
    }
    if (!acc) return;
    std::vector<RES> one{fold_.GetResult(*acc)};
    fn_->Process(key, ctx, one, out);
  }
  bool HasPane(const TimeWindow& pane) override {
    state_.SetCurrentNamespace(pane);
    return state_.Get() != nullptr;
  }
  void ClearPane(const TimeWindow& pane) override {
    state_.SetCurrentNamespace(pane);
    state_.Clear();
  }
  void ClearFunction(WindowContext<K, TimeWindow>& ctx) override { fn_->Clear(ctx); }
  void Close() override { fn_->Close(); }

 private:
  Fold fold_;
  std::unique_ptr<ProcessWindowFunction<RES, OUT, K, TimeWindow>> fn_;
  Namespaced<ValueState<ACC>, TimeWindow> state_;
};

template <typename K, typename IN, typename OUT>
using ReducingPanes = FoldingPanes<K, IN, OUT, ReduceFold<IN>>;

template <typename K, typename IN, typename ACC, typename AOUT, typename OUT>
using AggregatingPanes = FoldingPanes<K, IN, OUT, AggregateFold<IN, ACC, AOUT>>;

template <typename K, typename IN, typename OUT, typename KeyFn>
class SlicedWindowOperator final : public InputOperator<IN>, public WindowOperatorBase {
 public:
  SlicedWindowOperator(KeyFn key_fn, SlidingEventTimeWindows assigner,
                       std::unique_ptr<PaneContents<K, IN, OUT>> contents, WindowOptions options)
      : key_fn_(std::move(key_fn)),
        assigner_(assigner),
        pane_(std::gcd(assigner.size(), assigner.slide())),
        contents_(std::move(contents)),
        options_(std::move(options)),
        ctx_impl_(this) {}

  void InitializeState(InitContext& ctx) override {
    store_.Initialize(ctx);
    timers_.Initialize(ctx, "window-timers", &store_,
                       [this](TimeDomain domain, int64_t time, const TimeWindow& window) {
                         if (domain == TimeDomain::kEventTime) OnTimer(time, window);
                       });
  }
  void SnapshotState(SnapshotContext& ctx) override { store_.Snapshot(ctx); }
  void Open(RuntimeContext& ctx, Output& out) override {
    InputOperator<IN>::Open(ctx, out);
    collector_.Reset(&out);
    contents_->Open(store_, ctx);
  }
  void Close() override { contents_->Close(); }

  void Process(const IN& in) override {
    store_.SetCurrentKey(key_fn_(in));
    const int64_t ts = this->ctx_->CurrentTimestamp();
    if (ts == kNoTimestamp) {
      throw std::runtime_error("event-time window in task '" + this->ctx_->TaskName() +
                               "' needs timestamps: assign them with AssignTimestampsAndWatermarks "
                               "before the window (a record has none)");
    }
    const int64_t watermark = timers_.CurrentWatermark();
    // The window holding `ts` that ends last is late only when all of them are.
    int64_t last_start =
        TimeWindow::GetWindowStartWithOffset(ts, assigner_.offset(), assigner_.slide());
    if (IsWindowLate(TimeWindow(last_start, last_start + assigner_.size()))) {
      OnLateRecord(in, ts);
      return;
    }
    int64_t pane_start =
        TimeWindow::GetWindowStartWithOffset(ts, assigner_.offset() % pane_, pane_);
    bool created = contents_->Add(TimeWindow(pane_start, pane_start + pane_), in);
    // Fast path: the pane's timers are registered, and no window of the record has ended yet.
    if (!created && ts > watermark) return;
    windows_.clear();
    assigner_.AssignWindows(in, ts, 0, windows_);
    // Newest window first: the last one to reach here is the first that has not fired yet.
    std::optional<TimeWindow> first_pending;
    for (const TimeWindow& w : windows_) {
      if (IsWindowLate(w)) continue;
      if (w.MaxTimestamp() <= watermark) {
        // EventTimeTrigger: a window past the watermark (within the lateness) fires at once.
        Fire(w);
        if (created) RegisterCleanupTimer(w);
      } else {
        first_pending = w;
      }
    }
    // The windows not fired yet get their timers one after the other (OnTimer), each when the one
    // before it fires: here only the first of them.
    if (created && first_pending) RegisterTimers(*first_pending);
  }

  int64_t num_late_records_dropped() const override { return num_late_records_dropped_; }

 private:
  class Ctx final : public WindowContext<K, TimeWindow> {
   public:
    explicit Ctx(SlicedWindowOperator* op)
        : op_(op), window_state_(&op->store_), global_state_(&op->store_) {}
    void SetWindow(const TimeWindow& w) {
      window_ = w;
      window_state_.SetNamespace(w);
    }
    const TimeWindow& Window() const override { return window_; }
    int64_t CurrentWatermark() const override { return op_->timers_.CurrentWatermark(); }
    int64_t CurrentProcessingTime() const override { return op_->timers_.CurrentProcessingTime(); }
    ScopedKeyedState<K, TimeWindow>& WindowState() override { return window_state_; }
    ScopedKeyedState<K, VoidNamespace>& GlobalState() override { return global_state_; }

   protected:
    void EmitSideOutput(const std::string& tag, const void* record) override {
      op_->out_->EmitSideOutput(tag, record);
    }

   private:
    SlicedWindowOperator* op_;
    TimeWindow window_;
    ScopedKeyedState<K, TimeWindow> window_state_;
    ScopedKeyedState<K, VoidNamespace> global_state_;
  };

  void OnTimer(int64_t time, const TimeWindow& w) {
    if (time == w.MaxTimestamp()) {
      Fire(w);
      // The next window's timers, if it has contents: registered now rather than for every
      // window of every new pane, and still before the watermark reaches them.
      TimeWindow next(w.Start() + assigner_.slide(), w.End() + assigner_.slide());
      if (HasContents(next)) RegisterTimers(next);
    }
    if (time == CleanupTime(w)) {
      // The panes whose last window is w: those starting within w's first slide.
      for (int64_t p = w.Start(); p < w.Start() + assigner_.slide(); p += pane_) {
        contents_->ClearPane(TimeWindow(p, p + pane_));
      }
      ctx_impl_.SetWindow(w);
      contents_->ClearFunction(ctx_impl_);
    }
  }

  void Fire(const TimeWindow& w) {
    panes_.clear();
    for (int64_t p = w.Start(); p < w.End(); p += pane_) panes_.emplace_back(p, p + pane_);
    this->ctx_->SetCurrentTimestamp(w.MaxTimestamp());
    ctx_impl_.SetWindow(w);
    contents_->Emit(store_.CurrentKey(), panes_, ctx_impl_, collector_);
  }

  void RegisterTimers(const TimeWindow& w) {
    timers_.RegisterEventTimeTimer(w.MaxTimestamp(), w);
    RegisterCleanupTimer(w);
  }
  void RegisterCleanupTimer(const TimeWindow& w) {
    if (CleanupTime(w) != INT64_MAX) timers_.RegisterEventTimeTimer(CleanupTime(w), w);
  }
  //! Whether any pane of `w` holds something; newest panes first, where a busy key has them.
  bool HasContents(const TimeWindow& w) {
    for (int64_t p = w.End() - pane_; p >= w.Start(); p -= pane_) {
      if (contents_->HasPane(TimeWindow(p, p + pane_))) return true;
    }
    return false;
  }

  void OnLateRecord(const IN& in, int64_t ts) {
    if (!options_.late_data_tag.empty()) {
      this->ctx_->SetCurrentTimestamp(ts);
      this->out_->EmitSideOutput(options_.late_data_tag, &in);
    } else {
      ++num_late_records_dropped_;
    }
  }

  int64_t CleanupTime(const TimeWindow& w) const {
    return SaturatingAdd(w.MaxTimestamp(), options_.allowed_lateness_ms);
  }
  bool IsWindowLate(const TimeWindow& w) const {
    return CleanupTime(w) <= timers_.CurrentWatermark();
  }

  KeyFn key_fn_;
  SlidingEventTimeWindows assigner_;
  int64_t pane_;
  std::unique_ptr<PaneContents<K, IN, OUT>> contents_;
  WindowOptions options_;
  KeyedStateStore<K> store_;
  KeyedTimers<K, TimeWindow> timers_;
  Ctx ctx_impl_;
  Collector<OUT> collector_;
  std::vector<TimeWindow> windows_, panes_;
  int64_t num_late_records_dropped_ = 0;
};

}  // namespace internal
}  // namespace sluice
