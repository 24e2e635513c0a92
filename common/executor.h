// SerialExecutor: one thread running posted tasks in order (a mailbox). Every stateful component
// owns one and does all its work on it; other threads only Post. Delayed tasks run at or after
// their time, in time order. Shutdown drops pending tasks and joins the thread; it is also run by
// the destructor, which must not be called from the executor's own thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace sluice {

class SerialExecutor {
 public:
  explicit SerialExecutor(std::string name);
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  void Post(std::function<void()> task);
  void PostDelayed(std::chrono::milliseconds delay, std::function<void()> task);

  //! Runs fn on the executor and waits for its result (never call from the executor itself).
  template <typename F>
  auto Call(F fn) -> decltype(fn()) {
    using R = decltype(fn());
    auto promise = std::make_shared<std::promise<R>>();
    auto future = promise->get_future();
    Post([promise, fn = std::move(fn)]() mutable {
      if constexpr (std::is_void_v<R>) {
        fn();
        promise->set_value();
      } else {
        promise->set_value(fn());
      }
    });
    return future.get();
  }

  bool IsCurrentThread() const { return std::this_thread::get_id() == thread_.get_id(); }
  void Shutdown();

 private:
  void Loop();

  const std::string name_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> ready_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> delayed_
      ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

//! A handle through which other components post back to an executor whose owner may be gone
//! first: callbacks of shared services (a TaskManager gateway used by several jobs) capture the
//! PostBox, not the owner. The owner calls Close() before it shuts its executor down; after Close
//! returns no Post reaches the executor. Thread-safe.
class PostBox {
 public:
  explicit PostBox(SerialExecutor* executor) : executor_(executor) {}
  //! Posts `task` unless closed; returns whether it was posted.
  bool Post(std::function<void()> task);
  void Close();

 private:
  absl::Mutex mu_;
  SerialExecutor* executor_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice
