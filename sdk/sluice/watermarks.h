// Event time for job packages, as Flink's WatermarkStrategy API: a WatermarkStrategy says how a
// record's timestamp is found (the timestamp assigner) and how watermarks are made from those
// timestamps (a WatermarkGenerator per subtask or per split). It is applied by
// DataStream::AssignTimestampsAndWatermarks (TimestampsAndWatermarksOperator below) or inside a
// source (SourceWatermarks below, one generator per split). See docs/event-time.md.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/environment.h"
#include "sluice/runtime.h"
#include "sluice/watermark_generators.h"
#include "sluice/watermark_output_multiplexer.h"

namespace sluice {
namespace internal {

//! `d` in whole milliseconds (truncated, as Java's Duration.toMillis); JobDefinitionError naming
//! `what` when it does not fit in an int64_t.
template <typename Rep, typename Period>
int64_t DurationToMillis(std::chrono::duration<Rep, Period> d, const char* what) {
  const long double ms = std::chrono::duration<long double, std::milli>(d).count();
  if (!(ms < 0x1p63L && ms >= -0x1p63L)) {
    throw JobDefinitionError(std::string(what) + " does not fit in 64-bit milliseconds");
  }
  if constexpr (std::chrono::treat_as_floating_point_v<Rep>) {
    return static_cast<int64_t>(ms);
  } else {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();  // exact
  }
}

}  // namespace internal

//! Watermark alignment of a strategy (Flink's WatermarkAlignmentParams): sources of the same
//! group should not let their watermarks drift more than max_drift_ms apart, checked every
//! update_interval_ms. Accepted and kept, not yet enforced: the runtime does not pause splits yet.
struct WatermarkAlignmentParams {
  std::string group;  //!< Empty: alignment is off (the default).
  int64_t max_drift_ms = 0;
  int64_t update_interval_ms = 0;
  bool IsEnabled() const { return !group.empty(); }
};

//! How timestamps and watermarks are made for a stream of T. Immutable: every With* returns a
//! changed copy. Copyable, because the operator factories that run on the TaskManagers capture it;
//! Create* then runs once per subtask (or split) there. The builders validate their arguments and
//! throw JobDefinitionError, so bad settings fail while the job graph is built.
template <typename T>
class WatermarkStrategy {
 public:
  //! Makes a generator; the clock measures time between periodic emits (for idleness).
  using GeneratorFactory =
      std::function<std::unique_ptr<WatermarkGenerator<T>>(const WatermarkClock& clock)>;
  //! The event's timestamp in epoch milliseconds, given the timestamp it already carries
  //! (kNoTimestamp when none).
  using TimestampAssigner = std::function<int64_t(const T& event, int64_t record_timestamp)>;

  //! Events are at most `max_out_of_orderness` (>= 0) late relative to the largest timestamp.
  template <typename Rep, typename Period>
  static WatermarkStrategy ForBoundedOutOfOrderness(
      std::chrono::duration<Rep, Period> max_out_of_orderness) {
    if (max_out_of_orderness < std::chrono::duration<Rep, Period>::zero()) {
      throw JobDefinitionError("watermark out-of-orderness must not be negative");
    }
    const int64_t ms =
        internal::DurationToMillis(max_out_of_orderness, "watermark out-of-orderness");
    return WatermarkStrategy([ms](const WatermarkClock&) -> std::unique_ptr<WatermarkGenerator<T>> {
      return std::make_unique<BoundedOutOfOrdernessWatermarks<T>>(ms);
    });
  }
  //! Timestamps never decrease: the watermark trails the largest timestamp by 1 ms.
  static WatermarkStrategy ForMonotonousTimestamps() {
    return WatermarkStrategy([](const WatermarkClock&) -> std::unique_ptr<WatermarkGenerator<T>> {
      return std::make_unique<AscendingTimestampsWatermarks<T>>();
    });
  }
  //! No watermarks at all (timestamps may still be assigned).
  static WatermarkStrategy NoWatermarks() {
    return WatermarkStrategy([](const WatermarkClock&) -> std::unique_ptr<WatermarkGenerator<T>> {
      return std::make_unique<NoWatermarksGenerator<T>>();
    });
  }
  //! A custom generator: `factory()` returns std::unique_ptr<G>, G deriving from
  //! WatermarkGenerator<T>. It must be copyable; it runs on the TaskManagers.
  template <typename Factory>
  static WatermarkStrategy ForGenerator(Factory factory) {
    return WatermarkStrategy(
        [factory](const WatermarkClock&) -> std::unique_ptr<WatermarkGenerator<T>> {
          return factory();
        });
  }

