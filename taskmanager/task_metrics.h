// TaskMetrics: the counters one task thread updates (relaxed atomics, no locks) and a reporter
// thread reads about once a second to derive per-second rates (docs/architecture.md, "Data
// exchange").
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

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
  //! The watermark the task's first operator last received (INT64_MIN: none yet).
  std::atomic<int64_t> input_watermark{INT64_MIN};
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
};

}  // namespace sluice::taskmanager
