// What a window operator keeps per window and how it turns that into results: the window's
// keyed state in the window's namespace together with the window function (Flink's window state
// plus InternalWindowFunction). Four kinds: a ReducingState (Reduce), an accumulator
// (Aggregate), a ListState of the elements (Process), and a ListState of the elements with their
// timestamps that an evictor prunes (any of the three with an Evictor). Task thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/evictors.h"
#include "sluice/state.h"
#include "sluice/window_functions.h"

namespace sluice {
namespace internal {

inline constexpr char kWindowContentsState[] = "window-contents";

template <typename K, typename IN, typename OUT, typename W>
class WindowContents {
 public:
  virtual ~WindowContents() = default;
  //! Takes the state handles and opens the user functions.
  virtual void Open(KeyedStateStore<K>& store, RuntimeContext& ctx) = 0;
  //! Makes the contents of `state_window` (for the current key) current.
  virtual void SetWindow(const W& state_window) = 0;
  virtual void Add(const IN& in, int64_t timestamp) = 0;
  //! Runs the window function over the current contents for window `ctx.Window()`; nothing
  //! when they are empty.
  virtual void Emit(const K& key, WindowContext<K, W>& ctx, EvictorContext& evictor_ctx,
                    Collector<OUT>& out) = 0;
  virtual void Clear() = 0;
  //! Merges the contents of `sources` into `target`, clearing the sources.
  virtual void MergeNamespaces(const W& target, const std::vector<W>& sources) = 0;
  //! The window function's Clear (the window is purged for good).
  virtual void ClearFunction(WindowContext<K, W>& ctx) = 0;
  virtual void Close() = 0;
};

//! How Reduce and Aggregate fold records into one value per window (or pane): the accumulator
//! type ACC, what a fired window hands its window function (RES), and the three steps. Both
//! keep one ACC in a ValueState; only these steps differ.
template <typename IN>
struct ReduceFold {
  using Acc = IN;
  using Result = IN;
  std::function<IN(const IN&, const IN&)> reduce;
  IN Add(const IN* acc, const IN& in) const { return acc ? reduce(*acc, in) : in; }
  IN Merge(IN a, const IN& b) const { return reduce(a, b); }
  const IN& GetResult(const IN& acc) const { return acc; }
};

template <typename IN, typename ACC, typename AOUT>
struct AggregateFold {
  using Acc = ACC;
  using Result = AOUT;
  std::shared_ptr<AggregateFunction<IN, ACC, AOUT>> agg;
  ACC Add(const ACC* acc, const IN& in) const {
    return agg->Add(in, acc ? *acc : agg->CreateAccumulator());
  }
  ACC Merge(ACC a, const ACC& b) const { return agg->Merge(std::move(a), b); }
  AOUT GetResult(const ACC& acc) const { return agg->GetResult(acc); }
};

//! Reduce or Aggregate (Fold): one accumulator per window.
template <typename K, typename IN, typename OUT, typename W, typename Fold>
class FoldingContents final : public WindowContents<K, IN, OUT, W> {
  using ACC = typename Fold::Acc;
  using RES = typename Fold::Result;

 public:
  FoldingContents(Fold fold, std::unique_ptr<ProcessWindowFunction<RES, OUT, K, W>> fn)
      : fold_(std::move(fold)), fn_(std::move(fn)) {}
  void Open(KeyedStateStore<K>& store, RuntimeContext& ctx) override {
    state_ = store.template GetValueState<ACC, W>(kWindowContentsState);
    fn_->Open(ctx);
  }
  void SetWindow(const W& w) override { state_.SetCurrentNamespace(w); }
  void Add(const IN& in, int64_t) override { state_.Update(fold_.Add(state_.Get(), in)); }
  void Emit(const K& key, WindowContext<K, W>& ctx, EvictorContext&, Collector<OUT>& out) override {
    const ACC* acc = state_.Get();
    if (!acc) return;
    std::vector<RES> one{fold_.GetResult(*acc)};
    fn_->Process(key, ctx, one, out);
  }
  void Clear() override { state_.Clear(); }
  void MergeNamespaces(const W& target, const std::vector<W>& sources) override {
    std::optional<ACC> merged;
    for (const W& s : sources) {
      state_.SetCurrentNamespace(s);
      if (const ACC* v = state_.Get()) {
        merged = merged ? fold_.Merge(std::move(*merged), *v) : *v;
        state_.Clear();
      }
    }
    state_.SetCurrentNamespace(target);
    if (!merged) return;
    const ACC* t = state_.Get();
    state_.Update(t ? fold_.Merge(std::move(*merged), *t) : std::move(*merged));
  }
  void ClearFunction(WindowContext<K, W>& ctx) override { fn_->Clear(ctx); }
  void Close() override { fn_->Close(); }

