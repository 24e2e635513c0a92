// The built-in operators behind DataStream's transformations. Each runs on one task thread.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <memory>
#include <optional>
#include <stdexcept>
#include <utility>

#include "sluice/output_tag.h"
#include "sluice/runtime.h"
#include "sluice/state.h"
#include "sluice/timers.h"

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

//! Timers and time as a process function sees them (Flink's TimerService). Timers are scoped to
//! the current key; the same (key, time) registered twice fires once.
class TimerService {
 public:
  virtual ~TimerService() = default;
  virtual int64_t CurrentProcessingTime() const = 0;
  //! The operator's current event time: kNoTimestamp (INT64_MIN) until the first watermark.
  virtual int64_t CurrentWatermark() const = 0;
  virtual void RegisterProcessingTimeTimer(int64_t time) = 0;
  virtual void RegisterEventTimeTimer(int64_t time) = 0;
  virtual void DeleteProcessingTimeTimer(int64_t time) = 0;
  virtual void DeleteEventTimeTimer(int64_t time) = 0;
};

namespace internal {

//! The TimerService of a keyed process operator, over the host's timers of its current key.
template <typename K>
class KeyedTimerServiceImpl final : public TimerService {
 public:
  KeyedTimerServiceImpl(KeyedTimers<K>* timers, RuntimeContext* runtime)
      : timers_(timers), runtime_(runtime) {}
  int64_t CurrentProcessingTime() const override { return runtime_->CurrentProcessingTime(); }
  int64_t CurrentWatermark() const override { return timers_->CurrentWatermark(); }
  void RegisterProcessingTimeTimer(int64_t t) override { timers_->RegisterProcessingTimeTimer(t); }
  void RegisterEventTimeTimer(int64_t t) override { timers_->RegisterEventTimeTimer(t); }
  void DeleteProcessingTimeTimer(int64_t t) override { timers_->DeleteProcessingTimeTimer(t); }
  void DeleteEventTimeTimer(int64_t t) override { timers_->DeleteEventTimeTimer(t); }

 private:
  KeyedTimers<K>* timers_;
  RuntimeContext* runtime_;
};

//! The TimerService of a non-keyed operator: time only; timers need a keyed stream (Flink).
class NonKeyedTimerService final : public TimerService {
 public:
  explicit NonKeyedTimerService(RuntimeContext* runtime) : runtime_(runtime) {}
  int64_t CurrentProcessingTime() const override { return runtime_->CurrentProcessingTime(); }
  int64_t CurrentWatermark() const override { return watermark_; }
  void RegisterProcessingTimeTimer(int64_t) override { Unsupported(); }
  void RegisterEventTimeTimer(int64_t) override { Unsupported(); }
  void DeleteProcessingTimeTimer(int64_t) override { Unsupported(); }
  void DeleteEventTimeTimer(int64_t) override { Unsupported(); }
  void set_watermark(int64_t watermark) { watermark_ = watermark; }

 private:
  [[noreturn]] static void Unsupported() {
    throw std::logic_error(
        "setting timers is only supported on a keyed stream: KeyBy before Process");
  }
  RuntimeContext* runtime_;
  int64_t watermark_ = kNoTimestamp;
};

}  // namespace internal

//! What every process function sees of the record in flight: its timestamp, side outputs, time.
class ProcessContext {
 public:
  ProcessContext(RuntimeContext* runtime, Output* out, TimerService* timers)
      : runtime_(runtime), out_(out), timers_(timers) {}
  //! The record's timestamp (the timer's, in OnTimer for event time); none when it has none.
  std::optional<int64_t> Timestamp() const {
    int64_t ts = runtime_->CurrentTimestamp();
    if (ts == kNoTimestamp) return std::nullopt;
    return ts;
  }
  //! Emits `value` to the side output `tag`.
  template <typename X>
  void Output(const OutputTag<X>& tag, const X& value) {
    out_->EmitSideOutput(tag.id(), &value);
  }
  sluice::TimerService& TimerService() { return *timers_; }
  //! In OnTimer: which kind of timer fired.
  sluice::TimeDomain TimeDomain() const { return domain_; }
  RuntimeContext& runtime() { return *runtime_; }
  void set_time_domain(sluice::TimeDomain domain) { domain_ = domain; }

 private:
  RuntimeContext* runtime_;
  sluice::Output* out_;
  sluice::TimerService* timers_;
  sluice::TimeDomain domain_ = sluice::TimeDomain::kEventTime;
};

namespace internal {

//! Before a keyed user function's OnTimer: as in Flink, an event-time timer's output carries the
//! timer's time, a processing-time timer's none; the context says which kind fired.
inline void PrepareUserTimer(RuntimeContext& runtime, ProcessContext& ctx, TimeDomain domain,
                             int64_t timestamp) {
  runtime.SetCurrentTimestamp(domain == TimeDomain::kEventTime ? timestamp : kNoTimestamp);
  ctx.set_time_domain(domain);
}

}  // namespace internal

