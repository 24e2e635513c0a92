// The broadcast state pattern's functions and operators (Flink's BroadcastProcessFunction and
// KeyedBroadcastProcessFunction):
//
//   sluice::MapStateDescriptor<std::string, Rule> rules("rules");
//   events.KeyBy(k).Connect(control.Broadcast(rules)).Process(factory);
//
// ProcessElement sees a record of the (keyed) stream with the broadcast states read only;
// ProcessBroadcastElement sees a record of the broadcast stream — every subtask sees every one —
// with the broadcast states to change and, when keyed, ApplyToKeyedState to visit every key's
// state. The broadcast states are kept and snapshotted as broadcast_state.h says.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/broadcast_state.h"
#include "sluice/datastream.h"
#include "sluice/internal/two_input_node.h"
#include "sluice/operators.h"
#include "sluice/state_descriptors.h"

namespace sluice {

//! The non-broadcast side of a BroadcastProcessFunction: the record's timestamp, side outputs,
//! time, and the broadcast states read only.
class ReadOnlyBroadcastContext : public ProcessContext {
 public:
  ReadOnlyBroadcastContext(internal::BroadcastStates* states, RuntimeContext* runtime,
                           sluice::Output* out, sluice::TimerService* timers)
      : ProcessContext(runtime, out, timers), states_(states) {}
  template <typename UK, typename UV>
  ReadOnlyBroadcastState<UK, UV> GetBroadcastState(const MapStateDescriptor<UK, UV>& d) const {
    return ReadOnlyBroadcastState<UK, UV>(states_->Get(d));
  }

 protected:
  internal::BroadcastStates* states_;
};

//! The broadcast side of a BroadcastProcessFunction: the broadcast states to change.
class BroadcastContext : public ReadOnlyBroadcastContext {
 public:
  using ReadOnlyBroadcastContext::ReadOnlyBroadcastContext;
  template <typename UK, typename UV>
  BroadcastState<UK, UV> GetBroadcastState(const MapStateDescriptor<UK, UV>& d) {
    return BroadcastState<UK, UV>(states_->Get(d));
  }
};

//! The keyed side of a KeyedBroadcastProcessFunction: what a keyed process function sees (keyed
//! state, timers and the current key), and the broadcast states read only.
template <typename K>
class KeyedReadOnlyBroadcastContext : public KeyedContext<K> {
 public:
  KeyedReadOnlyBroadcastContext(internal::BroadcastStates* states, KeyedStateStore<K>* store,
                                RuntimeContext* runtime, sluice::Output* out,
                                sluice::TimerService* timers)
      : KeyedContext<K>(store, runtime, out, timers), states_(states) {}
  template <typename UK, typename UV>
  ReadOnlyBroadcastState<UK, UV> GetBroadcastState(const MapStateDescriptor<UK, UV>& d) const {
    return ReadOnlyBroadcastState<UK, UV>(states_->Get(d));
  }

 private:
  internal::BroadcastStates* states_;
};

//! The broadcast side of a KeyedBroadcastProcessFunction: no current key; the broadcast states to
//! change, and ApplyToKeyedState to visit the keyed state of every key of this subtask.
template <typename K>
class KeyedBroadcastContext : public BroadcastContext {
 public:
  KeyedBroadcastContext(internal::BroadcastStates* states, KeyedStateStore<K>* store,
                        RuntimeContext* runtime, sluice::Output* out, sluice::TimerService* timers)
      : BroadcastContext(states, runtime, out, timers), store_(store) {}

  //! Calls fn(key, state) for every key of this subtask that has a value in the state `d`, with
  //! that key current: fn may read, change or clear it (Flink's applyToKeyedState).
  template <typename T, typename F>
  void ApplyToKeyedState(const ValueStateDescriptor<T>& d, F fn) {
    ValueState<T> state = store_->template GetValueState<T>(d.name());
    ForEachKey(d.name(), [&](const K& key) { fn(key, state); });
  }
  template <typename T, typename F>
  void ApplyToKeyedState(const ListStateDescriptor<T>& d, F fn) {
    ListState<T> state = store_->template GetListState<T>(d.name());
    ForEachKey(d.name(), [&](const K& key) { fn(key, state); });
  }
  template <typename UK, typename UV, typename F>
  void ApplyToKeyedState(const MapStateDescriptor<UK, UV>& d, F fn) {
    MapState<UK, UV> state = store_->template GetMapState<UK, UV>(d.name());
    ForEachKey(d.name(), [&](const K& key) { fn(key, state); });
  }

