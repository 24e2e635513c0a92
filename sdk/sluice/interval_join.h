// Interval join (Flink's KeyedStream.intervalJoin): two keyed streams, a record `l` of the left
// and `r` of the right with equal keys join when
//     l.ts + lower <= r.ts <= l.ts + upper
// (an exclusive bound moves in by one millisecond). Event time only. Both sides wait in keyed
// state, one list of records per timestamp, and leave it by event-time timers once the watermark
// has passed every record they could still join; a record behind the watermark is late, dropped
// and counted (numLateRecordsDropped). The output carries the larger of the two timestamps.
//
//   left.KeyBy(kl).IntervalJoin(right.KeyBy(kr))
//       .Between(std::chrono::milliseconds(-5), std::chrono::milliseconds(10))
//       .UpperBoundExclusive()
//       .Process([] { return std::make_unique<MyJoin>(); });
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/datastream.h"
#include "sluice/internal/two_input_node.h"
#include "sluice/operators.h"
#include "sluice/output_tag.h"

namespace sluice {

//! What ProcessJoinFunction::ProcessElement sees of a joined pair.
class JoinContext {
 public:
  JoinContext(RuntimeContext* runtime, Output* out) : runtime_(runtime), out_(out) {}
  int64_t LeftTimestamp() const { return left_; }
  int64_t RightTimestamp() const { return right_; }
  //! The pair's timestamp, which its output carries: the larger of the two.
  int64_t Timestamp() const { return std::max(left_, right_); }
  //! Emits `value` to the side output `tag`.
  template <typename X>
  void Output(const OutputTag<X>& tag, const X& value) {
    out_->EmitSideOutput(tag.id(), &value);
  }
  RuntimeContext& runtime() { return *runtime_; }
  void set(int64_t left, int64_t right) {
    left_ = left;
    right_ = right;
  }

 private:
  RuntimeContext* runtime_;
  sluice::Output* out_;
  int64_t left_ = 0;
  int64_t right_ = 0;
};

//! User logic of an interval join: called once per joined pair.
template <typename L, typename R, typename OUT>
class ProcessJoinFunction {
 public:
  using LeftType = L;
  using RightType = R;
  using OutputType = OUT;
  using Context = JoinContext;
  virtual ~ProcessJoinFunction() = default;
  virtual void Open(RuntimeContext& ctx) { (void)ctx; }
  virtual void ProcessElement(const L& left, const R& right, Context& ctx, Collector<OUT>& out) = 0;
  virtual void Close() {}
};

namespace internal {

//! The bounds as the operator uses them: inclusive, exclusive ones moved in by one.
struct JoinBounds {
  int64_t lower = 0;
  int64_t upper = 0;
};

}  // namespace internal

template <typename K, typename L, typename R, typename OUT, typename KeyFnL, typename KeyFnR>
class IntervalJoinOperator final : public TwoInputOperator<L, R> {
 public:
  IntervalJoinOperator(KeyFnL key_left, KeyFnR key_right, internal::JoinBounds bounds,
                       std::unique_ptr<ProcessJoinFunction<L, R, OUT>> fn)
      : key_left_(std::move(key_left)),
        key_right_(std::move(key_right)),
        bounds_(bounds),
        fn_(std::move(fn)) {}

  void Open(RuntimeContext& ctx, Output& out) override {
    TwoInputOperator<L, R>::Open(ctx, out);
    collector_.Reset(&out);
    join_ctx_ = std::make_unique<JoinContext>(&ctx, &out);
    left_ = store_.template GetMapState<int64_t, std::vector<L>>("left-buffer");
    right_ = store_.template GetMapState<int64_t, std::vector<R>>("right-buffer");
    fn_->Open(ctx);
  }
  void InitializeState(InitContext& ctx) override {
    store_.Initialize(ctx);
    timers_.Initialize(
        ctx, "cleanup-timers", &store_,
        [this](TimeDomain, int64_t time, const int32_t& side) { Cleanup(time, side); });
  }
  void SnapshotState(SnapshotContext& ctx) override { store_.Snapshot(ctx); }
  void Close() override { fn_->Close(); }