  //! `fn(const T&)` or `fn(const T&, int64_t record_timestamp)` returns the event's timestamp in
  //! epoch milliseconds. Without one the record keeps the timestamp it carries.
  template <typename F>
  WatermarkStrategy WithTimestampAssigner(F fn) const {
    WatermarkStrategy s = *this;
    if constexpr (std::is_invocable_r_v<int64_t, const F&, const T&, int64_t>) {
      s.assigner_ = [fn](const T& event, int64_t record_timestamp) -> int64_t {
        return fn(event, record_timestamp);
      };
    } else {
      static_assert(std::is_invocable_r_v<int64_t, const F&, const T&>,
                    "a timestamp assigner is int64_t(const T&) or int64_t(const T&, int64_t)");
      s.assigner_ = [fn](const T& event, int64_t) -> int64_t { return fn(event); };
    }
    return s;
  }

  //! Marks the stream (or split) idle when no event arrived for `timeout` (> 0), checked at each
  //! periodic emit; an event makes it active again. An idle input holds back no watermark.
  template <typename Rep, typename Period>
  WatermarkStrategy WithIdleness(std::chrono::duration<Rep, Period> timeout) const {
    if (timeout <= std::chrono::duration<Rep, Period>::zero()) {
      throw JobDefinitionError("watermark idleness timeout must be positive");
    }
    const int64_t ms = internal::DurationToMillis(timeout, "watermark idleness timeout");
    WatermarkStrategy s = *this;
    GeneratorFactory base = generator_;
    s.generator_ = [base,
                    ms](const WatermarkClock& clock) -> std::unique_ptr<WatermarkGenerator<T>> {
      return std::make_unique<WatermarksWithIdleness<T>>(base(clock), ms, clock);
    };
    return s;
  }

  //! Sources with this strategy in `group` should keep their watermarks within `max_drift` (> 0)
  //! of the group's minimum, re-checked every `update_interval` (> 0; Flink's default is 1 s).
  //! Sources (the generator, the file source) pause the splits that run ahead; the group's
  //! allowance is refreshed with every metrics report (docs/event-time.md). Ignored by
  //! DataStream::AssignTimestampsAndWatermarks, as in Flink: alignment belongs to sources.
  template <typename R1, typename P1, typename R2, typename P2>
  WatermarkStrategy WithWatermarkAlignment(std::string group,
                                           std::chrono::duration<R1, P1> max_drift,
                                           std::chrono::duration<R2, P2> update_interval) const {
    if (group.empty()) throw JobDefinitionError("watermark alignment group must not be empty");
    if (max_drift <= std::chrono::duration<R1, P1>::zero()) {
      throw JobDefinitionError("watermark alignment max drift must be positive");
    }
    if (update_interval <= std::chrono::duration<R2, P2>::zero()) {
      throw JobDefinitionError("watermark alignment update interval must be positive");
    }
    WatermarkStrategy s = *this;
    s.alignment_.group = std::move(group);
    s.alignment_.max_drift_ms =
        internal::DurationToMillis(max_drift, "watermark alignment max drift");
    s.alignment_.update_interval_ms =
        internal::DurationToMillis(update_interval, "watermark alignment update interval");
    return s;
  }
  template <typename R1, typename P1>
  WatermarkStrategy WithWatermarkAlignment(std::string group,
                                           std::chrono::duration<R1, P1> max_drift) const {
    return WithWatermarkAlignment(std::move(group), max_drift, std::chrono::seconds(1));
  }

  // ---- for the operators that apply the strategy (on the TaskManager) ----

  std::unique_ptr<WatermarkGenerator<T>> CreateWatermarkGenerator(
      const WatermarkClock& clock) const {
    return generator_(clock);
  }
  //! The assigner given to WithTimestampAssigner, else one that keeps the record's timestamp
  //! (Flink's RecordTimestampAssigner).
  TimestampAssigner CreateTimestampAssigner() const {
    if (assigner_) return assigner_;
    return [](const T&, int64_t record_timestamp) { return record_timestamp; };
  }
  const WatermarkAlignmentParams& AlignmentParameters() const { return alignment_; }

 private:
  explicit WatermarkStrategy(GeneratorFactory generator) : generator_(std::move(generator)) {}

