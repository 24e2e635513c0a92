// DelayedService: a stand-in for a slow external service in tests and benchmarks of async I/O. Run
// a callback `delay` after it was submitted, on the service's own thread — as an HTTP client's
// thread would call back with a response. Start it in AsyncFunction::Open and Stop it in Close;
// callbacks still waiting at Stop are dropped.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#if defined(__linux__)
#include <sys/prctl.h>
#endif

namespace sluice::testing {

class DelayedService {
 public:
  using Clock = std::chrono::steady_clock;

  DelayedService() = default;
  DelayedService(const DelayedService&) = delete;
  DelayedService& operator=(const DelayedService&) = delete;
  ~DelayedService() { Stop(); }

  void Start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { Loop(); });
  }
  //! Runs `fn` on the service's thread once `delay` has passed (callbacks due at the same time run
  //! in submission order).
  void Submit(std::chrono::microseconds delay, std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    due_.emplace(std::make_pair(Clock::now() + delay, next_++), std::move(fn));
    cv_.notify_one();
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    due_.clear();
  }

 private:
  void Loop() {
#if defined(__linux__)
    // Wake at the deadline, not up to 50 us after it (Linux's default timer slack): the delay is
    // what the service simulates.
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      if (due_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto first = due_.begin();
      if (first->first.first > Clock::now()) {
        cv_.wait_until(lock, first->first.first);
        continue;
      }
      std::function<void()> fn = std::move(first->second);
      due_.erase(first);
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<Clock::time_point, uint64_t>, std::function<void()>> due_;
  uint64_t next_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice::testing