//! What a keyed function sees: the current key, keyed state, timers, the record's timestamp,
//! side outputs and the subtask's runtime context.
template <typename K>
class KeyedContext : public ProcessContext {
 public:
  KeyedContext(KeyedStateStore<K>* store, RuntimeContext* runtime, sluice::Output* out = nullptr,
               sluice::TimerService* timers = nullptr)
      : ProcessContext(runtime, out, timers), store_(store) {}
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
  //! The same with a time-to-live (sluice/state_ttl.h), by processing time.
  template <typename T>
  ValueState<T> GetState(const std::string& name, const StateTtlConfig& ttl) {
    return store_->template GetValueState<T>(name, ttl, Clock());
  }
  template <typename T>
  ListState<T> GetListState(const std::string& name, const StateTtlConfig& ttl) {
    return store_->template GetListState<T>(name, ttl, Clock());
  }
  template <typename UK, typename UV>
  MapState<UK, UV> GetMapState(const std::string& name, const StateTtlConfig& ttl) {
    return store_->template GetMapState<UK, UV>(name, ttl, Clock());
  }
  template <typename T, typename F>
  ReducingState<T> GetReducingState(const std::string& name, F reduce) {
    return store_->template GetReducingState<T>(name, std::move(reduce));
  }
  //! Every key that has state in this subtask.
  std::vector<K> Keys() const { return store_->Keys(); }

 private:
  std::function<int64_t()> Clock() {
    RuntimeContext* rt = &runtime();
    return [rt] { return rt->CurrentProcessingTime(); };
  }
  KeyedStateStore<K>* store_;
};

//! User logic for a keyed stream: one instance per subtask; state and timers are scoped to the
//! current key.
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
  //! A timer registered through ctx.TimerService() fired; its key is current, ctx.TimeDomain()
  //! says which kind, and for event time ctx.Timestamp() is the timer's time.
  virtual void OnTimer(int64_t timestamp, KeyedContext<K>& ctx, Collector<OUT>& out) {
    (void)timestamp;
    (void)ctx;
    (void)out;
  }
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
    timer_service_ = std::make_unique<internal::KeyedTimerServiceImpl<K>>(&timers_, &ctx);
    keyed_ctx_ = std::make_unique<KeyedContext<K>>(&store_, &ctx, &out, timer_service_.get());
    fn_->Open(*keyed_ctx_);
  }
  void InitializeState(InitContext& ctx) override {
    store_.Initialize(ctx);
    timers_.Initialize(ctx, "user-timers", &store_,
                       [this](TimeDomain domain, int64_t timestamp, const VoidNamespace&) {
                         internal::PrepareUserTimer(*this->ctx_, *keyed_ctx_, domain, timestamp);
                         fn_->OnTimer(timestamp, *keyed_ctx_, collector_);
                       });
  }
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
  KeyedTimers<K> timers_;
  std::unique_ptr<internal::KeyedTimerServiceImpl<K>> timer_service_;
  std::unique_ptr<KeyedContext<K>> keyed_ctx_;
  Collector<OUT> collector_;
};

//! User logic for a non-keyed stream (Flink's ProcessFunction): the record's timestamp, side
//! outputs and the current watermark; timers need a keyed stream.
template <typename IN, typename OUT>
class ProcessFunction {
 public:
  using InputType = IN;
  using OutputType = OUT;
  virtual ~ProcessFunction() = default;
  virtual void Open(ProcessContext& ctx) { (void)ctx; }
  virtual void ProcessElement(const IN& in, ProcessContext& ctx, Collector<OUT>& out) = 0;
  virtual void EndInput(ProcessContext& ctx, Collector<OUT>& out) {
    (void)ctx;
    (void)out;
  }
  virtual void Close() {}
};

template <typename IN, typename OUT>
class ProcessOperator final : public InputOperator<IN> {
 public:
  explicit ProcessOperator(std::unique_ptr<ProcessFunction<IN, OUT>> fn) : fn_(std::move(fn)) {}
  void Open(RuntimeContext& ctx, Output& out) override {
    InputOperator<IN>::Open(ctx, out);
    collector_.Reset(&out);
    timer_service_ = std::make_unique<internal::NonKeyedTimerService>(&ctx);
    process_ctx_ = std::make_unique<ProcessContext>(&ctx, &out, timer_service_.get());
    fn_->Open(*process_ctx_);
  }
  void Process(const IN& in) override { fn_->ProcessElement(in, *process_ctx_, collector_); }
  void ProcessWatermark(int64_t watermark) override {
    timer_service_->set_watermark(watermark);
    InputOperator<IN>::ProcessWatermark(watermark);
  }
  void EndInput() override { fn_->EndInput(*process_ctx_, collector_); }
  void Close() override { fn_->Close(); }

 private:
  std::unique_ptr<ProcessFunction<IN, OUT>> fn_;
  std::unique_ptr<internal::NonKeyedTimerService> timer_service_;
  std::unique_ptr<ProcessContext> process_ctx_;
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
