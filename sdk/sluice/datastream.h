// DataStream<T>: the fluent job API (map, filter, flat_map, key_by, reduce, process, rebalance,
// broadcast, union, sinks), in the spirit of Flink's DataStream API.
//
// Mistakes that can be caught while the package compiles are, with a static_assert that says
// what to do (docs/sdk-errors.md lists them): a sink of another type than the stream's, a record
// type that cannot be serialized or default-constructed, a function that cannot be copied for
// each subtask, a FlatMap whose output type cannot be read off its function, and operator
// settings (Uid, Name, parallelism, chaining) on a union, repartitioning or side output.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/environment.h"
#include "sluice/internal/flat_map_output.h"
#include "sluice/internal/function_source.h"
#include "sluice/operators.h"
#include "sluice/serialization.h"
#include "sluice/state_descriptors.h"
#include "sluice/watermarks.h"

namespace sluice {

template <typename K, typename T, typename KeyFn>
class KeyedStream;
template <typename T>
class RoutedStream;
template <typename K, typename T, typename KeyFn, typename Assigner>
class WindowedStream;
template <typename IN1, typename IN2>
class ConnectedStreams;
template <typename K, typename L, typename R, typename KeyFnL, typename KeyFnR>
class IntervalJoinBuilder;
template <typename L, typename R>
class JoinedStreams;
template <typename T>
class BroadcastStream;
template <typename IN, typename BC>
class BroadcastConnectedStream;
template <typename K, typename IN, typename BC, typename KeyFn>
class KeyedBroadcastConnectedStream;
namespace internal {
template <typename T>
struct NullByteKeySelector;

//! Instantiated by SinkTo with the stream's record type and the sink's input type, so that the
//! compiler's "in instantiation of" line above the error shows both.
template <typename StreamType, typename SinkType>
struct SinkInputMustBe {
  static_assert(std::is_same_v<StreamType, SinkType>,
                "SinkTo: the sink's input type must be the stream's record type");
  static constexpr bool value = std::is_same_v<StreamType, SinkType>;
};

//! X for a class deriving from InputOperator<X> (every SinkOperator<X> does).
template <typename X>
X InputTypeOf(const InputOperator<X>*);
template <typename S>
inline constexpr bool kHasTypedInput = requires(const S* s) {
  internal::InputTypeOf(s);
};
}  // namespace internal

//! Settings of the operator a stream was produced by (name, uid, parallelism, chaining).
class OperatorHandle {
 public:
  OperatorHandle(StreamEnvironment* env, int node) : env_(env), node_(node) {}
  //! The environment the stream belongs to.
  StreamEnvironment* env() const { return env_; }

 protected:
  //! The settings of this stream's operator; `what` names the setter for the error. The
  //! RoutedStream returned by Union and partitionings turns these calls into compile errors; a
  //! RoutedStream stored in a DataStream<T> still gets here.
  NodeSpec& spec(const char* what) const {
    if (node_ < 0) {
      throw JobDefinitionError(std::string(what) +
                               " applies to an operator, and this stream is a Union(), a "
                               "partitioning (Rebalance/Broadcast/Forward) or a side output, not "
                               "an operator: call it on the operator that reads this stream");
    }
    return env_->node(static_cast<uint32_t>(node_));
  }
  NodeSpec& spec() const { return spec("this setting"); }
  StreamEnvironment* env_;
  int node_;  // -1 for a union or repartitioned stream
};

template <typename T>
class DataStream : public OperatorHandle {
  // Checked here, where a record type is first used, so that these are the first errors and each
  // comes once. Instantiating Serializer<T> fires its static_assert when T has no serializer.
  static_assert(sizeof(Serializer<T>) > 0);
  static_assert(std::is_default_constructible_v<T>,
                "record types must be default-constructible: give T a default constructor (the "
                "runtime reads records into a default-constructed value)");

 public:
  DataStream(StreamEnvironment* env, std::vector<EdgeSpec> pending, int node)
      : OperatorHandle(env, node), pending_(std::move(pending)) {}

  DataStream& Name(std::string name) {
    spec("Name()").name = std::move(name);
    return *this;
  }
  DataStream& Uid(std::string uid) {
    spec("Uid()").uid = std::move(uid);
    return *this;
  }
  DataStream& SetParallelism(int p) {
    if (p <= 0) throw JobDefinitionError("parallelism must be positive");
    spec("SetParallelism()").parallelism = p;
    return *this;
  }
  DataStream& SetMaxParallelism(int p) {
    if (p <= 0) throw JobDefinitionError("max parallelism must be positive");
    spec("SetMaxParallelism()").max_parallelism = p;
    return *this;
  }
  DataStream& DisableChaining() {
    spec("DisableChaining()").chainable = false;
    return *this;
  }