  GeneratorFactory generator_;
  TimestampAssigner assigner_;  // null: the record's own timestamp
  WatermarkAlignmentParams alignment_;
};

//! The operator behind DataStream::AssignTimestampsAndWatermarks (Flink's
//! TimestampsAndWatermarksOperator): sets each record's timestamp, emits it, shows it to the
//! generator, and asks the generator for a watermark every AutoWatermarkIntervalMs(). It makes the
//! stream's watermarks: those from upstream are dropped, except the end-of-input kMaxWatermark.
//! Owned by the host's task; task thread only (periodic emits run through the task mailbox).
template <typename T>
class TimestampsAndWatermarksOperator final : public InputOperator<T> {
 public:
  explicit TimestampsAndWatermarksOperator(WatermarkStrategy<T> strategy)
      : strategy_(std::move(strategy)) {}

  void Open(RuntimeContext& ctx, Output& out) override {
    InputOperator<T>::Open(ctx, out);
    emitter_ = WatermarkEmitter(&out);
    assigner_ = strategy_.CreateTimestampAssigner();
    generator_ = strategy_.CreateWatermarkGenerator(
        [runtime = &ctx] { return runtime->CurrentProcessingTime(); });
    interval_ms_ = ctx.AutoWatermarkIntervalMs();
    alive_ = std::make_shared<char>();
    if (interval_ms_ > 0) ScheduleNextEmit();
  }

  void Process(const T& in) override {
    const int64_t timestamp = AssignTimestamp(in);
    this->ctx_->SetCurrentTimestamp(timestamp);
    // A record ends idleness downstream (runtime.h); keep the emitter in step, or it would swallow
    // the next MarkIdle.
    emitter_.MarkActive();
    this->out_->Emit(&in);
    // After the record, as Flink: a punctuated watermark it triggers must not make it late.
    generator_->OnEvent(in, timestamp, emitter_);
  }

  void ProcessWatermark(int64_t watermark) override {
    // End of input (or drain) must still flush every window downstream.
    if (watermark == kMaxWatermark) emitter_.EmitWatermark(kMaxWatermark);
  }
  void ProcessWatermarkStatus(bool idle) override { (void)idle; }

  void Close() override { alive_.reset(); }

  int64_t current_watermark() const { return emitter_.current_watermark(); }

 private:
  //! The user's assigner; what it throws fails the task with a message that says where it came
  //! from (the exception's own text alone does not say it was the timestamp assigner).
  int64_t AssignTimestamp(const T& in) {
    try {
      return assigner_(in, this->ctx_->CurrentTimestamp());
    } catch (const std::exception& e) {
      throw std::runtime_error("the timestamp assigner in task '" + this->ctx_->TaskName() +
                               "' threw on a record: " + e.what());
    }
  }

  void ScheduleNextEmit() {
    // The callback may outlive the operator if the host still holds it after Close.
    std::weak_ptr<char> alive = alive_;
    this->ctx_->ScheduleProcessingTime(this->ctx_->CurrentProcessingTime() + interval_ms_,
                                       [this, alive] {
                                         if (alive.expired()) return;
                                         generator_->OnPeriodicEmit(emitter_);
                                         ScheduleNextEmit();
                                       });
  }

  WatermarkStrategy<T> strategy_;
  typename WatermarkStrategy<T>::TimestampAssigner assigner_;
  std::unique_ptr<WatermarkGenerator<T>> generator_;
  WatermarkEmitter emitter_;
  int64_t interval_ms_ = 0;
  std::shared_ptr<char> alive_;
};

//! Timestamps and watermarks inside a source, one generator per split (Flink's
//! ProgressiveTimestampsAndWatermarks): a split's events advance only its own watermark, and the
//! source emits the minimum over its active splits (WatermarkOutputMultiplexer). Owned by the
//! source operator, created in its Open; task thread only.
template <typename T>
class SourceWatermarks {
 public:
  //! How long a source whose splits are all paused by watermark alignment waits before it looks
  //! again (it is woken earlier by its mailbox: timers, checkpoints).
  static constexpr int64_t kPausedWaitMicros = 10000;

  SourceWatermarks(WatermarkStrategy<T> strategy, RuntimeContext& ctx, Output& out,
                   const std::vector<std::string>& splits = {})
      : strategy_(std::move(strategy)),
        assigner_(strategy_.CreateTimestampAssigner()),
        ctx_(&ctx),
        out_(&out),
        emitter_(&out),
        multiplexer_(emitter_) {
    for (const std::string& split : splits) AddSplit(split);
  }
  SourceWatermarks(const SourceWatermarks&) = delete;
  SourceWatermarks& operator=(const SourceWatermarks&) = delete;

