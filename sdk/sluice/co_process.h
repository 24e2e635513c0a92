// Two inputs (Flink's CoProcessFunction and KeyedCoProcessFunction) and the operators that run
// them. A two-input operator reads both inputs from the network; its watermark is the minimum of
// both inputs' (the host's valve spans every channel of both), and checkpoint barriers are
// aligned across both.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <memory>
#include <utility>

#include "sluice/operators.h"

namespace sluice {

//! User logic over two streams without keys: ProcessElement1 sees the first input's records,
//! ProcessElement2 the second's, in the order they arrive. The context gives the record's
//! timestamp, side outputs and the current watermark; timers need a keyed stream (KeyBy first).
template <typename IN1, typename IN2, typename OUT>
class CoProcessFunction {
 public:
  using FirstInputType = IN1;
  using SecondInputType = IN2;
  using OutputType = OUT;
  using Context = ProcessContext;
  virtual ~CoProcessFunction() = default;
  virtual void Open(Context& ctx) { (void)ctx; }
  virtual void ProcessElement1(const IN1& in, Context& ctx, Collector<OUT>& out) = 0;
  virtual void ProcessElement2(const IN2& in, Context& ctx, Collector<OUT>& out) = 0;
  //! Called once when both inputs have ended (bounded jobs).
  virtual void EndInput(Context& ctx, Collector<OUT>& out) {
    (void)ctx;
    (void)out;
  }
  virtual void Close() {}
};

//! User logic over two streams keyed alike (Connect(...).KeyBy(key1, key2)): records of both
//! inputs with equal keys meet in the same subtask, and state and timers are scoped to the
//! current key, whichever input set it.
template <typename K, typename IN1, typename IN2, typename OUT>
class KeyedCoProcessFunction {
 public:
  using KeyType = K;
  using FirstInputType = IN1;
  using SecondInputType = IN2;
  using OutputType = OUT;
  using Context = KeyedContext<K>;
  virtual ~KeyedCoProcessFunction() = default;
  //! Obtain state handles here.
  virtual void Open(Context& ctx) { (void)ctx; }
  virtual void ProcessElement1(const IN1& in, Context& ctx, Collector<OUT>& out) = 0;
  virtual void ProcessElement2(const IN2& in, Context& ctx, Collector<OUT>& out) = 0;
  //! A timer registered through ctx.TimerService() fired; its key is current, ctx.TimeDomain()
  //! says which kind, and for event time ctx.Timestamp() is the timer's time.
  virtual void OnTimer(int64_t timestamp, Context& ctx, Collector<OUT>& out) {
    (void)timestamp;
    (void)ctx;
    (void)out;
  }
  //! Called once when both inputs have ended (bounded jobs).
  virtual void EndInput(Context& ctx, Collector<OUT>& out) {
    (void)ctx;
    (void)out;
  }
  virtual void Close() {}
};

template <typename IN1, typename IN2, typename OUT>
class CoProcessOperator final : public TwoInputOperator<IN1, IN2> {
 public:
  explicit CoProcessOperator(std::unique_ptr<CoProcessFunction<IN1, IN2, OUT>> fn)
      : fn_(std::move(fn)) {}
  void Open(RuntimeContext& ctx, Output& out) override {
    TwoInputOperator<IN1, IN2>::Open(ctx, out);
    collector_.Reset(&out);
    timer_service_ = std::make_unique<internal::NonKeyedTimerService>(&ctx);
    process_ctx_ = std::make_unique<ProcessContext>(&ctx, &out, timer_service_.get());
    fn_->Open(*process_ctx_);
  }
  void Process1(const IN1& in) override { fn_->ProcessElement1(in, *process_ctx_, collector_); }
  void Process2(const IN2& in) override { fn_->ProcessElement2(in, *process_ctx_, collector_); }
  void ProcessWatermark(int64_t watermark) override {
    timer_service_->set_watermark(watermark);
    TwoInputOperator<IN1, IN2>::ProcessWatermark(watermark);
  }
  void EndInput() override { fn_->EndInput(*process_ctx_, collector_); }
  void Close() override { fn_->Close(); }

 private:
  std::unique_ptr<CoProcessFunction<IN1, IN2, OUT>> fn_;
  std::unique_ptr<internal::NonKeyedTimerService> timer_service_;
  std::unique_ptr<ProcessContext> process_ctx_;
  Collector<OUT> collector_;
};

template <typename K, typename IN1, typename IN2, typename OUT, typename KeyFn1, typename KeyFn2>
class KeyedCoProcessOperator final : public TwoInputOperator<IN1, IN2> {
 public:
  KeyedCoProcessOperator(KeyFn1 key1, KeyFn2 key2,
                         std::unique_ptr<KeyedCoProcessFunction<K, IN1, IN2, OUT>> fn)
      : key1_(std::move(key1)), key2_(std::move(key2)), fn_(std::move(fn)) {}
  void Open(RuntimeContext& ctx, Output& out) override {
    TwoInputOperator<IN1, IN2>::Open(ctx, out);
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
  void Process1(const IN1& in) override {
    store_.SetCurrentKey(key1_(in));
    fn_->ProcessElement1(in, *keyed_ctx_, collector_);
  }
  void Process2(const IN2& in) override {
    store_.SetCurrentKey(key2_(in));
    fn_->ProcessElement2(in, *keyed_ctx_, collector_);
  }
  void EndInput() override { fn_->EndInput(*keyed_ctx_, collector_); }
  void Close() override { fn_->Close(); }

 private:
  KeyFn1 key1_;
  KeyFn2 key2_;
  std::unique_ptr<KeyedCoProcessFunction<K, IN1, IN2, OUT>> fn_;
  KeyedStateStore<K> store_;
  KeyedTimers<K> timers_;
  std::unique_ptr<internal::KeyedTimerServiceImpl<K>> timer_service_;
  std::unique_ptr<KeyedContext<K>> keyed_ctx_;
  Collector<OUT> collector_;
};

}  // namespace sluice