  template <typename F, typename OUT = std::decay_t<std::invoke_result_t<F, const T&>>>
  DataStream<OUT> Map(F fn, std::string name = "Map") {
    return Then<OUT>(std::move(name),
                     [fn]() { return std::make_unique<MapOperator<T, OUT, F>>(fn); });
  }

  template <typename F>
  DataStream<T> Filter(F fn, std::string name = "Filter") {
    return Then<T>(std::move(name), [fn]() { return std::make_unique<FilterOperator<T, F>>(fn); });
  }

  //! fn(const T&, Collector<OUT>&) emits zero or more records. OUT is read off fn's second
  //! parameter when fn has one signature (a function, a non-generic lambda); otherwise (a generic
  //! lambda) write FlatMap<OUT>(fn).
  template <typename OUT = internal::DeduceFlatMapOutput, typename F>
  auto FlatMap(F fn, std::string name = "FlatMap") {
    constexpr bool kDeduce = std::is_same_v<OUT, internal::DeduceFlatMapOutput>;
    if constexpr (kDeduce && !internal::FlatMapOutputOf<F>::kKnown) {
      static_assert(internal::FlatMapOutputOf<F>::kKnown,
                    "FlatMap cannot tell the output type: write FlatMap<OUT>(fn) (it reads OUT "
                    "off fn's parameter Collector<OUT>&, which a generic lambda does not name)");
      return *this;  // not reached: the static_assert failed
    } else {
      using Out = std::conditional_t<kDeduce, typename internal::FlatMapOutputOf<F>::type, OUT>;
      return Then<Out>(std::move(name),
                       [fn]() { return std::make_unique<FlatMapOperator<T, Out, F>>(fn); });
    }
  }

  //! Assigns timestamps and makes watermarks with `strategy` (Flink's
  //! assignTimestampsAndWatermarks): the stream's watermarks are those of the strategy from here
  //! on.
  DataStream<T> AssignTimestampsAndWatermarks(const WatermarkStrategy<T>& strategy,
                                              std::string name = "Timestamps/Watermarks") {
    return Then<T>(std::move(name), [strategy]() {
      return std::make_unique<TimestampsAndWatermarksOperator<T>>(strategy);
    });
  }

  //! Partitions by key: records with equal keys go to the same subtask (via key groups).
  template <typename KeyFn, typename K = std::decay_t<std::invoke_result_t<KeyFn, const T&>>>
  KeyedStream<K, T, KeyFn> KeyBy(KeyFn key_fn) {
    std::vector<EdgeSpec> edges = pending_;
    for (auto& e : edges) {
      e.kind = PartitionKind::kHash;
      e.key_hash = [key_fn](const void* rec) {
        return KeyHash(key_fn(*static_cast<const T*>(rec)));
      };
    }
    return KeyedStream<K, T, KeyFn>(env_, std::move(edges), key_fn);
  }

  //! A ProcessFunction<T, OUT> (the record's timestamp, side outputs and the current watermark,
  //! without keys), given as a factory returning std::unique_ptr<F> (called once per subtask), as
  //! a std::unique_ptr<F> or as an F: a prototype each subtask gets a copy of (internal/
  //! function_source.h).
  template <typename Factory>
  auto Process(Factory factory, std::string name = "Process") {
    using Source = internal::FunctionSource<Factory>;
    if constexpr (!internal::CheckProcessFunctionSource<Factory>()) {
      return *this;  // not reached: a static_assert failed
    } else {
      using Fn = typename Source::Function;
      using OUT = typename Fn::OutputType;
      static_assert(std::is_base_of_v<ProcessFunction<typename Fn::InputType, OUT>, Fn>,
                    "Process: the function must derive from ProcessFunction<IN, OUT>");
      static_assert(std::is_same_v<typename Fn::InputType, T>,
                    "Process: the function's input type must be the stream's record type");
      auto make = internal::MakeFunctionFactory(std::move(factory), "Process");
      return Then<OUT>(std::move(name), [make]() {
        std::unique_ptr<ProcessFunction<T, OUT>> fn = make();
        return std::make_unique<ProcessOperator<T, OUT>>(std::move(fn));
      });
    }
  }

