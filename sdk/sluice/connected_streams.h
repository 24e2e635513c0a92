// Connect: two streams, possibly of different types, read by one operator (Flink's
// ConnectedStreams). a.Connect(b).Process(...) runs a CoProcessFunction over both;
// a.Connect(b).KeyBy(key1, key2).Process(...) partitions both by a key of the same type and runs a
// KeyedCoProcessFunction with keyed state and timers.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/co_process.h"
#include "sluice/datastream.h"
#include "sluice/internal/two_input_node.h"

namespace sluice {

template <typename K, typename IN1, typename IN2, typename KeyFn1, typename KeyFn2>
class KeyedConnectedStreams;

template <typename IN1, typename IN2>
class ConnectedStreams {
 public:
  ConnectedStreams(StreamEnvironment* env, std::vector<EdgeSpec> first,
                   std::vector<EdgeSpec> second)
      : env_(env), first_(std::move(first)), second_(std::move(second)) {}

  //! A CoProcessFunction<IN1, IN2, OUT>, given as a factory returning std::unique_ptr<F> (called
  //! once per subtask), as a std::unique_ptr<F> or as an F to copy for each subtask.
  template <typename Factory>
  auto Process(Factory factory, std::string name = "Co-Process") {
    using Source = internal::FunctionSource<Factory>;
    if constexpr (!internal::CheckProcessFunctionSource<Factory>()) {
      return DataStream<IN1>(env_, {}, -1);  // not reached: a static_assert failed
    } else {
      using Fn = typename Source::Function;
      using OUT = typename Fn::OutputType;
      static_assert(
          std::is_base_of_v<
              CoProcessFunction<typename Fn::FirstInputType, typename Fn::SecondInputType, OUT>,
              Fn>,
          "Process: the function must derive from CoProcessFunction<IN1, IN2, OUT> "
          "(after KeyBy: KeyedCoProcessFunction<K, IN1, IN2, OUT>)");
      static_assert(std::is_same_v<typename Fn::FirstInputType, IN1>,
                    "Process: the function's first input type must be the first stream's type");
      static_assert(std::is_same_v<typename Fn::SecondInputType, IN2>,
                    "Process: the function's second input type must be the second stream's type");
      auto make = internal::MakeFunctionFactory(std::move(factory), "Process");
      return internal::AddTwoInputOperator<OUT>(env_, std::move(name), first_, second_, [make] {
        std::unique_ptr<CoProcessFunction<IN1, IN2, OUT>> fn = make();
        return std::make_unique<CoProcessOperator<IN1, IN2, OUT>>(std::move(fn));
      });
    }
  }

  //! Partitions the first input by key1 and the second by key2, which must return the same type:
  //! records of either input with equal keys go to the same subtask.
  template <typename KeyFn1, typename KeyFn2,
            typename K = std::decay_t<std::invoke_result_t<KeyFn1, const IN1&>>>
  KeyedConnectedStreams<K, IN1, IN2, KeyFn1, KeyFn2> KeyBy(KeyFn1 key1, KeyFn2 key2) {
    using K2 = std::decay_t<std::invoke_result_t<KeyFn2, const IN2&>>;
    static_assert(std::is_same_v<K, K2>,
                  "KeyBy: both key selectors must return the same type (the key of the connected "
                  "streams)");
    return KeyedConnectedStreams<K, IN1, IN2, KeyFn1, KeyFn2>(
        env_, internal::HashEdges<IN1>(first_, key1), internal::HashEdges<IN2>(second_, key2),
        std::move(key1), std::move(key2));
  }

 protected:
  StreamEnvironment* env_;
  std::vector<EdgeSpec> first_;
  std::vector<EdgeSpec> second_;
};

template <typename K, typename IN1, typename IN2, typename KeyFn1, typename KeyFn2>
class KeyedConnectedStreams {
 public:
  KeyedConnectedStreams(StreamEnvironment* env, std::vector<EdgeSpec> first,
                        std::vector<EdgeSpec> second, KeyFn1 key1, KeyFn2 key2)
      : env_(env),
        first_(std::move(first)),
        second_(std::move(second)),
        key1_(std::move(key1)),
        key2_(std::move(key2)) {}

  //! A KeyedCoProcessFunction<K, IN1, IN2, OUT>, given as a factory returning std::unique_ptr<F>
  //! (called once per subtask), as a std::unique_ptr<F> or as an F to copy for each subtask.
  template <typename Factory>
  auto Process(Factory factory, std::string name = "Co-Keyed-Process") {
    using Source = internal::FunctionSource<Factory>;
    if constexpr (!internal::CheckProcessFunctionSource<Factory>()) {
      return DataStream<IN1>(env_, {}, -1);  // not reached: a static_assert failed
    } else {
      using Fn = typename Source::Function;
      using OUT = typename Fn::OutputType;
      static_assert(
          std::is_base_of_v<
              KeyedCoProcessFunction<typename Fn::KeyType, typename Fn::FirstInputType,
                                     typename Fn::SecondInputType, OUT>,
              Fn>,
          "Process: after KeyBy the function must derive from KeyedCoProcessFunction<K, IN1, IN2, "
          "OUT>");
      static_assert(std::is_same_v<typename Fn::KeyType, K>,
                    "Process: the function's key type must be the type the key selectors return");
      static_assert(std::is_same_v<typename Fn::FirstInputType, IN1>,
                    "Process: the function's first input type must be the first stream's type");
      static_assert(std::is_same_v<typename Fn::SecondInputType, IN2>,
                    "Process: the function's second input type must be the second stream's type");
      auto make = internal::MakeFunctionFactory(std::move(factory), "Process");
      return internal::AddTwoInputOperator<OUT>(
          env_, std::move(name), first_, second_, [make, key1 = key1_, key2 = key2_] {
            std::unique_ptr<KeyedCoProcessFunction<K, IN1, IN2, OUT>> fn = make();
            return std::make_unique<KeyedCoProcessOperator<K, IN1, IN2, OUT, KeyFn1, KeyFn2>>(
                key1, key2, std::move(fn));
          });
    }
  }

 private:
  StreamEnvironment* env_;
  std::vector<EdgeSpec> first_;
  std::vector<EdgeSpec> second_;
  KeyFn1 key1_;
  KeyFn2 key2_;
};

template <typename T>
template <typename T2>
ConnectedStreams<T, T2> DataStream<T>::Connect(const DataStream<T2>& other) const {
  return ConnectedStreams<T, T2>(env_, pending_, other.pending_edges());
}

}  // namespace sluice
