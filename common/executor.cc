#include "common/executor.h"

#include <pthread.h>

namespace sluice {

SerialExecutor::SerialExecutor(std::string name) : name_(std::move(name)) {
  thread_ = std::thread([this] { Loop(); });
  pthread_setname_np(thread_.native_handle(), name_.substr(0, 15).c_str());
}

SerialExecutor::~SerialExecutor() { Shutdown(); }

void SerialExecutor::Post(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  ready_.push_back(std::move(task));
}

void SerialExecutor::PostDelayed(std::chrono::milliseconds delay, std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  delayed_.emplace(std::chrono::steady_clock::now() + delay, std::move(task));
}

void SerialExecutor::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  ready_.clear();
  delayed_.clear();
}

void SerialExecutor::Loop() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        if (stopping_) return;
        auto now = std::chrono::steady_clock::now();
        while (!delayed_.empty() && delayed_.begin()->first <= now) {
          ready_.push_back(std::move(delayed_.begin()->second));
          delayed_.erase(delayed_.begin());
        }
        if (!ready_.empty()) break;
        auto ready_or_stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || !ready_.empty();
        };
        if (delayed_.empty()) {
          mu_.Await(absl::Condition(&ready_or_stopping));
        } else {
          auto wait = delayed_.begin()->first - now;
          mu_.AwaitWithTimeout(absl::Condition(&ready_or_stopping), absl::FromChrono(wait));
        }
      }
      task = std::move(ready_.front());
      ready_.pop_front();
    }
    task();
  }
}

}  // namespace sluice