  //! The records this stream's operator emitted to the side output `tag`.
  template <typename X>
  RoutedStream<X> GetSideOutput(const OutputTag<X>& tag) const {
    if (node_ < 0) {
      throw JobDefinitionError(
          "GetSideOutput() applies to an operator, and this stream is a Union(), a partitioning "
          "(Rebalance/Broadcast/Forward) or a side output, not an operator");
    }
    EdgeSpec e = MainOutputEdge(static_cast<uint32_t>(node_));
    e.side_output = tag.id();
    e.serialize_side_output = &SerializeErased<X>;
    return RoutedStream<X>(env_, {e});
  }

  //! All records in windows of `assigner`, in one subtask (parallelism 1); see windowed_stream.h.
  template <typename Assigner>
  auto WindowAll(Assigner assigner) {
    using KeyFn = internal::NullByteKeySelector<T>;
    DataStream<T> keyed = KeyBy(KeyFn{}).stream_;
    return WindowedStream<uint8_t, T, KeyFn, Assigner>(std::move(keyed), KeyFn{},
                                                       std::move(assigner), /*all=*/true);
  }

  // Partitionings and Union make no operator: they return a RoutedStream, which refuses
  // operator settings at compile time and is a DataStream<T> otherwise.
  RoutedStream<T> Rebalance() { return Repartition(PartitionKind::kRebalance); }
  RoutedStream<T> Broadcast() { return Repartition(PartitionKind::kBroadcast); }
  RoutedStream<T> Forward() { return Repartition(PartitionKind::kForward); }

  //! Merges streams of the same type; the next operator reads all of them as one input.
  RoutedStream<T> Union(const DataStream<T>& other) const {
    std::vector<EdgeSpec> edges = pending_;
    edges.insert(edges.end(), other.pending_.begin(), other.pending_.end());
    return RoutedStream<T>(env_, std::move(edges));
  }

  //! Connects this stream (the first input) with `other` (the second) for one operator reading
  //! both, of either type: Process(CoProcessFunction) or KeyBy(key1, key2) first; see
  //! connected_streams.h.
  template <typename T2>
  ConnectedStreams<T, T2> Connect(const DataStream<T2>& other) const;
  //! Connects this stream with a broadcast stream: Process(BroadcastProcessFunction); see
  //! broadcast_process.h.
  template <typename BC>
  BroadcastConnectedStream<T, BC> Connect(const BroadcastStream<BC>& other) const;

  //! Broadcasts this stream with the broadcast states it updates, named by map state
  //! descriptors (Flink's broadcast(descriptors...)): connect the result to another stream;
  //! see broadcast_state.h.
  template <typename UK, typename UV, typename... More>
  BroadcastStream<T> Broadcast(const MapStateDescriptor<UK, UV>& first, const More&... more) const;

  //! Joins this stream (left) with `other` (right) in windows: Where(key).EqualTo(key)
  //! .Window(assigner).Apply(fn), every pair of a key and window (inner join); see window_join.h.
  template <typename T2>
  JoinedStreams<T, T2> Join(const DataStream<T2>& other) const;
  //! The same, calling the function once per key and window with both groups (either may be
  //! empty).
  template <typename T2>
  JoinedStreams<T, T2> CoGroup(const DataStream<T2>& other) const;

  //! Adds a sink: a SinkOperator<T> (see connectors/), given as a factory returning a
  //! std::unique_ptr to it (called once per subtask), as a std::unique_ptr or as an object to copy.
  template <typename Factory>
  DataStream<T> SinkTo(Factory factory, std::string name = "Sink") {
    using Source = internal::FunctionSource<Factory>;
    static_assert(Source::kCopyable,
                  "SinkTo: the sink is not copy-constructible, so subtasks cannot each get a copy "
                  "of it: pass a factory instead: .SinkTo([] { return std::make_unique<S>(); })");
    if constexpr (!internal::CheckFunctionSource<Factory>()) {
      return *this;  // not reached: a static_assert failed
    } else {
      using Sink = typename Source::Function;
      static_assert(std::is_base_of_v<StreamOperator, Sink>,
                    "SinkTo: the sink must derive from SinkOperator<T>");
      // A sink reads records as its input type: any other type is memory misread at run time.
      // (A sink on StreamOperator itself takes untyped records and cannot be checked.)
      if constexpr (internal::kHasTypedInput<Sink>) {
        using SinkInput = decltype(internal::InputTypeOf(static_cast<const Sink*>(nullptr)));
        [[maybe_unused]] constexpr bool kSameType = internal::SinkInputMustBe<T, SinkInput>::value;
      }
      auto make = internal::MakeFunctionFactory(std::move(factory), "SinkTo");
      return Then<T>(
          std::move(name), [make]() -> std::unique_ptr<StreamOperator> { return make(); },
          /*has_output=*/false);
    }
  }

