// MailboxProcessor: the one loop of a task thread, as Flink's MailboxProcessor. Each turn runs,
// in this order: all mail (checkpoint triggers, notifications, cancel), the scheduled actions
// that are due (processing-time timers), then one step of the default action (read one input
// buffer, or poll the source once). Mail and timers therefore run between records, never inside
// one. When the default action has nothing to do it says until when it is idle, and the thread
// waits in the mailbox until mail, a signal (input available) or the earliest of that time and
// the next scheduled action.
//
// Owned by the Task; everything runs on the task thread. Exceptions thrown by mail, scheduled
// actions or the default action end Run and propagate to its caller.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>

#include "taskmanager/mailbox/task_mailbox.h"
#include "taskmanager/network/wait_timer.h"

namespace sluice::taskmanager {

class MailboxProcessor {
 public:
  using Clock = std::chrono::steady_clock;

  //! What one step of the default action did.
  struct Step {
    enum class Kind { kProgress, kIdle, kDone };
    Kind kind = Kind::kProgress;
    Clock::time_point idle_until{};  // kIdle: step again at the latest then

    static Step Progress() { return {}; }
    static Step Idle(Clock::time_point until) { return {Kind::kIdle, until}; }
    static Step Done() { return {Kind::kDone, {}}; }
  };
  using DefaultAction = std::function<Step()>;
  using TimerId = uint64_t;

  //! `idle` books the time spent waiting (the task's idle-time metric); either counter may be null.
  explicit MailboxProcessor(TaskMailbox* mailbox, network::WaitCounters idle = {})
      : mailbox_(mailbox), idle_(idle) {}

  //! Runs `action` between two steps once `when` has passed. Returns an id for Cancel.
  TimerId ScheduleAt(Clock::time_point when, std::function<void()> action);
  //! Drops a scheduled action that has not run; no-op for unknown or past ids.
  void Cancel(TimerId id);
  //! Number of scheduled actions not run yet.
  size_t scheduled() const { return scheduled_.size(); }

  //! Turns until `action` returns kDone.
  void Run(const DefaultAction& action);

 private:
  //! Runs the scheduled actions due at `now`, earliest first.
  void RunDue(Clock::time_point now);

  TaskMailbox* mailbox_;
  network::WaitCounters idle_;
  //! (when, id) -> action; ids break ties in scheduling order.
  std::map<std::pair<Clock::time_point, TimerId>, std::function<void()>> scheduled_;
  std::map<TimerId, Clock::time_point> when_;
  TimerId next_id_ = 1;
};

}  // namespace sluice::taskmanager