 private:
  template <typename Visit>
  void ForEachKey(const std::string& name, Visit visit) {
    for (const K& key : store_->KeysOf(name)) {
      store_->SetCurrentKey(key);
      visit(key);
    }
  }
  KeyedStateStore<K>* store_;
};

//! User logic over a stream and a broadcast stream, without keys.
template <typename IN, typename BC, typename OUT>
class BroadcastProcessFunction {
 public:
  using InputType = IN;
  using BroadcastType = BC;
  using OutputType = OUT;
  using ReadOnlyContext = sluice::ReadOnlyBroadcastContext;
  using Context = sluice::BroadcastContext;
  virtual ~BroadcastProcessFunction() = default;
  virtual void Open(RuntimeContext& ctx) { (void)ctx; }
  virtual void ProcessElement(const IN& in, ReadOnlyContext& ctx, Collector<OUT>& out) = 0;
  virtual void ProcessBroadcastElement(const BC& in, Context& ctx, Collector<OUT>& out) = 0;
  //! Called once when both inputs have ended (bounded jobs).
  virtual void EndInput(ReadOnlyContext& ctx, Collector<OUT>& out) {
    (void)ctx;
    (void)out;
  }
  virtual void Close() {}
};

//! User logic over a keyed stream and a broadcast stream.
template <typename K, typename IN, typename BC, typename OUT>
class KeyedBroadcastProcessFunction {
 public:
  using KeyType = K;
  using InputType = IN;
  using BroadcastType = BC;
  using OutputType = OUT;
  using ReadOnlyContext = KeyedReadOnlyBroadcastContext<K>;
  using Context = KeyedBroadcastContext<K>;
  virtual ~KeyedBroadcastProcessFunction() = default;
  //! Obtain keyed state handles here.
  virtual void Open(ReadOnlyContext& ctx) { (void)ctx; }
  virtual void ProcessElement(const IN& in, ReadOnlyContext& ctx, Collector<OUT>& out) = 0;
  virtual void ProcessBroadcastElement(const BC& in, Context& ctx, Collector<OUT>& out) = 0;
  //! A timer registered in ProcessElement fired; its key is current.
  virtual void OnTimer(int64_t timestamp, ReadOnlyContext& ctx, Collector<OUT>& out) {
    (void)timestamp;
    (void)ctx;
    (void)out;
  }
  //! Called once when both inputs have ended (bounded jobs).
  virtual void EndInput(ReadOnlyContext& ctx, Collector<OUT>& out) {
    (void)ctx;
    (void)out;
  }
  virtual void Close() {}
};

template <typename IN, typename BC, typename OUT>
class BroadcastProcessOperator final : public TwoInputOperator<IN, BC> {
 public:
  BroadcastProcessOperator(const std::vector<internal::BroadcastStateSpec>& specs,
                           std::unique_ptr<BroadcastProcessFunction<IN, BC, OUT>> fn)
      : states_(specs), fn_(std::move(fn)) {}
  void Open(RuntimeContext& ctx, Output& out) override {
    TwoInputOperator<IN, BC>::Open(ctx, out);
    collector_.Reset(&out);
    timers_ = std::make_unique<internal::NonKeyedTimerService>(&ctx);
    read_ctx_ = std::make_unique<ReadOnlyBroadcastContext>(&states_, &ctx, &out, timers_.get());
    write_ctx_ = std::make_unique<BroadcastContext>(&states_, &ctx, &out, timers_.get());
    fn_->Open(ctx);
  }
  void InitializeState(InitContext& ctx) override { states_.Initialize(ctx); }
  void SnapshotState(SnapshotContext& ctx) override {
    states_.Snapshot(ctx, this->ctx_->SubtaskIndex());
  }
  void Process1(const IN& in) override { fn_->ProcessElement(in, *read_ctx_, collector_); }
  void Process2(const BC& in) override {
    fn_->ProcessBroadcastElement(in, *write_ctx_, collector_);
  }
  void ProcessWatermark(int64_t watermark) override {
    timers_->set_watermark(watermark);
    TwoInputOperator<IN, BC>::ProcessWatermark(watermark);
  }
  void EndInput() override { fn_->EndInput(*read_ctx_, collector_); }
  void Close() override { fn_->Close(); }