  //! Low level: adds an operator that consumes this stream.
  template <typename OUT, typename Factory>
  DataStream<OUT> Then(std::string name, Factory factory, bool has_output = true) {
    NodeSpec& n = env_->AddNode(std::move(name));
    n.inputs = pending_;
    n.factory = [factory]() -> std::unique_ptr<StreamOperator> { return factory(); };
    if (has_output) n.serialize_output = &SerializeErased<OUT>;
    return DataStream<OUT>(env_, {MainOutputEdge(n.id)}, static_cast<int>(n.id));
  }

  const std::vector<EdgeSpec>& pending_edges() const { return pending_; }

 private:
  RoutedStream<T> Repartition(PartitionKind kind) const {
    std::vector<EdgeSpec> edges = pending_;
    for (auto& e : edges) {
      e.kind = kind;
      e.key_hash = nullptr;
    }
    return RoutedStream<T>(env_, std::move(edges));
  }

  std::vector<EdgeSpec> pending_;
};

template <typename K, typename T, typename KeyFn>
class KeyedStream {
 public:
  template <typename>
  friend class DataStream;
  template <typename, typename, typename>
  friend class KeyedStream;
  KeyedStream(StreamEnvironment* env, std::vector<EdgeSpec> edges, KeyFn key_fn)
      : stream_(env, std::move(edges), -1), key_fn_(std::move(key_fn)) {}

  //! Rolling reduce: emits the new aggregate of the record's key for every record.
  template <typename F>
  DataStream<T> Reduce(F fn, std::string name = "Reduce") {
    KeyFn key_fn = key_fn_;
    return stream_.template Then<T>(std::move(name), [key_fn, fn]() {
      return std::make_unique<ReduceOperator<K, T, KeyFn, F>>(key_fn, fn);
    });
  }

  //! Joins this stream's records (left) with those of `other` (right, keyed by the same key
  //! type) whose timestamps are within the bounds Between gives; see interval_join.h.
  template <typename K2, typename T2, typename KeyFn2>
  IntervalJoinBuilder<K, T, T2, KeyFn, KeyFn2> IntervalJoin(
      const KeyedStream<K2, T2, KeyFn2>& other) const;

  //! Connects this keyed stream with a broadcast stream:
  //! Process(KeyedBroadcastProcessFunction); see broadcast_process.h.
  template <typename BC>
  KeyedBroadcastConnectedStream<K, T, BC, KeyFn> Connect(const BroadcastStream<BC>& other) const;

  //! The records of each key in windows of `assigner`; see windowed_stream.h.
  template <typename Assigner>
  WindowedStream<K, T, KeyFn, Assigner> Window(Assigner assigner) {
    return WindowedStream<K, T, KeyFn, Assigner>(stream_, key_fn_, std::move(assigner));
  }

  //! A KeyedProcessFunction<K, T, OUT>, given as a factory returning std::unique_ptr<F> (called
  //! once per subtask), as a std::unique_ptr<F> or as an F: a prototype each subtask gets a copy
  //! of (internal/function_source.h).
  template <typename Factory>
  auto Process(Factory factory, std::string name = "KeyedProcess") {
    using Source = internal::FunctionSource<Factory>;
    if constexpr (!internal::CheckProcessFunctionSource<Factory>()) {
      return stream_;  // not reached: a static_assert failed
    } else {
      using Fn = typename Source::Function;
      using OUT = typename Fn::OutputType;
      static_assert(
          std::is_base_of_v<KeyedProcessFunction<typename Fn::KeyType, typename Fn::InputType, OUT>,
                            Fn>,
          "Process: the function must derive from KeyedProcessFunction<K, IN, OUT>");
      static_assert(std::is_same_v<typename Fn::KeyType, K>,
                    "Process: the function's key type must be the type KeyBy's selector returns");
      static_assert(std::is_same_v<typename Fn::InputType, T>,
                    "Process: the function's input type must be the stream's record type");
      KeyFn key_fn = key_fn_;
      auto make = internal::MakeFunctionFactory(std::move(factory), "Process");
      return stream_.template Then<OUT>(std::move(name), [key_fn, make]() {
        std::unique_ptr<KeyedProcessFunction<K, T, OUT>> fn = make();
        return std::make_unique<KeyedProcessOperator<K, T, OUT, KeyFn>>(key_fn, std::move(fn));
      });
    }
  }

