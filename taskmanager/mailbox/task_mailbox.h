// TaskMailbox: the queue of actions ("mail") for one task thread, and the only place that thread
// waits when it has nothing to do. Other threads put mail (checkpoint triggers and notifications,
// cancel) or signal it (input became available); the task thread runs mail between records, in
// the order it was put, and waits here when its default action is idle (docs/architecture.md,
// "The task mailbox"). Owned by the Task; Put and Signal from any thread, the rest from the task
// thread. Mail put after Close is dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>

#include "absl/synchronization/mutex.h"

namespace sluice::taskmanager {

class TaskMailbox {
 public:
  using Clock = std::chrono::steady_clock;
  using Mail = std::function<void()>;

  //! Any thread. Wakes the task thread if it waits; false (mail dropped) after Close.
  bool Put(Mail mail);
  //! Any thread: wakes the task thread without mail (its input has data again). A signal given
  //! while the task thread is not waiting makes its next Wait return at once.
  void Signal();
  //! Task thread: whether mail is queued (a relaxed load: the hot path between records).
  bool HasMail() const { return has_mail_.load(std::memory_order_relaxed); }
  //! Task thread: runs the mail queued now and any mail it puts, until the queue is empty.
  //! Exceptions from mail propagate; the mail after it stays queued.
  void RunAll();
  //! Task thread: waits until mail arrives, a signal is given, the mailbox closes, or `deadline`.
  void Wait(Clock::time_point deadline);
  //! Drops queued mail and refuses later mail; wakes a waiting task thread.
  void Close();

 private:
  absl::Mutex mu_;
  std::deque<Mail> queue_ ABSL_GUARDED_BY(mu_);
  bool signalled_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> has_mail_{false};
};

}  // namespace sluice::taskmanager
