// The built-in operators behind DataStream's transformations. Each runs on one task thread.
#pragma once

#include <memory>
#include <utility>

#include "sluice/runtime.h"
#include "sluice/state.h"

namespace sluice {

template <typename IN, typename OUT, typename F>
class MapOperator final : public InputOperator<IN> {
 public:
  explicit MapOperator(F fn) : fn_(std::move(fn)) {}
  void Process(const IN& in) override {
    OUT out = fn_(in);
    this->out_->Emit(&out);
  }

 private:
  F fn_;
};

template <typename T, typename F>
class FilterOperator final : public InputOperator<T> {
 public:
  explicit FilterOperator(F fn) : fn_(std::move(fn)) {}
  void Process(const T& in) override {
    if (fn_(in)) this->out_->Emit(&in);
  }

 private:
  F fn_;
};

template <typename IN, typename OUT, typename F>
class FlatMapOperator final : public InputOperator<IN> {
 public:
  explicit FlatMapOperator(F fn) : fn_(std::move(fn)) {}
  void Open(RuntimeContext& ctx, Output& out) override {
    InputOperator<IN>::Open(ctx, out);
    collector_.Reset(&out);
  }
  void Process(const IN& in) override { fn_(in, collector_); }

 private:
  F fn_;
  Collector<OUT> collector_;
};

//! What a keyed function sees: the current key, keyed state, and the subtask's runtime context.
template <typename K>
class KeyedContext {
 public:
  KeyedContext(KeyedStateStore<K>* store, RuntimeContext* runtime)
      : store_(store), runtime_(runtime) {}
  const K& CurrentKey() const { return store_->CurrentKey(); }
  //! Switches the current key, e.g. while iterating Keys() at end of input.
  void SetCurrentKey(const K& key) { store_->SetCurrentKey(key); }
  template <typename T>
  ValueState<T> GetState(const std::string& name) {
    return store_->template GetValueState<T>(name);
  }
  template <typename T>
  ListState<T> GetListState(const std::string& name) {
    return store_->template GetListState<T>(name);
  }
  template <typename UK, typename UV>
  MapState<UK, UV> GetMapState(const std::string& name) {
    return store_->template GetMapState<UK, UV>(name);
  }
  template <typename T, typename F>
  ReducingState<T> GetReducingState(const std::string& name, F reduce) {
    return store_->template GetReducingState<T>(name, std::move(reduce));
  }
  //! Every key that has state in this subtask.
  std::vector<K> Keys() const { return store_->Keys(); }
  RuntimeContext& runtime() { return *runtime_; }

 private:
  KeyedStateStore<K>* store_;
  RuntimeContext* runtime_;
};

//! User logic for a keyed stream: one instance per subtask; state is scoped to the current key.
template <typename K, typename IN, typename OUT>
class KeyedProcessFunction {
 public:
  using KeyType = K;
  using InputType = IN;
  using OutputType = OUT;
  virtual ~KeyedProcessFunction() = default;
  //! Obtain state handles here.
  virtual void Open(KeyedContext<K>& ctx) { (void)ctx; }
  virtual void ProcessElement(const IN& in, KeyedContext<K>& ctx, Collector<OUT>& out) = 0;
  //! Called once when every input has ended (bounded jobs).
  virtual void EndInput(KeyedContext<K>& ctx, Collector<OUT>& out) {
    (void)ctx;
    (void)out;
  }
  virtual void Close() {}
};

template <typename K, typename IN, typename OUT, typename KeyFn>
class KeyedProcessOperator final : public InputOperator<IN> {
 public:
  KeyedProcessOperator(KeyFn key_fn, std::unique_ptr<KeyedProcessFunction<K, IN, OUT>> fn)
      : key_fn_(std::move(key_fn)), fn_(std::move(fn)) {}
  void Open(RuntimeContext& ctx, Output& out) override {
    InputOperator<IN>::Open(ctx, out);
    collector_.Reset(&out);
    keyed_ctx_ = std::make_unique<KeyedContext<K>>(&store_, &ctx);
    fn_->Open(*keyed_ctx_);
  }
  void InitializeState(InitContext& ctx) override { store_.Initialize(ctx); }
  void SnapshotState(SnapshotContext& ctx) override { store_.Snapshot(ctx); }
  void Process(const IN& in) override {
    store_.SetCurrentKey(key_fn_(in));
    fn_->ProcessElement(in, *keyed_ctx_, collector_);
  }
  void EndInput() override { fn_->EndInput(*keyed_ctx_, collector_); }
  void Close() override { fn_->Close(); }

 private:
  KeyFn key_fn_;
  std::unique_ptr<KeyedProcessFunction<K, IN, OUT>> fn_;
  KeyedStateStore<K> store_;
  std::unique_ptr<KeyedContext<K>> keyed_ctx_;
  Collector<OUT> collector_;
};

//! Rolling reduce per key: emits the updated aggregate for every record (Flink's semantics).
template <typename K, typename T, typename KeyFn, typename F>
class ReduceOperator final : public InputOperator<T> {
 public:
  ReduceOperator(KeyFn key_fn, F fn) : key_fn_(std::move(key_fn)), fn_(std::move(fn)) {}
  void Open(RuntimeContext& ctx, Output& out) override {
    InputOperator<T>::Open(ctx, out);
    state_ = store_.template GetValueState<T>("reduce");
  }
  void InitializeState(InitContext& ctx) override { store_.Initialize(ctx); }
  void SnapshotState(SnapshotContext& ctx) override { store_.Snapshot(ctx); }
  void Process(const T& in) override {
    store_.SetCurrentKey(key_fn_(in));
    const T* acc = state_.Get();
    T next = acc ? fn_(*acc, in) : in;
    state_.Update(next);
    this->out_->Emit(&next);
  }

 private:
  KeyFn key_fn_;
  F fn_;
  KeyedStateStore<K> store_;
  ValueState<T> state_;
};

//! Base for sinks: consumes records of type T, emits nothing.
template <typename T>
class SinkOperator : public InputOperator<T> {};

}  // namespace sluice
