// WindowedStream: a keyed stream cut into windows (KeyedStream::Window), or a whole stream
// (DataStream::WindowAll), waiting for the function that computes each window's result: Reduce,
// Aggregate or Process, optionally after a Trigger, an Evictor, an allowed lateness and a
// late-data side output. Job-building time only: it adds one WindowOperator node to the graph.
//
// Window and aggregate functions are given as a factory returning std::unique_ptr<F> (called once
// per subtask), as a std::unique_ptr<F>, or as an F each subtask gets a copy of
// (internal/function_source.h).
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "sluice/datastream.h"
#include "sluice/evictors.h"
#include "sluice/internal/function_source.h"
#include "sluice/internal/sliced_window_operator.h"
#include "sluice/output_tag.h"
#include "sluice/triggers.h"
#include "sluice/window_assigners.h"
#include "sluice/window_functions.h"
#include "sluice/window_operator.h"
#include "sluice/windows.h"

namespace sluice {

//! The key of WindowAll's operator: every record has the same one (Flink's NullByteKeySelector).
using NullKey = uint8_t;

namespace internal {
template <typename T>
struct NullByteKeySelector {
  NullKey operator()(const T&) const { return 0; }
};
}  // namespace internal

//! A window function of WindowAll: as ProcessWindowFunction, without the key.
template <typename IN, typename OUT, typename W>
class ProcessAllWindowFunction : public ProcessWindowFunction<IN, OUT, NullKey, W> {
 public:
  using Context = WindowContext<NullKey, W>;
  virtual void Process(Context& ctx, const std::vector<IN>& elements, Collector<OUT>& out) = 0;
  void Process(const NullKey&, Context& ctx, const std::vector<IN>& elements,
               Collector<OUT>& out) final {
    Process(ctx, elements, out);
  }
};

template <typename K, typename T, typename KeyFn, typename Assigner>
class WindowedStream {
 public:
  using W = typename Assigner::WindowType;

  WindowedStream(DataStream<T> input, KeyFn key_fn, Assigner assigner, bool all = false)
      : input_(std::move(input)),
        key_fn_(std::move(key_fn)),
        assigner_(std::move(assigner)),
        trigger_(MakeTriggerFactory<T, W>(assigner_.DefaultTrigger())),
        all_(all) {}

  //! Replaces the assigner's default trigger (Flink's WindowedStream.trigger).
  template <typename Tr>
  WindowedStream& Trigger(Tr trigger) {
    if (Assigner::kMerging && !trigger.CanMerge()) {
      throw JobDefinitionError(
          "a merging window assigner (sessions) needs a trigger that can merge");
    }
    trigger_ = MakeTriggerFactory<T, W>(std::move(trigger));
    default_trigger_ = false;
    return *this;
  }
  //! Prunes each window's elements before/after the function runs; keeps every element.
  template <typename Ev>
  WindowedStream& Evictor(Ev evictor) {
    evictor_ = MakeEvictorFactory<T, W>(std::move(evictor));
    return *this;
  }
  //! How long after the watermark passed a window's end its state is kept and late records still
  //! fire it again (event time). Default 0.
  WindowedStream& AllowedLateness(std::chrono::milliseconds lateness) {
    if (lateness.count() < 0) throw JobDefinitionError("the allowed lateness cannot be negative");
    options_.allowed_lateness_ms = lateness.count();
    return *this;
  }
  //! Late records go to `tag` instead of being dropped.
  WindowedStream& SideOutputLateData(const OutputTag<T>& tag) {
    options_.late_data_tag = tag.id();
    return *this;
  }

  //! Pre-aggregates each window with `fn(const T&, const T&) -> T`; emits the result.
  template <typename F>
  requires std::is_invocable_r_v<T, F, const T&, const T&> DataStream<T> Reduce(
      F fn, std::string name = "Window(Reduce)") {
    return Reduce(
        fn, [] { return std::make_unique<internal::PassThroughWindowFunction<T, K, W>>(); },
        std::move(name));
  }
  //! Pre-aggregates with `fn`, then `window_fn`'s function gets the one result per window.
  template <typename F, typename WF>
  requires std::is_invocable_r_v<T, F, const T&, const T&> && internal::kFunctionSourceLike<WF>
  auto Reduce(F fn, WF window_fn_source, std::string name = "Window(Reduce)") {
    static_assert(internal::FunctionSource<WF>::kCopyable,
                  "Reduce: the window function is not copy-constructible, so subtasks cannot each "
                  "get a copy of it: pass a factory instead: .Reduce(fn, [] { return "
                  "std::make_unique<F>(); })");
    if constexpr (!internal::CheckFunctionSource<WF>()) {
      return input_;  // not reached: a static_assert failed
    } else {
      return ReduceWith(std::move(fn),
                        internal::MakeFunctionFactory(std::move(window_fn_source), "Reduce"),
                        std::move(name));
    }
  }

