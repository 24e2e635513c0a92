// Window join and co-group (Flink's JoinedStreams and CoGroupedStreams): two streams keyed alike
// and cut into the same windows; when a window fires, a join calls its function for every pair of
// a left and a right element of the key and window (an inner join: nothing when a side is empty),
// a co-group calls its function once with both groups (either may be empty).
//
//   a.Join(b).Where(ka).EqualTo(kb).Window(TumblingEventTimeWindows::Of(seconds(5)))
//       .Apply([](const A& x, const B& y) { return ...; });
//   a.CoGroup(b).Where(ka).EqualTo(kb).Window(assigner)
//       .Apply<OUT>([](const std::vector<A>& xs, const std::vector<B>& ys, Collector<OUT>& out)
//       {...});
//
// As in Flink, both inputs are tagged (std::variant<L, R>), unioned, keyed by whichever selector
// fits the tag and given to one window operator whose function splits each window's elements by
// tag: windows, triggers, allowed lateness, state and snapshots are the window operator's.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "sluice/datastream.h"
#include "sluice/internal/function_source.h"
#include "sluice/window_functions.h"

namespace sluice {

//! A window join's function: one output per pair.
template <typename L, typename R, typename OUT>
class JoinFunction {
 public:
  using LeftType = L;
  using RightType = R;
  using OutputType = OUT;
  virtual ~JoinFunction() = default;
  virtual OUT Join(const L& left, const R& right) = 0;
};

//! A window join's function: any number of outputs per pair.
template <typename L, typename R, typename OUT>
class FlatJoinFunction {
 public:
  using LeftType = L;
  using RightType = R;
  using OutputType = OUT;
  virtual ~FlatJoinFunction() = default;
  virtual void Join(const L& left, const R& right, Collector<OUT>& out) = 0;
};

//! A window co-group's function: both groups of one key and window.
template <typename L, typename R, typename OUT>
class CoGroupFunction {
 public:
  using LeftType = L;
  using RightType = R;
  using OutputType = OUT;
  virtual ~CoGroupFunction() = default;
  virtual void CoGroup(const std::vector<L>& left, const std::vector<R>& right,
                       Collector<OUT>& out) = 0;
};

namespace internal {

//! Both groups of one window, to the user's function.
template <typename L, typename R, typename OUT>
using CoGroupCall =
    std::function<void(const std::vector<L>&, const std::vector<R>&, Collector<OUT>&)>;

//! The window function of a join or co-group: splits the window's tagged elements by side.
template <typename L, typename R, typename OUT, typename K, typename W>
class CoGroupWindowFunction final : public ProcessWindowFunction<std::variant<L, R>, OUT, K, W> {
 public:
  using Context = WindowContext<K, W>;
  explicit CoGroupWindowFunction(CoGroupCall<L, R, OUT> call) : call_(std::move(call)) {}
  void Process(const K&, Context&, const std::vector<std::variant<L, R>>& elements,
               Collector<OUT>& out) override {
    left_.clear();
    right_.clear();
    for (const auto& e : elements) {
      if (e.index() == 0) {
        left_.push_back(std::get<0>(e));
      } else {
        right_.push_back(std::get<1>(e));
      }
    }
    call_(left_, right_, out);
  }

 private:
  CoGroupCall<L, R, OUT> call_;
  std::vector<L> left_;
  std::vector<R> right_;
};

//! The cross product of both groups through `join(l, r, out)`: an inner join.
template <typename L, typename R, typename OUT, typename F>
CoGroupCall<L, R, OUT> CrossProduct(F join) {
  return [join](const std::vector<L>& left, const std::vector<R>& right, Collector<OUT>& out) {
    for (const L& l : left) {
      for (const R& r : right) join(l, r, out);
    }
  };
}

}  // namespace internal

//! Two streams keyed and windowed alike, waiting for the function (Flink's WithWindow).
template <typename K, typename L, typename R, typename KeyFnL, typename KeyFnR, typename Assigner>
class WindowedJoin {
 public:
  using Tagged = std::variant<L, R>;
  using W = typename Assigner::WindowType;

