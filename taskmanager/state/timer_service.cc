#include "taskmanager/state/timer_service.h"

#include <algorithm>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace sluice::state {
namespace {

constexpr char kEventSuffix[] = "/event";
constexpr char kProcessingSuffix[] = "/processing";

//! Big endian with the sign bit flipped: byte order is time order.
void PutTime(int64_t time, std::string* out) {
  uint64_t u = static_cast<uint64_t>(time) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(u >> shift));
}

int64_t GetTime(std::string_view bytes) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

}  // namespace

HeapTimerService::HeapTimerService(std::string name, TimerTarget* target,
                                   ProcessingTimeScheduler* scheduler)
    : name_(std::move(name)), target_(target), scheduler_(scheduler) {}

HeapTimerService::~HeapTimerService() {
  if (wake_scheduled_ && scheduler_) scheduler_->Cancel(wake_id_);
}

int64_t HeapTimerService::CurrentProcessingTime() const {
  return scheduler_ ? scheduler_->NowMs() : WallClockMs();
}

void HeapTimerService::Register(TimeDomain domain, int64_t timestamp, std::string_view key,
                                int key_group, std::string_view ns) {
  Queue(domain).Add(timestamp, key_group, key, ns);
  if (domain == TimeDomain::kProcessingTime) ScheduleWake();
}

void HeapTimerService::Delete(TimeDomain domain, int64_t timestamp, std::string_view key,
                              int key_group, std::string_view ns) {
  Queue(domain).Remove(timestamp, key_group, key, ns);
}

void HeapTimerService::FireUpTo(TimeDomain domain, int64_t time) {
  TimerQueue& queue = Queue(domain);
  while (queue.PopDue(time, [&](const TimerQueue::Timer& t) {
    target_->OnTimer(domain, t.time, t.key, t.ns);  // may register or delete timers
  })) {
  }
}

void HeapTimerService::AdvanceWatermark(int64_t watermark) {
  if (watermark <= watermark_) return;
  watermark_ = watermark;
  FireUpTo(TimeDomain::kEventTime, watermark);
}

void HeapTimerService::FireProcessingTimers(int64_t now_ms) {
  wake_scheduled_ = false;
  FireUpTo(TimeDomain::kProcessingTime, now_ms);
  ScheduleWake();
}

void HeapTimerService::ScheduleWake() {
  if (!scheduler_ || processing_.empty()) return;
  int64_t next = processing_.EarliestTime();
  if (wake_scheduled_ && wake_time_ <= next) return;
  if (wake_scheduled_) scheduler_->Cancel(wake_id_);
  wake_scheduled_ = true;
  wake_time_ = next;
  wake_id_ = scheduler_->ScheduleAt(next, [this, next] {
    // Processing time may lag the scheduler's wake by a clock tick: fire what was due then.
    FireProcessingTimers(std::max(next, scheduler_->NowMs()));
  });
}

std::function<void(KeyedStateWriter&)> HeapTimerService::Snapshot() const {
  struct Frozen {
    std::string event_state, processing_state;
    std::vector<std::string> event, processing;  // TimerQueue ids
  };
  auto frozen = std::make_shared<const Frozen>(Frozen{StateName(name_, TimeDomain::kEventTime),
                                                      StateName(name_, TimeDomain::kProcessingTime),
                                                      event_.Ids(), processing_.Ids()});
  return [frozen](KeyedStateWriter& out) {
    std::string user_key;
    auto write = [&](const std::string& state, const std::vector<std::string>& ids) {
      for (const std::string& id : ids) {
        const TimerQueue::Timer t = TimerQueue::Decode(id);
        user_key.clear();
        PutTime(t.time, &user_key);
        user_key += t.ns;
        out.Write(t.key_group, state, t.key, user_key, {});
      }
    };
    write(frozen->event_state, frozen->event);
    write(frozen->processing_state, frozen->processing);
  };
}

void HeapTimerService::Restore(TimeDomain domain, int key_group, std::string_view key,
                               std::string_view user_key) {
  if (user_key.size() < 8) {
    throw std::runtime_error(absl::StrCat("corrupt timer of '", name_, "': ", user_key.size(),
                                          " bytes where at least 8 were expected"));
  }
  Register(domain, GetTime(user_key), key, key_group, user_key.substr(8));
}

std::string HeapTimerService::StateName(const std::string& service, TimeDomain domain) {
  return absl::StrCat(kTimerStatePrefix, service,
                      domain == TimeDomain::kEventTime ? kEventSuffix : kProcessingSuffix);
}

bool HeapTimerService::ParseStateName(const std::string& state, std::string* service,
                                      TimeDomain* domain) {
  const std::string_view prefix = kTimerStatePrefix;
  if (state.compare(0, prefix.size(), prefix.data(), prefix.size()) != 0) return false;
  std::string_view suffix;
  if (EndsWith(state, kEventSuffix)) {
    *domain = TimeDomain::kEventTime;
    suffix = kEventSuffix;
  } else if (EndsWith(state, kProcessingSuffix)) {
    *domain = TimeDomain::kProcessingTime;
    suffix = kProcessingSuffix;
  } else {
    return false;
  }
  if (state.size() < prefix.size() + suffix.size()) return false;
  *service = state.substr(prefix.size(), state.size() - prefix.size() - suffix.size());
  return true;
}

}  // namespace sluice::state