  //! A newly assigned split. Throws std::logic_error when it is already there.
  void AddSplit(const std::string& split) {
    multiplexer_.RegisterNewOutput(split);
    generators_[split] = strategy_.CreateWatermarkGenerator(
        [runtime = ctx_] { return runtime->CurrentProcessingTime(); });
  }
  //! A finished split: it no longer holds the watermark back (from the next update on).
  void RemoveSplit(const std::string& split) {
    generators_.erase(split);
    multiplexer_.UnregisterOutput(split);
  }

  //! A record read from `split`: assigns its timestamp (from `record_timestamp`, the one the
  //! reader knows, if the strategy has no assigner), sets it as the current timestamp, emits the
  //! record, then shows it to the split's generator. Returns the timestamp.
  int64_t OnRecord(const std::string& split, const T& record,
                   int64_t record_timestamp = kNoTimestamp) {
    return OnRecord(Handle(split), record, record_timestamp);
  }

  //! A split's generator and watermark output, so that a source's records reach them without a
  //! lookup by name (two string-keyed map searches per record otherwise). Valid until the split
  //! is removed.
  struct SplitHandle {
    WatermarkGenerator<T>* generator = nullptr;
    WatermarkOutput* output = nullptr;
  };
  //! Throws std::logic_error for a split that is not there.
  SplitHandle Handle(const std::string& split) {
    auto it = generators_.find(split);
    if (it == generators_.end())
      throw std::logic_error("record from unknown split '" + split + "'");
    return SplitHandle{it->second.get(), &multiplexer_.GetImmediateOutput(split)};
  }
  //! OnRecord for the split `handle` stands for.
  int64_t OnRecord(const SplitHandle& handle, const T& record,
                   int64_t record_timestamp = kNoTimestamp) {
    const int64_t timestamp = assigner_(record, record_timestamp);
    ctx_->SetCurrentTimestamp(timestamp);
    out_->Emit(&record);
    handle.generator->OnEvent(record, timestamp, *handle.output);
    return timestamp;
  }

  //! Every split's periodic emit, then the combined watermark; reports which split holds it back
  //! and, with watermark alignment, reports it (the maximum while idle) to the source's group.
  void OnPeriodicEmit() {
    for (auto& [split, generator] : generators_) {
      generator->OnPeriodicEmit(multiplexer_.GetDeferredOutput(split));
    }
    multiplexer_.OnPeriodicEmit();
    ctx_->ReportSplitWatermarks(current_watermark(), multiplexer_.holding_back(),
                                multiplexer_.idle_outputs());
    if (aligned()) {
      int paused = 0;
      for (const auto& [split, generator] : generators_) paused += SplitPaused(split) ? 1 : 0;
      const WatermarkAlignmentParams& a = strategy_.AlignmentParameters();
      ctx_->ReportWatermarkForAlignment(a.group, a.max_drift_ms,
                                        idle() ? kMaxWatermark : current_watermark(), paused);
    }
  }

  //! Whether the strategy asks for watermark alignment.
  bool aligned() const { return !strategy_.AlignmentParameters().group.empty(); }
  //! Watermark alignment holds `split` back: its watermark ran past the most its group allows
  //! (Flink's split-level alignment). A split without a watermark yet is never held back.
  bool SplitPaused(const std::string& split) const {
    return aligned() && multiplexer_.watermark_of(split) > ctx_->MaxAllowedWatermark();
  }

  //! Calls OnPeriodicEmit every AutoWatermarkIntervalMs() (if > 0) through the task mailbox,
  //! until this object is destroyed.
  void StartPeriodicEmit() {
    const int64_t interval = ctx_->AutoWatermarkIntervalMs();
    if (interval <= 0) return;
    std::weak_ptr<char> alive = alive_;
    ctx_->ScheduleProcessingTime(ctx_->CurrentProcessingTime() + interval, [this, alive] {
      if (alive.expired()) return;
      OnPeriodicEmit();
      StartPeriodicEmit();
    });
  }

  int64_t current_watermark() const { return emitter_.current_watermark(); }
  bool idle() const { return emitter_.idle(); }

 private:
  WatermarkStrategy<T> strategy_;
  typename WatermarkStrategy<T>::TimestampAssigner assigner_;
  RuntimeContext* ctx_;
  Output* out_;
  WatermarkEmitter emitter_;
  WatermarkOutputMultiplexer multiplexer_;  // after emitter_, which it writes to
  std::map<std::string, std::unique_ptr<WatermarkGenerator<T>>> generators_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

}  // namespace sluice