  WindowedJoin(DataStream<L> left, DataStream<R> right, KeyFnL key_left, KeyFnR key_right,
               Assigner assigner, bool co_group)
      : left_(std::move(left)),
        right_(std::move(right)),
        key_left_(std::move(key_left)),
        key_right_(std::move(key_right)),
        assigner_(std::move(assigner)),
        co_group_(co_group) {}

  //! Replaces the assigner's default trigger (for the tagged elements).
  template <typename Tr>
  WindowedJoin& Trigger(Tr trigger) {
    settings_.push_back([trigger](Windowed& w) { w.Trigger(trigger); });
    return *this;
  }
  //! Keeps windows (and fires them again) for late elements up to `lateness` past their end.
  WindowedJoin& AllowedLateness(std::chrono::milliseconds lateness) {
    settings_.push_back([lateness](Windowed& w) { w.AllowedLateness(lateness); });
    return *this;
  }

  //! A join takes: fn(const L&, const R&) -> OUT; Apply<OUT>(fn) with fn(const L&, const R&,
  //! Collector<OUT>&); or a JoinFunction<L, R, OUT> / FlatJoinFunction<L, R, OUT> as a factory
  //! returning std::unique_ptr<F>, a std::unique_ptr<F> or an F to copy for each subtask.
  //! A co-group takes: Apply<OUT>(fn) with fn(const std::vector<L>&, const std::vector<R>&,
  //! Collector<OUT>&), or a CoGroupFunction<L, R, OUT> in one of the three forms.
  template <typename OUT = void, typename F>
  auto Apply(F fn, std::string name = "") {
    if (name.empty()) name = co_group_ ? "Window CoGroup" : "Window Join";
    // Collector<void> cannot be formed, not even to ask whether fn takes one.
    using C = Collector<std::conditional_t<std::is_void_v<OUT>, int, OUT>>;
    if constexpr (kPairFunction<F>) {
      using Out = std::decay_t<std::invoke_result_t<const F&, const L&, const R&>>;
      RequireJoin();
      return Build<Out>(std::move(name), [fn] {
        return internal::CrossProduct<L, R, Out>(
            [fn](const L& l, const R& r, Collector<Out>& out) { out.Collect(fn(l, r)); });
      });
    } else if constexpr (!std::is_void_v<OUT> &&
                         std::is_invocable_v<const F&, const L&, const R&, C&>) {
      RequireJoin();
      return Build<OUT>(std::move(name), [fn] { return internal::CrossProduct<L, R, OUT>(fn); });
    } else if constexpr (!std::is_void_v<OUT> &&
                         std::is_invocable_v<const F&, const std::vector<L>&, const std::vector<R>&,
                                             C&>) {
      RequireCoGroup();
      return Build<OUT>(std::move(name), [fn] { return internal::CoGroupCall<L, R, OUT>(fn); });
    } else if constexpr (internal::kFunctionSourceLike<F>) {
      return ApplyFunctionObject(std::move(fn), std::move(name));
    } else {
      static_assert(internal::kDependentFalse<F>,
                    "Apply: a function that takes a Collector<OUT>& needs its output type: write "
                    "Apply<OUT>(fn), with fn(const L&, const R&, Collector<OUT>&) for a join or "
                    "fn(const std::vector<L>&, const std::vector<R>&, Collector<OUT>&) for a "
                    "co-group");
      return left_;
    }
  }

 private:
  using Windowed = WindowedStream<K, Tagged, std::function<K(const Tagged&)>, Assigner>;

  template <typename F>
  static constexpr bool kPairFunction = [] {
    if constexpr (std::is_invocable_v<const F&, const L&, const R&>) {
      return !std::is_void_v<std::invoke_result_t<const F&, const L&, const R&>>;
    } else {
      return false;
    }
  }();

