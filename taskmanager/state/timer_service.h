// HeapTimerService: the host's timers of one keyed operator (InternalTimerService), for both state
// backends, kept in memory like Flink's heap timers. Per domain, a TimerQueue of (time, key group,
// key, namespace): registering a timer twice keeps one, the earliest fires first (equal times in
// the order they were registered), a delete is exact. Event-time timers fire from AdvanceWatermark;
// processing-time timers fire when the task's ProcessingTimeScheduler (its mailbox loop) wakes the
// service at the earliest one's time.
//
// In a snapshot the timers are entries of the operator's key-groups file, under the reserved state
// names "_timers/<service>/event" and "_timers/<service>/processing" (key: the key; user key: the
// time, 8 bytes big endian with the sign bit flipped, then the namespace; no value), so they are
// restored and rescaled with their key group like any keyed state.
//
// Owned by TaskState with its operator; task thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "sluice/runtime.h"
#include "taskmanager/state/timer_queue.h"

namespace sluice::state {

//! Where a timer service asks to be woken for processing time. Task thread only.
class ProcessingTimeScheduler {
 public:
  using Id = uint64_t;
  virtual ~ProcessingTimeScheduler() = default;
  //! Runs `fn` on the task thread, between records, once the wall clock reaches `time_ms`.
  virtual Id ScheduleAt(int64_t time_ms, std::function<void()> fn) = 0;
  virtual void Cancel(Id id) = 0;
  //! Milliseconds since the epoch.
  virtual int64_t NowMs() const = 0;
};

//! State names of timers in snapshots start with this; user state may not.
inline constexpr const char* kTimerStatePrefix = kReservedStatePrefix;

class HeapTimerService final : public InternalTimerService {
 public:
  //! `scheduler` may be null when no processing-time timer will be registered (tests).
  HeapTimerService(std::string name, TimerTarget* target, ProcessingTimeScheduler* scheduler);
  ~HeapTimerService() override;

  void Register(TimeDomain domain, int64_t timestamp, std::string_view key, int key_group,
                std::string_view ns) override;
  void Delete(TimeDomain domain, int64_t timestamp, std::string_view key, int key_group,
              std::string_view ns) override;
  int64_t CurrentWatermark() const override { return watermark_; }
  int64_t CurrentProcessingTime() const override;

  //! Fires the event-time timers at or before `watermark`, earliest first (a timer registered
  //! by one that fires, at or before `watermark`, fires too). Ignores a watermark that goes back.
  void AdvanceWatermark(int64_t watermark);
  //! Fires the processing-time timers at or before `now_ms`, then asks to be woken for the next.
  void FireProcessingTimers(int64_t now_ms);

  size_t size(TimeDomain domain) const { return Queue(domain).size(); }
  const std::string& name() const { return name_; }

  //! Synchronous part of a snapshot: copies the timers; the returned function writes them (any
  //! thread, later).
  std::function<void(KeyedStateWriter&)> Snapshot() const;
  //! One restored entry whose state name ParseStateName accepted for this service. Throws
  //! std::runtime_error for a malformed entry.
  void Restore(TimeDomain domain, int key_group, std::string_view key, std::string_view user_key);

  //! "_timers/<service>/event" or "_timers/<service>/processing".
  static std::string StateName(const std::string& service, TimeDomain domain);
  //! Whether `state` names timers; then sets the service and the domain.
  static bool ParseStateName(const std::string& state, std::string* service, TimeDomain* domain);

 private:
  TimerQueue& Queue(TimeDomain d) { return d == TimeDomain::kEventTime ? event_ : processing_; }
  const TimerQueue& Queue(TimeDomain d) const {
    return d == TimeDomain::kEventTime ? event_ : processing_;
  }
  //! Fires the timers of `queue` at or before `time`.
  void FireUpTo(TimeDomain domain, int64_t time);
  //! Asks the scheduler to wake us at the earliest processing-time timer (if not asked already).
  void ScheduleWake();

  const std::string name_;
  TimerTarget* target_;
  ProcessingTimeScheduler* scheduler_;
  TimerQueue event_;
  TimerQueue processing_;
  int64_t watermark_ = INT64_MIN;
  bool wake_scheduled_ = false;
  int64_t wake_time_ = 0;
  ProcessingTimeScheduler::Id wake_id_ = 0;
};

}  // namespace sluice::state