  //! `agg` is an AggregateFunction<T, ACC, OUT>: one accumulator per window; emits GetResult.
  template <typename AF>
  requires internal::kFunctionSourceLike<AF>
  auto Aggregate(AF agg, std::string name = "Window(Aggregate)") {
    if constexpr (!internal::CheckFunctionSource<AF>()) {
      static_assert(internal::FunctionSource<AF>::kCopyable,
                    "Aggregate: the aggregate function is not copy-constructible, so subtasks "
                    "cannot each get a copy of it: pass a factory instead: .Aggregate([] { return "
                    "std::make_unique<F>(); })");
      return input_;  // not reached: a static_assert failed
    } else {
      using AOUT = typename internal::FunctionSource<AF>::Function::OutputType;
      return Aggregate(
          std::move(agg),
          [] { return std::make_unique<internal::PassThroughWindowFunction<AOUT, K, W>>(); },
          std::move(name));
    }
  }
  //! As Aggregate(agg), then `window_fn`'s function gets the result of each window.
  template <typename AF, typename WF>
  requires internal::kFunctionSourceLike<AF> && internal::kFunctionSourceLike<WF>
  auto Aggregate(AF agg_source, WF window_fn_source, std::string name = "Window(Aggregate)") {
    static_assert(internal::FunctionSource<AF>::kCopyable,
                  "Aggregate: the aggregate function is not copy-constructible, so subtasks "
                  "cannot each get a copy of it: pass a factory instead: .Aggregate([] { return "
                  "std::make_unique<F>(); }, ...)");
    static_assert(internal::FunctionSource<WF>::kCopyable,
                  "Aggregate: the window function is not copy-constructible, so subtasks cannot "
                  "each get a copy of it: pass a factory instead: .Aggregate(agg, [] { return "
                  "std::make_unique<F>(); })");
    if constexpr (!internal::CheckFunctionSource<AF>() || !internal::CheckFunctionSource<WF>()) {
      return input_;  // not reached: a static_assert failed
    } else {
      return AggregateWith(internal::MakeFunctionFactory(std::move(agg_source), "Aggregate"),
                           internal::MakeFunctionFactory(std::move(window_fn_source), "Aggregate"),
                           std::move(name));
    }
  }

  //! `window_fn` is a ProcessWindowFunction<T, OUT, K, W>, given all of a window's elements (kept
  //! in a ListState) when it fires.
  template <typename WF>
  requires internal::kFunctionSourceLike<WF>
  auto Process(WF window_fn_source, std::string name = "Window(Process)") {
    static_assert(internal::FunctionSource<WF>::kCopyable,
                  "Process: the window function is not copy-constructible, so subtasks cannot "
                  "each get a copy of it: pass a factory instead: .Process([] { return "
                  "std::make_unique<F>(); })");
    if constexpr (!internal::CheckFunctionSource<WF>()) {
      return input_;  // not reached: a static_assert failed
    } else {
      return ProcessWith(internal::MakeFunctionFactory(std::move(window_fn_source), "Process"),
                         std::move(name));
    }
  }

 private:
  // The Reduce, Aggregate and Process above, with the functions as factories.
  template <typename F, typename WF>
  auto ReduceWith(F fn, WF window_fn, std::string name) {
    using Fn = typename std::invoke_result_t<WF>::element_type;
    using OUT = typename Fn::OutputType;
    CheckWindowFunction<Fn, T>();
    std::function<T(const T&, const T&)> reduce = fn;
    if constexpr (kSlidingEventTime) {
      if (Sliced()) {
        return AddSliced<OUT>(std::move(name), [reduce, window_fn]() {
          return std::make_unique<internal::ReducingPanes<K, T, OUT>>(
              internal::ReduceFold<T>{reduce}, window_fn());
        });
      }
    }
    auto evictor = evictor_;
    return Add<OUT>(
        std::move(name),
        [reduce, window_fn, evictor]() -> std::unique_ptr<internal::WindowContents<K, T, OUT, W>> {
          std::unique_ptr<ProcessWindowFunction<T, OUT, K, W>> wf = window_fn();
          if (evictor) {
            return std::make_unique<internal::EvictingContents<K, T, OUT, W>>(
                evictor(), std::make_unique<internal::ReduceApplyWindowFunction<T, OUT, K, W>>(
                               reduce, std::move(wf)));
          }
          return std::make_unique<internal::ReducingContents<K, T, OUT, W>>(
              internal::ReduceFold<T>{reduce}, std::move(wf));
        });
  }

