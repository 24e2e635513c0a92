// WaitTimer: books the time a task thread spends blocked (on input, on an output buffer) to a
// cumulative counter, and publishes while it waits when the wait began, so that a metrics reporter
// can count a wait still in progress. Either counter may be null.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/clock.h"

namespace sluice::network {

//! Where a wait is booked: when the current one began (0 when none) and the total; either may be
//! null.
struct WaitCounters {
  std::atomic<int64_t>* since = nullptr;
  std::atomic<int64_t>* total = nullptr;
};

class WaitTimer {
 public:
  explicit WaitTimer(const WaitCounters& c)
      : since_(c.since), total_(c.total), start_(SteadyNowNs()) {
    if (since_) since_->store(start_, std::memory_order_relaxed);
  }
  ~WaitTimer() {
    if (since_) since_->store(0, std::memory_order_relaxed);
    if (total_) total_->fetch_add(SteadyNowNs() - start_, std::memory_order_relaxed);
  }
  WaitTimer(const WaitTimer&) = delete;
  WaitTimer& operator=(const WaitTimer&) = delete;

 private:
  std::atomic<int64_t>* since_;
  std::atomic<int64_t>* total_;
  int64_t start_;
};

}  // namespace sluice::network