  void Process1(const L& in) override {
    store_.SetCurrentKey(key_left_(in));
    const int64_t ts = Timestamp();
    if (IsLate(ts)) return;
    Add(left_, ts, in);
    // The right records this one joins: r.ts in [ts + lower, ts + upper].
    right_.ForEach([&](const int64_t& rts, const std::vector<R>& records) {
      if (rts < ts + bounds_.lower || rts > ts + bounds_.upper) return;
      for (const R& r : records) Emit(in, ts, r, rts);
    });
    // Once the watermark passes ts + upper no right record can join it any more.
    timers_.RegisterEventTimeTimer(bounds_.upper > 0 ? ts + bounds_.upper : ts, kLeft);
  }

  void Process2(const R& in) override {
    store_.SetCurrentKey(key_right_(in));
    const int64_t ts = Timestamp();
    if (IsLate(ts)) return;
    Add(right_, ts, in);
    // The left records this one joins: l.ts in [ts - upper, ts - lower].
    left_.ForEach([&](const int64_t& lts, const std::vector<L>& records) {
      if (lts < ts - bounds_.upper || lts > ts - bounds_.lower) return;
      for (const L& l : records) Emit(l, lts, in, ts);
    });
    timers_.RegisterEventTimeTimer(bounds_.lower < 0 ? ts - bounds_.lower : ts, kRight);
  }

 private:
  static constexpr int32_t kLeft = 0;
  static constexpr int32_t kRight = 1;

  int64_t Timestamp() const {
    const int64_t ts = this->ctx_->CurrentTimestamp();
    if (ts == kNoTimestamp) {
      throw std::runtime_error(
          "an interval join needs records with timestamps: assign them with a watermark strategy "
          "(AssignTimestampsAndWatermarks, or a source's) on both inputs");
    }
    return ts;
  }
  bool IsLate(int64_t ts) {
    const int64_t wm = timers_.CurrentWatermark();
    if (wm == kNoTimestamp || ts >= wm) return false;
    this->ctx_->AddLateRecordsDropped(1);
    return true;
  }
  template <typename T>
  static void Add(MapState<int64_t, std::vector<T>>& buffer, int64_t ts, const T& in) {
    std::vector<T> records = buffer.Get(ts).value_or(std::vector<T>{});
    records.push_back(in);
    buffer.Put(ts, std::move(records));
  }
  void Emit(const L& l, int64_t lts, const R& r, int64_t rts) {
    join_ctx_->set(lts, rts);
    this->ctx_->SetCurrentTimestamp(std::max(lts, rts));
    fn_->ProcessElement(l, r, *join_ctx_, collector_);
  }
  void Cleanup(int64_t time, int32_t side) {
    if (side == kLeft) {
      left_.Remove(bounds_.upper > 0 ? time - bounds_.upper : time);
    } else {
      right_.Remove(bounds_.lower < 0 ? time + bounds_.lower : time);
    }
  }

  KeyFnL key_left_;
  KeyFnR key_right_;
  internal::JoinBounds bounds_;
  std::unique_ptr<ProcessJoinFunction<L, R, OUT>> fn_;
  KeyedStateStore<K> store_;
  KeyedTimers<K, int32_t> timers_;
  MapState<int64_t, std::vector<L>> left_;
  MapState<int64_t, std::vector<R>> right_;
  std::unique_ptr<JoinContext> join_ctx_;
  Collector<OUT> collector_;
};

//! An interval join with its bounds, waiting for its function (Flink's IntervalJoined).
template <typename K, typename L, typename R, typename KeyFnL, typename KeyFnR>
class IntervalJoined {
 public:
  IntervalJoined(StreamEnvironment* env, std::vector<EdgeSpec> left, std::vector<EdgeSpec> right,
                 KeyFnL key_left, KeyFnR key_right, int64_t lower, int64_t upper)
      : env_(env),
        left_(std::move(left)),
        right_(std::move(right)),
        key_left_(std::move(key_left)),
        key_right_(std::move(key_right)),
        lower_(lower),
        upper_(upper) {}

  //! The lower bound no longer includes its own value: r.ts > l.ts + lower.
  IntervalJoined& LowerBoundExclusive() {
    lower_inclusive_ = false;
    return *this;
  }
  //! The upper bound no longer includes its own value: r.ts < l.ts + upper.
  IntervalJoined& UpperBoundExclusive() {
    upper_inclusive_ = false;
    return *this;
  }