 private:
  internal::BroadcastStates states_;
  std::unique_ptr<BroadcastProcessFunction<IN, BC, OUT>> fn_;
  std::unique_ptr<internal::NonKeyedTimerService> timers_;
  std::unique_ptr<ReadOnlyBroadcastContext> read_ctx_;
  std::unique_ptr<BroadcastContext> write_ctx_;
  Collector<OUT> collector_;
};

template <typename K, typename IN, typename BC, typename OUT, typename KeyFn>
class KeyedBroadcastProcessOperator final : public TwoInputOperator<IN, BC> {
 public:
  KeyedBroadcastProcessOperator(const std::vector<internal::BroadcastStateSpec>& specs,
                                KeyFn key_fn,
                                std::unique_ptr<KeyedBroadcastProcessFunction<K, IN, BC, OUT>> fn)
      : states_(specs), key_fn_(std::move(key_fn)), fn_(std::move(fn)) {}
  void Open(RuntimeContext& ctx, Output& out) override {
    TwoInputOperator<IN, BC>::Open(ctx, out);
    collector_.Reset(&out);
    keyed_timers_ = std::make_unique<internal::KeyedTimerServiceImpl<K>>(&timers_, &ctx);
    broadcast_timers_ = std::make_unique<internal::NonKeyedTimerService>(&ctx);
    read_ctx_ = std::make_unique<KeyedReadOnlyBroadcastContext<K>>(&states_, &store_, &ctx, &out,
                                                                   keyed_timers_.get());
    write_ctx_ = std::make_unique<KeyedBroadcastContext<K>>(&states_, &store_, &ctx, &out,
                                                            broadcast_timers_.get());
    fn_->Open(*read_ctx_);
  }
  void InitializeState(InitContext& ctx) override {
    store_.Initialize(ctx);
    states_.Initialize(ctx);
    timers_.Initialize(ctx, "user-timers", &store_,
                       [this](TimeDomain domain, int64_t timestamp, const VoidNamespace&) {
                         internal::PrepareUserTimer(*this->ctx_, *read_ctx_, domain, timestamp);
                         fn_->OnTimer(timestamp, *read_ctx_, collector_);
                       });
  }
  void SnapshotState(SnapshotContext& ctx) override {
    store_.Snapshot(ctx);
    states_.Snapshot(ctx, this->ctx_->SubtaskIndex());
  }
  void Process1(const IN& in) override {
    store_.SetCurrentKey(key_fn_(in));
    fn_->ProcessElement(in, *read_ctx_, collector_);
  }
  void Process2(const BC& in) override {
    fn_->ProcessBroadcastElement(in, *write_ctx_, collector_);
  }
  void ProcessWatermark(int64_t watermark) override {
    broadcast_timers_->set_watermark(watermark);
    TwoInputOperator<IN, BC>::ProcessWatermark(watermark);
  }
  void EndInput() override { fn_->EndInput(*read_ctx_, collector_); }
  void Close() override { fn_->Close(); }

 private:
  internal::BroadcastStates states_;
  KeyFn key_fn_;
  std::unique_ptr<KeyedBroadcastProcessFunction<K, IN, BC, OUT>> fn_;
  KeyedStateStore<K> store_;
  KeyedTimers<K> timers_;
  std::unique_ptr<internal::KeyedTimerServiceImpl<K>> keyed_timers_;
  std::unique_ptr<internal::NonKeyedTimerService> broadcast_timers_;
  std::unique_ptr<KeyedReadOnlyBroadcastContext<K>> read_ctx_;
  std::unique_ptr<KeyedBroadcastContext<K>> write_ctx_;
  Collector<OUT> collector_;
};

//! A stream connected with a broadcast stream (Flink's BroadcastConnectedStream).
template <typename IN, typename BC>
class BroadcastConnectedStream {
 public:
  BroadcastConnectedStream(std::vector<EdgeSpec> first, BroadcastStream<BC> broadcast)
      : first_(std::move(first)), broadcast_(std::move(broadcast)) {}