  void RequireJoin() const {
    if (co_group_) {
      throw JobDefinitionError(
          "CoGroup(...).Apply: the function must take both groups: fn(const std::vector<L>&, "
          "const std::vector<R>&, Collector<OUT>&) (Apply<OUT>(fn)) or a CoGroupFunction");
    }
  }
  void RequireCoGroup() const {
    if (!co_group_) {
      throw JobDefinitionError(
          "Join(...).Apply: the function must take one pair: fn(const L&, const R&) -> OUT, "
          "Apply<OUT>(fn(const L&, const R&, Collector<OUT>&)), a JoinFunction or a "
          "FlatJoinFunction");
    }
  }

  template <typename F>
  auto ApplyFunctionObject(F source, std::string name) {
    using Source = internal::FunctionSource<F>;
    static_assert(Source::kCopyable,
                  "Apply: the function is not copy-constructible, so subtasks cannot each get a "
                  "copy of it: pass a factory instead: .Apply([] { return "
                  "std::make_unique<F>(); })");
    if constexpr (!internal::CheckFunctionSource<F>()) {
      return left_;  // not reached: a static_assert failed
    } else {
      using Fn = typename Source::Function;
      using OUT = typename Fn::OutputType;
      static_assert(
          std::is_same_v<typename Fn::LeftType, L> && std::is_same_v<typename Fn::RightType, R>,
          "Apply: the function's left and right types must be the joined streams' "
          "record types");
      auto make = internal::MakeFunctionFactory(std::move(source), "Apply");
      if constexpr (std::is_base_of_v<JoinFunction<L, R, OUT>, Fn>) {
        RequireJoin();
        return Build<OUT>(std::move(name), [make] {
          std::shared_ptr<Fn> f(make());
          return internal::CrossProduct<L, R, OUT>(
              [f](const L& l, const R& r, Collector<OUT>& out) { out.Collect(f->Join(l, r)); });
        });
      } else if constexpr (std::is_base_of_v<FlatJoinFunction<L, R, OUT>, Fn>) {
        RequireJoin();
        return Build<OUT>(std::move(name), [make] {
          std::shared_ptr<Fn> f(make());
          return internal::CrossProduct<L, R, OUT>(
              [f](const L& l, const R& r, Collector<OUT>& out) { f->Join(l, r, out); });
        });
      } else {
        static_assert(std::is_base_of_v<CoGroupFunction<L, R, OUT>, Fn>,
                      "Apply: the function must be a JoinFunction, FlatJoinFunction or "
                      "CoGroupFunction<L, R, OUT> (or a lambda; see WindowedJoin::Apply)");
        RequireCoGroup();
        return Build<OUT>(std::move(name), [make] {
          std::shared_ptr<Fn> f(make());
          return internal::CoGroupCall<L, R, OUT>(
              [f](const std::vector<L>& l, const std::vector<R>& r, Collector<OUT>& out) {
                f->CoGroup(l, r, out);
              });
        });
      }
    }
  }

  //! Tags, unions, keys and windows both inputs; `make_call()` gives each subtask its function.
  template <typename OUT, typename MakeCall>
  DataStream<OUT> Build(std::string name, MakeCall make_call) {
    DataStream<Tagged> left =
        left_.Map([](const L& l) { return Tagged(std::in_place_index<0>, l); }, name + " (left)");
    DataStream<Tagged> right =
        right_.Map([](const R& r) { return Tagged(std::in_place_index<1>, r); }, name + " (right)");
    std::function<K(const Tagged&)> key = [kl = key_left_, kr = key_right_](const Tagged& t) -> K {
      return t.index() == 0 ? K(kl(std::get<0>(t))) : K(kr(std::get<1>(t)));
    };
    Windowed windowed = left.Union(right).KeyBy(key).Window(assigner_);
    for (const auto& apply : settings_) apply(windowed);
    return windowed.Process(
        [make_call] {
          return std::make_unique<internal::CoGroupWindowFunction<L, R, OUT, K, W>>(make_call());
        },
        std::move(name));
  }