  //! A ProcessJoinFunction<L, R, OUT>, given as a factory returning std::unique_ptr<F> (called
  //! once per subtask), as a std::unique_ptr<F> or as an F to copy for each subtask.
  template <typename Factory>
  auto Process(Factory factory, std::string name = "Interval Join") {
    using Source = internal::FunctionSource<Factory>;
    if constexpr (!internal::CheckProcessFunctionSource<Factory>()) {
      return DataStream<L>(env_, {}, -1);  // not reached: a static_assert failed
    } else {
      using Fn = typename Source::Function;
      using OUT = typename Fn::OutputType;
      static_assert(
          std::is_base_of_v<ProcessJoinFunction<typename Fn::LeftType, typename Fn::RightType, OUT>,
                            Fn>,
          "Process: the function must derive from ProcessJoinFunction<L, R, OUT>");
      static_assert(std::is_same_v<typename Fn::LeftType, L>,
                    "Process: the function's left type must be the left stream's record type");
      static_assert(std::is_same_v<typename Fn::RightType, R>,
                    "Process: the function's right type must be the right stream's record type");
      internal::JoinBounds bounds{lower_inclusive_ ? lower_ : lower_ + 1,
                                  upper_inclusive_ ? upper_ : upper_ - 1};
      auto make = internal::MakeFunctionFactory(std::move(factory), "Process");
      return internal::AddTwoInputOperator<OUT>(
          env_, std::move(name), left_, right_, [make, bounds, kl = key_left_, kr = key_right_] {
            std::unique_ptr<ProcessJoinFunction<L, R, OUT>> fn = make();
            return std::make_unique<IntervalJoinOperator<K, L, R, OUT, KeyFnL, KeyFnR>>(
                kl, kr, bounds, std::move(fn));
          });
    }
  }

 private:
  StreamEnvironment* env_;
  std::vector<EdgeSpec> left_;
  std::vector<EdgeSpec> right_;
  KeyFnL key_left_;
  KeyFnR key_right_;
  int64_t lower_;
  int64_t upper_;
  bool lower_inclusive_ = true;
  bool upper_inclusive_ = true;
};

//! Two keyed streams to join by time, waiting for Between (Flink's IntervalJoin).
template <typename K, typename L, typename R, typename KeyFnL, typename KeyFnR>
class IntervalJoinBuilder {
 public:
  IntervalJoinBuilder(StreamEnvironment* env, std::vector<EdgeSpec> left,
                      std::vector<EdgeSpec> right, KeyFnL key_left, KeyFnR key_right)
      : env_(env),
        left_(std::move(left)),
        right_(std::move(right)),
        key_left_(std::move(key_left)),
        key_right_(std::move(key_right)) {}

  //! Right records join a left record `l` when their timestamp is within
  //! [l.ts + lower, l.ts + upper]; lower may be negative. Fails when lower > upper.
  IntervalJoined<K, L, R, KeyFnL, KeyFnR> Between(std::chrono::milliseconds lower,
                                                  std::chrono::milliseconds upper) const {
    if (lower > upper) {
      throw JobDefinitionError("IntervalJoin: Between(" + std::to_string(lower.count()) + " ms, " +
                               std::to_string(upper.count()) +
                               " ms): the lower bound must not be above the upper bound "
                               "(lowerBound <= upperBound must be fulfilled)");
    }
    return IntervalJoined<K, L, R, KeyFnL, KeyFnR>(env_, left_, right_, key_left_, key_right_,
                                                   lower.count(), upper.count());
  }

 private:
  StreamEnvironment* env_;
  std::vector<EdgeSpec> left_;
  std::vector<EdgeSpec> right_;
  KeyFnL key_left_;
  KeyFnR key_right_;
};

template <typename K, typename T, typename KeyFn>
template <typename K2, typename T2, typename KeyFn2>
IntervalJoinBuilder<K, T, T2, KeyFn, KeyFn2> KeyedStream<K, T, KeyFn>::IntervalJoin(
    const KeyedStream<K2, T2, KeyFn2>& other) const {
  static_assert(std::is_same_v<K, K2>,
                "IntervalJoin: both streams must be keyed by the same key type");
  return IntervalJoinBuilder<K, T, T2, KeyFn, KeyFn2>(stream_.env(), stream_.pending_edges(),
                                                      other.stream_.pending_edges(), key_fn_,
                                                      other.key_fn_);
}

}  // namespace sluice
