// The user functions of windows: ProcessWindowFunction (sees all of a window's elements, or the
// pre-aggregated result), AggregateFunction (incremental aggregation with an accumulator), and
// the adapters the window operator combines them with. One instance per operator instance, run on
// its task thread.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/output_tag.h"
#include "sluice/runtime.h"
#include "sluice/state.h"

namespace sluice {

//! Keyed state of the current key in one namespace (a window's, or none): what
//! ProcessWindowFunction::Context::WindowState() and GlobalState() give. A handle is scoped to
//! the namespace of the call that asked for it: ask again in each call.
template <typename K, typename N>
class ScopedKeyedState {
 public:
  explicit ScopedKeyedState(KeyedStateStore<K>* store) : store_(store) {}
  void SetNamespace(const N& ns) { ns_ = ns; }

  template <typename T>
  WithNamespace<ValueState<T>, N> GetValueState(const std::string& name) {
    return Scoped(store_->template GetValueState<T, N>(name));
  }
  template <typename T>
  WithNamespace<ListState<T>, N> GetListState(const std::string& name) {
    return Scoped(store_->template GetListState<T, N>(name));
  }
  template <typename UK, typename UV>
  WithNamespace<MapState<UK, UV>, N> GetMapState(const std::string& name) {
    return Scoped(store_->template GetMapState<UK, UV, N>(name));
  }
  template <typename T>
  WithNamespace<ReducingState<T>, N> GetReducingState(const std::string& name,
                                                      std::function<T(const T&, const T&)> reduce) {
    return Scoped(store_->template GetReducingState<T, N>(name, std::move(reduce)));
  }

 private:
  template <typename S>
  S Scoped(S state) {
    if constexpr (!internal::kVoidNamespace<N>) state.SetCurrentNamespace(ns_);
    return state;
  }
  KeyedStateStore<K>* store_;
  N ns_{};
};

//! What a window function sees of the window it is called for (Flink's
//! ProcessWindowFunction.Context). Implemented by the window operator; valid during the call.
template <typename K, typename W>
class WindowContext {
 public:
  virtual ~WindowContext() = default;
  virtual const W& Window() const = 0;
  virtual int64_t CurrentWatermark() const = 0;
  virtual int64_t CurrentProcessingTime() const = 0;
  //! State of the current key and this window: clear it in ProcessWindowFunction::Clear.
  virtual ScopedKeyedState<K, W>& WindowState() = 0;
  //! State of the current key across all its windows.
  virtual ScopedKeyedState<K, VoidNamespace>& GlobalState() = 0;
  //! Emits `value` to the side output `tag`.
  template <typename X>
  void Output(const OutputTag<X>& tag, const X& value) {
    EmitSideOutput(tag.id(), &value);
  }

 protected:
  virtual void EmitSideOutput(const std::string& tag, const void* record) = 0;
};

//! Computes a window's result from its elements, or from the one pre-aggregated value of a Reduce
//! or Aggregate (Flink's ProcessWindowFunction).
template <typename IN, typename OUT, typename K, typename W>
class ProcessWindowFunction {
 public:
  using InputType = IN;
  using OutputType = OUT;
  using KeyType = K;
  using WindowType = W;
  using Context = WindowContext<K, W>;
  virtual ~ProcessWindowFunction() = default;
  virtual void Open(RuntimeContext& ctx) { (void)ctx; }
  virtual void Process(const K& key, Context& ctx, const std::vector<IN>& elements,
                       Collector<OUT>& out) = 0;
  //! The window is purged for good (cleanup time): clear its WindowState here.
  virtual void Clear(Context& ctx) { (void)ctx; }
  virtual void Close() {}
};

//! Incremental aggregation (Flink's AggregateFunction): an accumulator per window.
template <typename IN, typename ACC, typename OUT>
class AggregateFunction {
 public:
  using InputType = IN;
  using AccumulatorType = ACC;
  using OutputType = OUT;
  virtual ~AggregateFunction() = default;
  virtual ACC CreateAccumulator() = 0;
  virtual ACC Add(const IN& value, ACC accumulator) = 0;
  virtual OUT GetResult(const ACC& accumulator) = 0;
  //! Merges two accumulators (session windows merging).
  virtual ACC Merge(ACC a, const ACC& b) = 0;
};

namespace internal {

//! The window function of Reduce(fn) and Aggregate(agg) without one: emits its input.
template <typename T, typename K, typename W>
class PassThroughWindowFunction final : public ProcessWindowFunction<T, T, K, W> {
 public:
  void Process(const K&, WindowContext<K, W>&, const std::vector<T>& elements,
               Collector<T>& out) override {
    for (const T& e : elements) out.Collect(e);
  }
};

//! With an evictor, Reduce keeps all elements: reduces them when the window fires, then calls
//! the window function with the result.
template <typename IN, typename OUT, typename K, typename W>
class ReduceApplyWindowFunction final : public ProcessWindowFunction<IN, OUT, K, W> {
 public:
  ReduceApplyWindowFunction(std::function<IN(const IN&, const IN&)> reduce,
                            std::unique_ptr<ProcessWindowFunction<IN, OUT, K, W>> fn)
      : reduce_(std::move(reduce)), fn_(std::move(fn)) {}
  void Open(RuntimeContext& ctx) override { fn_->Open(ctx); }
  void Process(const K& key, WindowContext<K, W>& ctx, const std::vector<IN>& elements,
               Collector<OUT>& out) override {
    if (elements.empty()) return;  // all evicted: there is no result to give
    IN acc = elements.front();
    for (size_t i = 1; i < elements.size(); ++i) acc = reduce_(acc, elements[i]);
    fn_->Process(key, ctx, {acc}, out);
  }
  void Clear(WindowContext<K, W>& ctx) override { fn_->Clear(ctx); }
  void Close() override { fn_->Close(); }

 private:
  std::function<IN(const IN&, const IN&)> reduce_;
  std::unique_ptr<ProcessWindowFunction<IN, OUT, K, W>> fn_;
};

//! With an evictor, Aggregate keeps all elements: aggregates them when the window fires.
template <typename IN, typename ACC, typename AOUT, typename OUT, typename K, typename W>
class AggregateApplyWindowFunction final : public ProcessWindowFunction<IN, OUT, K, W> {
 public:
  AggregateApplyWindowFunction(std::shared_ptr<AggregateFunction<IN, ACC, AOUT>> agg,
                               std::unique_ptr<ProcessWindowFunction<AOUT, OUT, K, W>> fn)
      : agg_(std::move(agg)), fn_(std::move(fn)) {}
  void Open(RuntimeContext& ctx) override { fn_->Open(ctx); }
  void Process(const K& key, WindowContext<K, W>& ctx, const std::vector<IN>& elements,
               Collector<OUT>& out) override {
    ACC acc = agg_->CreateAccumulator();
    for (const IN& e : elements) acc = agg_->Add(e, std::move(acc));
    fn_->Process(key, ctx, {agg_->GetResult(acc)}, out);
  }
  void Clear(WindowContext<K, W>& ctx) override { fn_->Clear(ctx); }
  void Close() override { fn_->Close(); }

 private:
  std::shared_ptr<AggregateFunction<IN, ACC, AOUT>> agg_;
  std::unique_ptr<ProcessWindowFunction<AOUT, OUT, K, W>> fn_;
};

}  // namespace internal
}  // namespace sluice