  DataStream<L> left_;
  DataStream<R> right_;
  KeyFnL key_left_;
  KeyFnR key_right_;
  Assigner assigner_;
  bool co_group_;
  std::vector<std::function<void(Windowed&)>> settings_;
};

//! Two streams with both key selectors, waiting for Window (Flink's EqualTo).
template <typename K, typename L, typename R, typename KeyFnL, typename KeyFnR>
class JoinEqualTo {
 public:
  JoinEqualTo(DataStream<L> left, DataStream<R> right, KeyFnL key_left, KeyFnR key_right,
              bool co_group)
      : left_(std::move(left)),
        right_(std::move(right)),
        key_left_(std::move(key_left)),
        key_right_(std::move(key_right)),
        co_group_(co_group) {}

  template <typename Assigner>
  WindowedJoin<K, L, R, KeyFnL, KeyFnR, Assigner> Window(Assigner assigner) const {
    return WindowedJoin<K, L, R, KeyFnL, KeyFnR, Assigner>(left_, right_, key_left_, key_right_,
                                                           std::move(assigner), co_group_);
  }

 private:
  DataStream<L> left_;
  DataStream<R> right_;
  KeyFnL key_left_;
  KeyFnR key_right_;
  bool co_group_;
};

//! Two streams with the left key selector, waiting for EqualTo (Flink's Where).
template <typename L, typename R, typename KeyFnL>
class JoinWhere {
 public:
  using K = std::decay_t<std::invoke_result_t<KeyFnL, const L&>>;
  JoinWhere(DataStream<L> left, DataStream<R> right, KeyFnL key_left, bool co_group)
      : left_(std::move(left)),
        right_(std::move(right)),
        key_left_(std::move(key_left)),
        co_group_(co_group) {}

  //! The right stream's key selector: it must return the left one's key type.
  template <typename KeyFnR>
  JoinEqualTo<K, L, R, KeyFnL, KeyFnR> EqualTo(KeyFnR key_right) const {
    static_assert(std::is_same_v<K, std::decay_t<std::invoke_result_t<KeyFnR, const R&>>>,
                  "EqualTo: the key selector must return the type Where's returns");
    return JoinEqualTo<K, L, R, KeyFnL, KeyFnR>(left_, right_, key_left_, std::move(key_right),
                                                co_group_);
  }

 private:
  DataStream<L> left_;
  DataStream<R> right_;
  KeyFnL key_left_;
  bool co_group_;
};

//! a.Join(b) or a.CoGroup(b), waiting for Where (Flink's JoinedStreams, CoGroupedStreams).
template <typename L, typename R>
class JoinedStreams {
 public:
  JoinedStreams(DataStream<L> left, DataStream<R> right, bool co_group)
      : left_(std::move(left)), right_(std::move(right)), co_group_(co_group) {}

  //! The left stream's key selector.
  template <typename KeyFnL>
  JoinWhere<L, R, KeyFnL> Where(KeyFnL key_left) const {
    return JoinWhere<L, R, KeyFnL>(left_, right_, std::move(key_left), co_group_);
  }

 private:
  DataStream<L> left_;
  DataStream<R> right_;
  bool co_group_;
};

template <typename T>
template <typename T2>
JoinedStreams<T, T2> DataStream<T>::Join(const DataStream<T2>& other) const {
  return JoinedStreams<T, T2>(*this, other, /*co_group=*/false);
}

template <typename T>
template <typename T2>
JoinedStreams<T, T2> DataStream<T>::CoGroup(const DataStream<T2>& other) const {
  return JoinedStreams<T, T2>(*this, other, /*co_group=*/true);
}

}  // namespace sluice
