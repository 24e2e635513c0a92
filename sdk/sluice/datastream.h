// DataStream<T>: the fluent job API (map, filter, flat_map, key_by, reduce, process, rebalance,
// broadcast, union, sinks), in the spirit of Flink's DataStream API.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/environment.h"
#include "sluice/operators.h"
#include "sluice/watermarks.h"

namespace sluice {

template <typename K, typename T, typename KeyFn>
class KeyedStream;
template <typename K, typename T, typename KeyFn, typename Assigner>
class WindowedStream;
namespace internal {
template <typename T>
struct NullByteKeySelector;
}  // namespace internal

//! Settings of the operator a stream was produced by (name, uid, parallelism, chaining).
class OperatorHandle {
 public:
  OperatorHandle(StreamEnvironment* env, int node) : env_(env), node_(node) {}

 protected:
  NodeSpec& spec() const {
    if (node_ < 0)
      throw JobDefinitionError("settings apply to an operator, not to a union/partitioning");
    return env_->node(static_cast<uint32_t>(node_));
  }
  StreamEnvironment* env_;
  int node_;  // -1 for a union or repartitioned stream
};

template <typename T>
class DataStream : public OperatorHandle {
 public:
  DataStream(StreamEnvironment* env, std::vector<EdgeSpec> pending, int node)
      : OperatorHandle(env, node), pending_(std::move(pending)) {}

  DataStream& Name(std::string name) {
    spec().name = std::move(name);
    return *this;
  }
  DataStream& Uid(std::string uid) {
    spec().uid = std::move(uid);
    return *this;
  }
  DataStream& SetParallelism(int p) {
    if (p <= 0) throw JobDefinitionError("parallelism must be positive");
    spec().parallelism = p;
    return *this;
  }
  DataStream& SetMaxParallelism(int p) {
    if (p <= 0) throw JobDefinitionError("max parallelism must be positive");
    spec().max_parallelism = p;
    return *this;
  }
  DataStream& DisableChaining() {
    spec().chainable = false;
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

  //! fn(const T&, Collector<OUT>&) emits zero or more records.
  template <typename OUT, typename F>
  DataStream<OUT> FlatMap(F fn, std::string name = "FlatMap") {
    return Then<OUT>(std::move(name),
                     [fn]() { return std::make_unique<FlatMapOperator<T, OUT, F>>(fn); });
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

  //! `factory` returns std::unique_ptr<Fn>, Fn deriving from ProcessFunction<T, OUT>: the
  //! record's timestamp, side outputs and the current watermark, without keys.
  template <typename Factory>
  auto Process(Factory factory, std::string name = "Process") {
    using Fn = typename std::invoke_result_t<Factory>::element_type;
    using OUT = typename Fn::OutputType;
    static_assert(std::is_same_v<typename Fn::InputType, T>, "function input type differs");
    return Then<OUT>(std::move(name), [factory]() {
      std::unique_ptr<ProcessFunction<T, OUT>> fn = factory();
      return std::make_unique<ProcessOperator<T, OUT>>(std::move(fn));
    });
  }

  //! The records this stream's operator emitted to the side output `tag`.
  template <typename X>
  DataStream<X> GetSideOutput(const OutputTag<X>& tag) const {
    if (node_ < 0) {
      throw JobDefinitionError("GetSideOutput applies to an operator, not to a union/partitioning");
    }
    EdgeSpec e = MainOutputEdge(static_cast<uint32_t>(node_));
    e.side_output = tag.id();
    e.serialize_side_output = &SerializeErased<X>;
    return DataStream<X>(env_, {e}, -1);
  }

  //! All records in windows of `assigner`, in one subtask (parallelism 1); see windowed_stream.h.
  template <typename Assigner>
  auto WindowAll(Assigner assigner) {
    using KeyFn = internal::NullByteKeySelector<T>;
    DataStream<T> keyed = KeyBy(KeyFn{}).stream_;
    return WindowedStream<uint8_t, T, KeyFn, Assigner>(std::move(keyed), KeyFn{},
                                                       std::move(assigner), /*all=*/true);
  }

  DataStream<T> Rebalance() { return Repartition(PartitionKind::kRebalance); }
  DataStream<T> Broadcast() { return Repartition(PartitionKind::kBroadcast); }
  DataStream<T> Forward() { return Repartition(PartitionKind::kForward); }

  //! Merges streams of the same type; the next operator reads all of them as one input.
  DataStream<T> Union(const DataStream<T>& other) const {
    std::vector<EdgeSpec> edges = pending_;
    edges.insert(edges.end(), other.pending_.begin(), other.pending_.end());
    return DataStream<T>(env_, std::move(edges), -1);
  }

  //! Adds a sink; `factory` returns a std::unique_ptr to a SinkOperator<T> (see connectors/).
  template <typename Factory>
  DataStream<T> SinkTo(Factory factory, std::string name = "Sink") {
    return Then<T>(
        std::move(name), [factory]() -> std::unique_ptr<StreamOperator> { return factory(); },
        /*has_output=*/false);
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
  DataStream<T> Repartition(PartitionKind kind) const {
    std::vector<EdgeSpec> edges = pending_;
    for (auto& e : edges) {
      e.kind = kind;
      e.key_hash = nullptr;
    }
    return DataStream<T>(env_, std::move(edges), -1);
  }

  std::vector<EdgeSpec> pending_;
};

template <typename K, typename T, typename KeyFn>
class KeyedStream {
 public:
  template <typename>
  friend class DataStream;
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

  //! The records of each key in windows of `assigner`; see windowed_stream.h.
  template <typename Assigner>
  WindowedStream<K, T, KeyFn, Assigner> Window(Assigner assigner) {
    return WindowedStream<K, T, KeyFn, Assigner>(stream_, key_fn_, std::move(assigner));
  }

  //! `factory` returns std::unique_ptr<Fn>, Fn deriving from KeyedProcessFunction<K, T, OUT>.
  template <typename Factory>
  auto Process(Factory factory, std::string name = "KeyedProcess") {
    using Fn = typename std::invoke_result_t<Factory>::element_type;
    using OUT = typename Fn::OutputType;
    static_assert(std::is_same_v<typename Fn::KeyType, K>,
                  "function key type differs from KeyBy's");
    static_assert(std::is_same_v<typename Fn::InputType, T>, "function input type differs");
    KeyFn key_fn = key_fn_;
    return stream_.template Then<OUT>(std::move(name), [key_fn, factory]() {
      std::unique_ptr<KeyedProcessFunction<K, T, OUT>> fn = factory();
      return std::make_unique<KeyedProcessOperator<K, T, OUT, KeyFn>>(key_fn, std::move(fn));
    });
  }

 private:
  DataStream<T> stream_;
  KeyFn key_fn_;
};

template <typename T, typename Factory>
DataStream<T> StreamEnvironment::AddSource(Factory factory, const std::string& name) {
  NodeSpec& n = AddNode(name);
  n.is_source = true;
  n.factory = [factory]() -> std::unique_ptr<StreamOperator> { return factory(); };
  n.serialize_output = &SerializeErased<T>;
  return DataStream<T>(this, {MainOutputEdge(n.id)}, static_cast<int>(n.id));
}

}  // namespace sluice

#include "sluice/windowed_stream.h"  // IWYU pragma: export
