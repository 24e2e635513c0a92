// Watermark generators, as Flink's org.apache.flink.api.common.eventtime: a generator sees every
// event with its timestamp and, on a periodic emit, says how far event time has progressed. The
// built-in ones (bounded out-of-orderness, monotonous, none) and the idleness wrapper live here;
// WatermarkStrategy (watermarks.h) picks one per subtask or split. Each generator instance is
// used by one task thread only.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "sluice/runtime.h"

namespace sluice {

//! Where a generator sends its watermarks and idleness (Flink's WatermarkOutput). Implementations
//! ignore a watermark that does not advance, so a generator may repeat itself freely.
class WatermarkOutput {
 public:
  virtual ~WatermarkOutput() = default;
  //! No event with a timestamp at or below `watermark` follows. Also ends idleness.
  virtual void EmitWatermark(int64_t watermark) = 0;
  //! This output holds back no downstream watermark until it is active again.
  virtual void MarkIdle() = 0;
  virtual void MarkActive() = 0;
};

//! Makes watermarks from events (Flink's WatermarkGenerator): OnEvent for every record, then
//! OnPeriodicEmit every pipeline.auto-watermark-interval. A punctuated generator emits in OnEvent;
//! a periodic one remembers what it saw and emits in OnPeriodicEmit.
template <typename T>
class WatermarkGenerator {
 public:
  virtual ~WatermarkGenerator() = default;
  virtual void OnEvent(const T& event, int64_t timestamp, WatermarkOutput& out) = 0;
  virtual void OnPeriodicEmit(WatermarkOutput& out) = 0;
};

//! Events arrive at most `out_of_orderness_ms` late relative to the largest timestamp seen: the
//! watermark is that timestamp minus the bound minus 1 (a record exactly at the bound is still on
//! time). The maximum starts at INT64_MIN + bound + 1 so that the first watermark is INT64_MIN
//! rather than an underflow.
template <typename T>
class BoundedOutOfOrdernessWatermarks : public WatermarkGenerator<T> {
 public:
  //! `out_of_orderness_ms` >= 0 (WatermarkStrategy validates it).
  explicit BoundedOutOfOrdernessWatermarks(int64_t out_of_orderness_ms)
      : out_of_orderness_ms_(out_of_orderness_ms),
        max_timestamp_(INT64_MIN + out_of_orderness_ms + 1) {}
  void OnEvent(const T& event, int64_t timestamp, WatermarkOutput& out) override {
    (void)event;
    (void)out;
    max_timestamp_ = std::max(max_timestamp_, timestamp);
  }
  void OnPeriodicEmit(WatermarkOutput& out) override {
    out.EmitWatermark(max_timestamp_ - out_of_orderness_ms_ - 1);
  }

 private:
  int64_t out_of_orderness_ms_;
  int64_t max_timestamp_;
};

//! Timestamps never decrease: bounded out-of-orderness with a bound of 0.
template <typename T>
class AscendingTimestampsWatermarks final : public BoundedOutOfOrdernessWatermarks<T> {
 public:
  AscendingTimestampsWatermarks() : BoundedOutOfOrdernessWatermarks<T>(0) {}
};

//! Emits nothing: for streams whose event time is not used, or whose watermarks come from
//! elsewhere.
template <typename T>
class NoWatermarksGenerator final : public WatermarkGenerator<T> {
 public:
  void OnEvent(const T&, int64_t, WatermarkOutput&) override {}
  void OnPeriodicEmit(WatermarkOutput&) override {}
};

//! Milliseconds by some clock; only differences are used (Flink's RelativeClock). Operators pass
//! the host's processing-time clock, tests a variable they advance.
using WatermarkClock = std::function<int64_t()>;

//! Decides when an input has been idle for `timeout_ms`, sampled at each periodic emit (Flink's
//! IdlenessTimer): the clock starts at the first check that finds no activity since the previous
//! check, and the input is idle once more than the timeout has passed since then.
class IdlenessTimer {
 public:
  IdlenessTimer(WatermarkClock clock, int64_t timeout_ms)
      : clock_(std::move(clock)), timeout_ms_(timeout_ms) {}
  void Activity() { ++counter_; }
  bool CheckIfIdle() {
    if (counter_ != last_counter_) {
      last_counter_ = counter_;
      inactive_since_.reset();
      return false;
    }
    // An optional rather than Flink's 0 sentinel: a clock may well read 0 (tests).
    if (!inactive_since_) {
      inactive_since_ = clock_();
      return false;
    }
    return clock_() - *inactive_since_ > timeout_ms_;
  }

 private:
  WatermarkClock clock_;
  int64_t timeout_ms_;
  uint64_t counter_ = 0;
  uint64_t last_counter_ = 0;
  std::optional<int64_t> inactive_since_;
};

//! Wraps a generator: when no event arrived for the timeout, the output is marked idle instead of
//! asking the wrapped generator for a watermark (Flink's WatermarksWithIdleness). The next event
//! marks it active again at once: downstream sees the record anyway, and an output still believing
//! itself idle would swallow the next MarkIdle.
template <typename T>
class WatermarksWithIdleness final : public WatermarkGenerator<T> {
 public:
  //! `timeout_ms` > 0 (WatermarkStrategy validates it).
  WatermarksWithIdleness(std::unique_ptr<WatermarkGenerator<T>> wrapped, int64_t timeout_ms,
                         WatermarkClock clock)
      : wrapped_(std::move(wrapped)), timer_(std::move(clock), timeout_ms) {}
  void OnEvent(const T& event, int64_t timestamp, WatermarkOutput& out) override {
    wrapped_->OnEvent(event, timestamp, out);
    timer_.Activity();
    if (idle_) {
      idle_ = false;
      out.MarkActive();
    }
  }
  void OnPeriodicEmit(WatermarkOutput& out) override {
    if (timer_.CheckIfIdle()) {
      if (!idle_) {
        out.MarkIdle();
        idle_ = true;
      }
    } else {
      wrapped_->OnPeriodicEmit(out);
    }
  }

 private:
  std::unique_ptr<WatermarkGenerator<T>> wrapped_;
  IdlenessTimer timer_;
  bool idle_ = false;
};

//! A WatermarkOutput onto an operator's Output (Flink's WatermarkEmitter): forwards a watermark
//! only when it advances (which also ends idleness), and idle/active only when the status
//! changes. Owned by the operator that created it; task thread only.
class WatermarkEmitter final : public WatermarkOutput {
 public:
  explicit WatermarkEmitter(Output* out = nullptr) : out_(out) {}
  void EmitWatermark(int64_t watermark) override {
    if (watermark <= current_) return;
    current_ = watermark;
    MarkActive();
    out_->EmitWatermark(watermark);
  }
  void MarkIdle() override {
    if (idle_) return;
    idle_ = true;
    out_->EmitWatermarkStatus(true);
  }
  void MarkActive() override {
    if (!idle_) return;
    idle_ = false;
    out_->EmitWatermarkStatus(false);
  }
  int64_t current_watermark() const { return current_; }
  bool idle() const { return idle_; }

 private:
  Output* out_;
  int64_t current_ = kNoTimestamp;
  bool idle_ = false;
};

}  // namespace sluice
