#include "common/executor.h"

#include "common/thread_name.h"

namespace sluice {

SerialExecutor::SerialExecutor(std::string name) : name_(std::move(name)) {
  thread_ = std::thread([this] { Loop(); });
  NameThread(thread_, name_);
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
        // A delayed task posted while we wait may be due before the one we wait for (or be the
        // first one at all): it must end the wait too, or it would only run after the next Post.
        const auto earliest = delayed_.empty() ? std::chrono::steady_clock::time_point::max()
                                               : delayed_.begin()->first;
        auto wake = [this, earliest]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || !ready_.empty() ||
                 (!delayed_.empty() && delayed_.begin()->first < earliest);
        };
        if (delayed_.empty()) {
          mu_.Await(absl::Condition(&wake));
        } else {
          mu_.AwaitWithTimeout(absl::Condition(&wake), absl::FromChrono(earliest - now));
        }
      }
      task = std::move(ready_.front());
      ready_.pop_front();
    }
    task();
  }
}

bool PostBox::Post(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (executor_ == nullptr) return false;
  executor_->Post(std::move(task));
  return true;
}

void PostBox::Close() {
  absl::MutexLock lock(&mu_);
  executor_ = nullptr;
}

}  // namespace sluice