  template <typename AF, typename WF>
  auto AggregateWith(AF agg, WF window_fn, std::string name) {
    using Agg = typename std::invoke_result_t<AF>::element_type;
    using ACC = typename Agg::AccumulatorType;
    using AOUT = typename Agg::OutputType;
    using Fn = typename std::invoke_result_t<WF>::element_type;
    using OUT = typename Fn::OutputType;
    static_assert(std::is_same_v<typename Agg::InputType, T>,
                  "the aggregate function's input type differs from the stream's");
    CheckWindowFunction<Fn, AOUT>();
    if constexpr (kSlidingEventTime) {
      if (Sliced()) {
        return AddSliced<OUT>(std::move(name), [agg, window_fn]() {
          return std::make_unique<internal::AggregatingPanes<K, T, ACC, AOUT, OUT>>(
              internal::AggregateFold<T, ACC, AOUT>{
                  std::shared_ptr<AggregateFunction<T, ACC, AOUT>>(agg())},
              window_fn());
        });
      }
    }
    auto evictor = evictor_;
    return Add<OUT>(
        std::move(name),
        [agg, window_fn, evictor]() -> std::unique_ptr<internal::WindowContents<K, T, OUT, W>> {
          std::shared_ptr<AggregateFunction<T, ACC, AOUT>> a(agg());
          std::unique_ptr<ProcessWindowFunction<AOUT, OUT, K, W>> wf = window_fn();
          if (evictor) {
            return std::make_unique<internal::EvictingContents<K, T, OUT, W>>(
                evictor(),
                std::make_unique<internal::AggregateApplyWindowFunction<T, ACC, AOUT, OUT, K, W>>(
                    std::move(a), std::move(wf)));
          }
          return std::make_unique<internal::AggregatingContents<K, T, ACC, AOUT, OUT, W>>(
              internal::AggregateFold<T, ACC, AOUT>{std::move(a)}, std::move(wf));
        });
  }

  template <typename WF>
  auto ProcessWith(WF window_fn, std::string name) {
    using Fn = typename std::invoke_result_t<WF>::element_type;
    using OUT = typename Fn::OutputType;
    CheckWindowFunction<Fn, T>();
    auto evictor = evictor_;
    return Add<OUT>(
        std::move(name),
        [window_fn, evictor]() -> std::unique_ptr<internal::WindowContents<K, T, OUT, W>> {
          std::unique_ptr<ProcessWindowFunction<T, OUT, K, W>> wf = window_fn();
          if (evictor) {
            return std::make_unique<internal::EvictingContents<K, T, OUT, W>>(evictor(),
                                                                              std::move(wf));
          }
          return std::make_unique<internal::ListContents<K, T, OUT, W>>(std::move(wf));
        });
  }

  template <typename Fn, typename IN>
  static void CheckWindowFunction() {
    static_assert(std::is_base_of_v<ProcessWindowFunction<IN, typename Fn::OutputType, K, W>, Fn>,
                  "the window function must derive from ProcessWindowFunction<IN, OUT, K, W> with "
                  "the input, key and window types of this window");
  }

  //! Whether Reduce and Aggregate slice time into panes (internal/sliced_window_operator.h):
  //! sliding event-time windows with slide < size, the default trigger, no evictor.
  static constexpr bool kSlidingEventTime = std::is_same_v<Assigner, SlidingEventTimeWindows>;
  bool Sliced() const requires kSlidingEventTime {
    return default_trigger_ && !evictor_ && assigner_.slide() < assigner_.size();
  }

  template <typename OUT, typename PanesFactory>
  requires kSlidingEventTime DataStream<OUT> AddSliced(std::string name, PanesFactory panes) {
    KeyFn key_fn = key_fn_;
    Assigner assigner = assigner_;
    WindowOptions options = options_;
    DataStream<OUT> out =
        input_.template Then<OUT>(std::move(name), [key_fn, assigner, options, panes]() {
          return std::make_unique<internal::SlicedWindowOperator<K, T, OUT, KeyFn>>(
              key_fn, assigner, panes(), options);
        });
    if (all_) out.SetParallelism(1).SetMaxParallelism(1);
    return out;
  }

  template <typename OUT, typename ContentsFactory>
  DataStream<OUT> Add(std::string name, ContentsFactory contents) {
    KeyFn key_fn = key_fn_;
    Assigner assigner = assigner_;
    auto trigger = trigger_;
    WindowOptions options = options_;
    DataStream<OUT> out = input_.template Then<OUT>(
        std::move(name), [key_fn, assigner, trigger, options, contents]() {
          return std::make_unique<WindowOperator<K, T, OUT, Assigner, KeyFn>>(
              key_fn, assigner, trigger(), contents(), options);
        });
    // WindowAll: one subtask sees every record (Flink's non-parallel all-window operator).
    if (all_) out.SetParallelism(1).SetMaxParallelism(1);
    return out;
  }

  DataStream<T> input_;
  KeyFn key_fn_;
  Assigner assigner_;
  std::function<std::unique_ptr<sluice::Trigger<T, W>>()> trigger_;
  std::function<std::unique_ptr<sluice::Evictor<T, W>>()> evictor_;
  WindowOptions options_;
  bool default_trigger_ = true;
  bool all_;
};

}  // namespace sluice