  //! A BroadcastProcessFunction<IN, BC, OUT>, given as a factory returning std::unique_ptr<F>
  //! (called once per subtask), as a std::unique_ptr<F> or as an F to copy for each subtask.
  template <typename Factory>
  auto Process(Factory factory, std::string name = "Co-Process-Broadcast") {
    using Source = internal::FunctionSource<Factory>;
    if constexpr (!internal::CheckProcessFunctionSource<Factory>()) {
      return DataStream<IN>(broadcast_.env(), {}, -1);  // not reached: a static_assert failed
    } else {
      using Fn = typename Source::Function;
      using OUT = typename Fn::OutputType;
      static_assert(std::is_base_of_v<BroadcastProcessFunction<IN, BC, OUT>, Fn>,
                    "Process: the function must derive from BroadcastProcessFunction<IN, BC, OUT> "
                    "with the stream's and the broadcast stream's record types (after KeyBy: "
                    "KeyedBroadcastProcessFunction<K, IN, BC, OUT>)");
      auto make = internal::MakeFunctionFactory(std::move(factory), "Process");
      return internal::AddTwoInputOperator<OUT>(
          broadcast_.env(), std::move(name), first_, broadcast_.edges(),
          [make, specs = broadcast_.states()] {
            std::unique_ptr<BroadcastProcessFunction<IN, BC, OUT>> fn = make();
            return std::make_unique<BroadcastProcessOperator<IN, BC, OUT>>(specs, std::move(fn));
          });
    }
  }

 private:
  std::vector<EdgeSpec> first_;
  BroadcastStream<BC> broadcast_;
};

//! A keyed stream connected with a broadcast stream.
template <typename K, typename IN, typename BC, typename KeyFn>
class KeyedBroadcastConnectedStream {
 public:
  KeyedBroadcastConnectedStream(std::vector<EdgeSpec> keyed, KeyFn key_fn,
                                BroadcastStream<BC> broadcast)
      : keyed_(std::move(keyed)), key_fn_(std::move(key_fn)), broadcast_(std::move(broadcast)) {}

  //! A KeyedBroadcastProcessFunction<K, IN, BC, OUT>, given as a factory returning
  //! std::unique_ptr<F> (called once per subtask), as a std::unique_ptr<F> or as an F to copy.
  template <typename Factory>
  auto Process(Factory factory, std::string name = "Co-Process-Broadcast-Keyed") {
    using Source = internal::FunctionSource<Factory>;
    if constexpr (!internal::CheckProcessFunctionSource<Factory>()) {
      return DataStream<IN>(broadcast_.env(), {}, -1);  // not reached: a static_assert failed
    } else {
      using Fn = typename Source::Function;
      using OUT = typename Fn::OutputType;
      static_assert(std::is_base_of_v<KeyedBroadcastProcessFunction<K, IN, BC, OUT>, Fn>,
                    "Process: the function must derive from KeyedBroadcastProcessFunction<K, IN, "
                    "BC, OUT> with the key, the keyed stream's and the broadcast stream's types");
      auto make = internal::MakeFunctionFactory(std::move(factory), "Process");
      return internal::AddTwoInputOperator<OUT>(
          broadcast_.env(), std::move(name), keyed_, broadcast_.edges(),
          [make, specs = broadcast_.states(), key_fn = key_fn_] {
            std::unique_ptr<KeyedBroadcastProcessFunction<K, IN, BC, OUT>> fn = make();
            return std::make_unique<KeyedBroadcastProcessOperator<K, IN, BC, OUT, KeyFn>>(
                specs, key_fn, std::move(fn));
          });
    }
  }

 private:
  std::vector<EdgeSpec> keyed_;
  KeyFn key_fn_;
  BroadcastStream<BC> broadcast_;
};

template <typename T>
template <typename BC>
BroadcastConnectedStream<T, BC> DataStream<T>::Connect(const BroadcastStream<BC>& other) const {
  return BroadcastConnectedStream<T, BC>(pending_, other);
}

template <typename K, typename T, typename KeyFn>
template <typename BC>
KeyedBroadcastConnectedStream<K, T, BC, KeyFn> KeyedStream<K, T, KeyFn>::Connect(
    const BroadcastStream<BC>& other) const {
  return KeyedBroadcastConnectedStream<K, T, BC, KeyFn>(stream_.pending_edges(), key_fn_, other);
}

}  // namespace sluice