 private:
  DataStream<T> stream_;
  KeyFn key_fn_;
};

//! A stream that no operator of its own produces: a Union(), a partitioning (Rebalance,
//! Broadcast, Forward) or a side output. It is a DataStream<T> in every way but one: the
//! operator settings, which have no operator to apply to here, are compile errors that say so
//! (before, they threw at submission without naming the call). Assigning it to a DataStream<T>
//! is fine; the settings then throw a JobDefinitionError naming the call.
template <typename T>
class RoutedStream : public DataStream<T> {
 public:
  RoutedStream(StreamEnvironment* env, std::vector<EdgeSpec> edges)
      : DataStream<T>(env, std::move(edges), -1) {}

  // Templates, so that the static_assert fires only when called; any arguments, so that it is
  // the message the caller sees, not an overload mismatch.
  template <typename... Args>
  RoutedStream& Name(Args&&...) {
    static_assert(internal::kDependentFalse<Args...>,
                  "Name() names an operator, and a Union()/partitioning/side output is not an "
                  "operator: set it on the operator that reads this stream");
    return *this;
  }
  template <typename... Args>
  RoutedStream& Uid(Args&&...) {
    static_assert(internal::kDependentFalse<Args...>,
                  "Uid() sets an operator's id, and a Union()/partitioning/side output is not an "
                  "operator: set it on the operator that reads this stream");
    return *this;
  }
  template <typename... Args>
  RoutedStream& SetParallelism(Args&&...) {
    static_assert(internal::kDependentFalse<Args...>,
                  "SetParallelism() sets an operator's parallelism, and a Union()/partitioning/"
                  "side output is not an operator: set it on the operator that reads this stream");
    return *this;
  }
  template <typename... Args>
  RoutedStream& SetMaxParallelism(Args&&...) {
    static_assert(internal::kDependentFalse<Args...>,
                  "SetMaxParallelism() sets an operator's max parallelism, and a Union()/"
                  "partitioning/side output is not an operator: set it on the operator that reads "
                  "this stream");
    return *this;
  }
  template <typename... Args>
  RoutedStream& DisableChaining(Args&&...) {
    static_assert(internal::kDependentFalse<Args...>,
                  "DisableChaining() applies to an operator, and a Union()/partitioning/side "
                  "output is not an operator: call it on the operator that reads this stream");
    return *this;
  }
  template <typename... Args>
  RoutedStream& GetSideOutput(Args&&...) {
    static_assert(internal::kDependentFalse<Args...>,
                  "GetSideOutput() reads an operator's side output, and a Union()/partitioning/"
                  "side output is not an operator: call it on the operator that emits it");
    return *this;
  }
};

template <typename T, typename Factory>
DataStream<T> StreamEnvironment::AddSource(Factory factory, const std::string& name) {
  using Source = internal::FunctionSource<Factory>;
  static_assert(Source::kCopyable,
                "AddSource: the source is not copy-constructible, so subtasks cannot each get a "
                "copy of it: pass a factory instead: env.AddSource<T>([] { return "
                "std::make_unique<S>(); }, name)");
  if constexpr (!internal::CheckFunctionSource<Factory>()) {
    return DataStream<T>(this, {}, -1);  // not reached: a static_assert failed
  } else {
    static_assert(std::is_base_of_v<StreamOperator, typename Source::Function>,
                  "AddSource: the source must derive from StreamOperator");
    auto make = internal::MakeFunctionFactory(std::move(factory), "AddSource");
    NodeSpec& n = AddNode(name);
    n.is_source = true;
    n.factory = [make]() -> std::unique_ptr<StreamOperator> { return make(); };
    n.serialize_output = &SerializeErased<T>;
    return DataStream<T>(this, {MainOutputEdge(n.id)}, static_cast<int>(n.id));
  }
}

}  // namespace sluice

#include "sluice/connected_streams.h"  // IWYU pragma: export
#include "sluice/interval_join.h"      // IWYU pragma: export
#include "sluice/windowed_stream.h"    // IWYU pragma: export
// After windowed_stream.h: a window join is a window operator.
#include "sluice/broadcast_process.h"  // IWYU pragma: export
#include "sluice/window_join.h"        // IWYU pragma: export