 private:
  Fold fold_;
  std::unique_ptr<ProcessWindowFunction<RES, OUT, K, W>> fn_;
  Namespaced<ValueState<ACC>, W> state_;
};

//! Reduce: one reduced value per window.
template <typename K, typename IN, typename OUT, typename W>
using ReducingContents = FoldingContents<K, IN, OUT, W, ReduceFold<IN>>;

//! Aggregate: one accumulator per window.
template <typename K, typename IN, typename ACC, typename AOUT, typename OUT, typename W>
using AggregatingContents = FoldingContents<K, IN, OUT, W, AggregateFold<IN, ACC, AOUT>>;

//! Process: every element, in arrival order (after a merge: the kept window's, then the others').
template <typename K, typename IN, typename OUT, typename W>
class ListContents final : public WindowContents<K, IN, OUT, W> {
 public:
  explicit ListContents(std::unique_ptr<ProcessWindowFunction<IN, OUT, K, W>> fn)
      : fn_(std::move(fn)) {}
  void Open(KeyedStateStore<K>& store, RuntimeContext& ctx) override {
    state_ = store.template GetListState<IN, W>(kWindowContentsState);
    fn_->Open(ctx);
  }
  void SetWindow(const W& w) override { state_.SetCurrentNamespace(w); }
  void Add(const IN& in, int64_t) override { state_.Add(in); }
  void Emit(const K& key, WindowContext<K, W>& ctx, EvictorContext&, Collector<OUT>& out) override {
    std::vector<IN> elements = state_.Get();
    if (elements.empty()) return;
    fn_->Process(key, ctx, elements, out);
  }
  void Clear() override { state_.Clear(); }
  void MergeNamespaces(const W& target, const std::vector<W>& sources) override {
    std::vector<IN> merged;
    for (const W& s : sources) {
      state_.SetCurrentNamespace(s);
      std::vector<IN> items = state_.Get();
      if (items.empty()) continue;
      merged.insert(merged.end(), items.begin(), items.end());
      state_.Clear();
    }
    state_.SetCurrentNamespace(target);
    if (merged.empty()) return;
    state_.AddAll(merged);
  }
  void ClearFunction(WindowContext<K, W>& ctx) override { fn_->Clear(ctx); }
  void Close() override { fn_->Close(); }

 private:
  std::unique_ptr<ProcessWindowFunction<IN, OUT, K, W>> fn_;
  Namespaced<ListState<IN>, W> state_;
};

//! Any window function with an evictor: every element with its timestamp; the evictor prunes
//! them before and after the function runs, and what is left stays (Flink's
//! EvictingWindowOperator).
template <typename K, typename IN, typename OUT, typename W>
class EvictingContents final : public WindowContents<K, IN, OUT, W> {
 public:
  EvictingContents(std::unique_ptr<Evictor<IN, W>> evictor,
                   std::unique_ptr<ProcessWindowFunction<IN, OUT, K, W>> fn)
      : evictor_(std::move(evictor)), fn_(std::move(fn)) {}
  void Open(KeyedStateStore<K>& store, RuntimeContext& ctx) override {
    state_ = store.template GetListState<TimestampedValue<IN>, W>(kWindowContentsState);
    fn_->Open(ctx);
  }
  void SetWindow(const W& w) override {
    window_ = w;
    state_.SetCurrentNamespace(w);
  }
  void Add(const IN& in, int64_t timestamp) override {
    state_.Add(TimestampedValue<IN>{in, timestamp});
  }
  void Emit(const K& key, WindowContext<K, W>& ctx, EvictorContext& evictor_ctx,
            Collector<OUT>& out) override {
    std::vector<TimestampedValue<IN>> elements = state_.Get();
    if (elements.empty()) return;
    int size = static_cast<int>(elements.size());
    evictor_->EvictBefore(elements, size, ctx.Window(), evictor_ctx);
    std::vector<IN> values;
    values.reserve(elements.size());
    for (const auto& e : elements) values.push_back(e.value);
    fn_->Process(key, ctx, values, out);
    evictor_->EvictAfter(elements, size, ctx.Window(), evictor_ctx);
    state_.SetCurrentNamespace(window_);  // the function may not have moved it, but be sure
    state_.Update(std::move(elements));
  }
  void Clear() override { state_.Clear(); }
  void MergeNamespaces(const W& target, const std::vector<W>& sources) override {
    std::vector<TimestampedValue<IN>> merged;
    for (const W& s : sources) {
      state_.SetCurrentNamespace(s);
      std::vector<TimestampedValue<IN>> items = state_.Get();
      if (items.empty()) continue;
      merged.insert(merged.end(), items.begin(), items.end());
      state_.Clear();
    }
    SetWindow(target);
    if (!merged.empty()) state_.AddAll(merged);
  }
  void ClearFunction(WindowContext<K, W>& ctx) override { fn_->Clear(ctx); }
  void Close() override { fn_->Close(); }

 private:
  std::unique_ptr<Evictor<IN, W>> evictor_;
  std::unique_ptr<ProcessWindowFunction<IN, OUT, K, W>> fn_;
  Namespaced<ListState<TimestampedValue<IN>>, W> state_;
  W window_{};
};

}  // namespace internal
}  // namespace sluice
