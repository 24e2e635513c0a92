#include "taskmanager/mailbox/task_mailbox.h"

namespace sluice::taskmanager {

bool TaskMailbox::Put(Mail mail) {
  absl::MutexLock lock(&mu_);
  if (closed_) return false;
  queue_.push_back(std::move(mail));
  has_mail_.store(true, std::memory_order_release);
  return true;
}

void TaskMailbox::Signal() {
  absl::MutexLock lock(&mu_);
  signalled_ = true;
}

void TaskMailbox::RunAll() {
  while (has_mail_.load(std::memory_order_acquire)) {
    Mail mail;
    {
      absl::MutexLock lock(&mu_);
      if (queue_.empty()) {
        has_mail_.store(false, std::memory_order_release);
        return;
      }
      mail = std::move(queue_.front());
      queue_.pop_front();
      if (queue_.empty()) has_mail_.store(false, std::memory_order_release);
    }
    mail();
  }
}

void TaskMailbox::Wait(Clock::time_point deadline) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || signalled_ || closed_;
  };
  // absl::Mutex wakes the waiter itself when a writer's unlock makes `ready` true.
  mu_.AwaitWithDeadline(absl::Condition(&ready),
                        absl::Now() + absl::FromChrono(deadline - Clock::now()));
  signalled_ = false;
}

void TaskMailbox::Close() {
  std::deque<Mail> dropped;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    dropped.swap(queue_);
    has_mail_.store(false, std::memory_order_release);
  }
}

}  // namespace sluice::taskmanager
