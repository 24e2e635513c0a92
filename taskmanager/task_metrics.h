// TaskMetrics: the counters one task thread updates (relaxed atomics, no locks) and a reporter
// thread reads about once a second to derive per-second rates (docs/architecture.md, "Data
// exchange").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace sluice::taskmanager {

struct TaskMetrics {
  std::atomic<uint64_t> records_in{0};
  std::atomic<uint64_t> records_out{0};
  std::atomic<uint64_t> bytes_in{0};   // network buffer bytes read by the task
  std::atomic<uint64_t> bytes_out{0};  // network buffer bytes the task handed to its partitions
  //! Cumulative nanoseconds the task waited for input (or, for a source, for its rate limit).
  std::atomic<int64_t> idle_ns{0};
  //! Cumulative nanoseconds the task waited for an output buffer (backpressure).
  std::atomic<int64_t> backpressured_ns{0};
  //! The watermark the task's first operator last received, the last one it sent on (INT64_MIN:
  //! none yet), and records that arrived too late for any window and were dropped.
  std::atomic<int64_t> input_watermark{INT64_MIN};
  std::atomic<int64_t> output_watermark{INT64_MIN};
  std::atomic<uint64_t> late_records_dropped{0};

  //! Which input holds the input watermark back; changed by the task thread only when a watermark
  //! or watermark status arrives, read by the reporter.
  struct WatermarkInputs {
    std::string held_by;             // the producing subtask's name; empty: none
    int64_t unchanged_since_ms = 0;  // epoch ms of the input watermark's last move
    std::vector<std::string> idle;   // idle inputs
  };
  void SetWatermarkInputs(WatermarkInputs inputs) {
    std::lock_guard<std::mutex> lock(watermark_mu_);
    watermark_inputs_ = std::move(inputs);
  }
  WatermarkInputs GetWatermarkInputs() const {
    std::lock_guard<std::mutex> lock(watermark_mu_);
    return watermark_inputs_;
  }

  //! Watermark alignment of a source (RuntimeContext::ReportWatermarkForAlignment): set by the task
  //! thread, sent with the metrics; the JobManager's answer comes back into
  //! `alignment_max_allowed`.
  struct Alignment {
    std::string group;  // empty: the task takes part in no alignment group
    int64_t max_drift_ms = 0;
    int64_t watermark = INT64_MIN;
    int paused_splits = 0;
  };
  void SetAlignment(Alignment alignment) {
    std::lock_guard<std::mutex> lock(watermark_mu_);
    alignment_ = std::move(alignment);
  }
  Alignment GetAlignment() const {
    std::lock_guard<std::mutex> lock(watermark_mu_);
    return alignment_;
  }
  std::atomic<int64_t> alignment_max_allowed{INT64_MAX};
  //! 0..1: share of the input gate's / output partitions' buffers in use. Set before the task
  //! starts; safe to call from any thread; empty when the task has no input / no network output.
  std::function<double()> in_pool_usage;
  std::function<double()> out_pool_usage;

  //! steady_clock nanoseconds at which the current wait began, 0 when not waiting
  //! (network::WaitTimer). A reporter adds the part of a wait still in progress, so one long wait
  //! spreads over the intervals it spans.
  std::atomic<int64_t> idle_since_ns{0};
  std::atomic<int64_t> backpressured_since_ns{0};

  void AddIdle(int64_t ns) { idle_ns.fetch_add(ns, std::memory_order_relaxed); }
  void AddBackpressured(int64_t ns) { backpressured_ns.fetch_add(ns, std::memory_order_relaxed); }

 private:
  mutable std::mutex watermark_mu_;
  WatermarkInputs watermark_inputs_;
  Alignment alignment_;
};

}  // namespace sluice::taskmanager
