#include "taskmanager/state/timer_service.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace sluice::state {
namespace {

struct Fired {
  TimeDomain domain;
  int64_t time;
  std::string key, ns;
  bool operator==(const Fired& o) const {
    return std::tie(domain, time, key, ns) == std::tie(o.domain, o.time, o.key, o.ns);
  }
};

class Recorder final : public TimerTarget {
 public:
  void OnTimer(TimeDomain domain, int64_t timestamp, std::string_view key,
               std::string_view ns) override {
    fired.push_back({domain, timestamp, std::string(key), std::string(ns)});
    if (then) then(timestamp);
  }
  std::vector<Fired> fired;
  std::function<void(int64_t)> then;
};

//! A scheduler the test drives: wakes run when the test advances the clock.
class ManualScheduler final : public ProcessingTimeScheduler {
 public:
  Id ScheduleAt(int64_t time_ms, std::function<void()> fn) override {
    wakes[next] = {time_ms, std::move(fn)};
    return next++;
  }
  void Cancel(Id id) override { wakes.erase(id); }
  int64_t NowMs() const override { return now; }
  void AdvanceTo(int64_t t) {
    now = t;
    while (true) {
      auto due = wakes.end();
      for (auto it = wakes.begin(); it != wakes.end(); ++it) {
        if (it->second.first <= now && (due == wakes.end() || it->second.first < due->second.first))
          due = it;
      }
      if (due == wakes.end()) return;
      auto fn = std::move(due->second.second);
      wakes.erase(due);
      fn();
    }
  }
  std::map<Id, std::pair<int64_t, std::function<void()>>> wakes;
  int64_t now = 0;
  Id next = 1;
};

constexpr auto kEvent = TimeDomain::kEventTime;
constexpr auto kProc = TimeDomain::kProcessingTime;

TEST(HeapTimerService, EventTimersFireOnceInTimeOrderWhenTheWatermarkPassesThem) {
  Recorder target;
  HeapTimerService timers("t", &target, nullptr);
  EXPECT_EQ(timers.CurrentWatermark(), INT64_MIN);
  timers.Register(kEvent, 20, "b", 1, "");
  timers.Register(kEvent, 10, "a", 1, "");
  timers.Register(kEvent, 10, "a", 1, "");   // the same timer: kept once
  timers.Register(kEvent, 10, "a", 1, "w");  // another namespace: another timer
  timers.Register(kEvent, 30, "c", 2, "");
  timers.Delete(kEvent, 30, "c", 2, "");
  EXPECT_EQ(timers.size(kEvent), 3u);
  timers.AdvanceWatermark(9);
  EXPECT_TRUE(target.fired.empty());
  timers.AdvanceWatermark(20);  // at or before the watermark fires
  EXPECT_EQ(
      target.fired,
      (std::vector<Fired>{{kEvent, 10, "a", ""}, {kEvent, 10, "a", "w"}, {kEvent, 20, "b", ""}}));
  timers.AdvanceWatermark(15);  // back in time: ignored
  EXPECT_EQ(timers.CurrentWatermark(), 20);
  timers.AdvanceWatermark(100);
  EXPECT_EQ(target.fired.size(), 3u);  // the deleted one never fires
}

TEST(HeapTimerService, ATimerRegisteredWhileFiringFiresInTheSameAdvanceIfDue) {
  Recorder target;
  HeapTimerService timers("t", &target, nullptr);
  target.then = [&](int64_t t) {
    if (t == 10) timers.Register(kEvent, 15, "a", 0, "");
  };
  timers.Register(kEvent, 10, "a", 0, "");
  timers.AdvanceWatermark(20);
  ASSERT_EQ(target.fired.size(), 2u);
  EXPECT_EQ(target.fired[1].time, 15);
}

TEST(HeapTimerService, DeletesAndRegistrationsWhileFiringAreExact) {
  Recorder target;
  HeapTimerService timers("t", &target, nullptr);
  int calls = 0;
  target.then = [&](int64_t t) {
    if (t != 10 || calls++ > 0) return;
    timers.Delete(kEvent, 10, "b", 0, "");    // the other timer of this time: never fires
    timers.Register(kEvent, 10, "c", 0, "");  // the same time: fires in this advance
    timers.Register(kEvent, 10, "a", 0, "");  // the one firing now: a new timer, fires again
  };
  timers.Register(kEvent, 10, "a", 0, "");
  timers.Register(kEvent, 10, "b", 0, "");
  timers.Register(kEvent, 20, "d", 0, "");
  timers.Delete(kEvent, 20, "d", 0, "");
  timers.Register(kEvent, 20, "d", 0, "");  // deleted, then registered again: fires once
  timers.AdvanceWatermark(30);
  EXPECT_EQ(target.fired, (std::vector<Fired>{{kEvent, 10, "a", ""},
                                              {kEvent, 10, "c", ""},
                                              {kEvent, 10, "a", ""},
                                              {kEvent, 20, "d", ""}}));
  EXPECT_EQ(timers.size(kEvent), 0u);
}

TEST(HeapTimerService, ManyKeysAtFewTimesFireOncePerKeyInTimeOrder) {
  Recorder target;
  HeapTimerService timers("t", &target, nullptr);
  for (int round = 0; round < 3; ++round) {  // each timer registered three times
    for (int k = 0; k < 500; ++k) {
      timers.Register(kEvent, 1000 * (k % 4), std::to_string(k), k % 7, "window-namespace-16");
    }
  }
  EXPECT_EQ(timers.size(kEvent), 500u);
  timers.AdvanceWatermark(INT64_MAX);
  ASSERT_EQ(target.fired.size(), 500u);
  for (size_t i = 1; i < target.fired.size(); ++i) {
    EXPECT_LE(target.fired[i - 1].time, target.fired[i].time);
  }
  EXPECT_EQ(target.fired[0].key, "0");
  EXPECT_EQ(target.fired[1].key, "4");  // equal times: in the order registered
}

TEST(HeapTimerService, ProcessingTimersWakeThroughTheSchedulerForTheEarliestOnly) {
  Recorder target;
  ManualScheduler scheduler;
  HeapTimerService timers("t", &target, &scheduler);
  timers.Register(kProc, 50, "a", 0, "");
  timers.Register(kProc, 30, "b", 0, "");  // earlier: the wake moves
  timers.Register(kProc, 40, "c", 0, "");  // later: no new wake
  EXPECT_EQ(scheduler.wakes.size(), 1u);
  EXPECT_EQ(scheduler.wakes.begin()->second.first, 30);
  scheduler.AdvanceTo(45);
  EXPECT_EQ(target.fired, (std::vector<Fired>{{kProc, 30, "b", ""}, {kProc, 40, "c", ""}}));
  scheduler.AdvanceTo(50);
  EXPECT_EQ(target.fired.size(), 3u);
  EXPECT_TRUE(scheduler.wakes.empty());
  EXPECT_EQ(timers.CurrentProcessingTime(), 50);
}

//! Writes a snapshot's entries into a list.
class Entries final : public KeyedStateWriter {
 public:
  void Write(int key_group, const std::string& state, std::string_view key,
             std::string_view user_key, std::string_view value) override {
    EXPECT_TRUE(value.empty());
    rows.push_back({key_group, state, std::string(key), std::string(user_key)});
  }
  struct Row {
    int key_group;
    std::string state, key, user_key;
  };
  std::vector<Row> rows;
};

TEST(HeapTimerService, SnapshotEntriesRestoreTheSameTimersAndOnlyTheirKeyGroups) {
  Recorder target;
  HeapTimerService timers("window", &target, nullptr);
  timers.Register(kEvent, -5, "a", 1, "ns1");
  timers.Register(kEvent, 7, "b", 2, "");
  timers.Register(kProc, 1000, "c", 3, "ns3");
  auto write = timers.Snapshot();
  timers.Register(kEvent, 8, "later", 1, "");  // after the synchronous part: not in the snapshot
  Entries out;
  write(out);
  ASSERT_EQ(out.rows.size(), 3u);

  // Restored into a subtask owning key groups 1 and 2 only (a rescale).
  Recorder restored_target;
  HeapTimerService restored("window", &restored_target, nullptr);
  for (const auto& row : out.rows) {
    std::string service;
    TimeDomain domain;
    ASSERT_TRUE(HeapTimerService::ParseStateName(row.state, &service, &domain)) << row.state;
    EXPECT_EQ(service, "window");
    if (row.key_group > 2) continue;
    restored.Restore(domain, row.key_group, row.key, row.user_key);
  }
  EXPECT_EQ(restored.size(kEvent), 2u);
  EXPECT_EQ(restored.size(kProc), 0u);
  restored.AdvanceWatermark(100);
  EXPECT_EQ(restored_target.fired,
            (std::vector<Fired>{{kEvent, -5, "a", "ns1"}, {kEvent, 7, "b", ""}}));
}

TEST(HeapTimerService, StateNamesAreReservedAndParsed) {
  EXPECT_EQ(HeapTimerService::StateName("w", kEvent), "_timers/w/event");
  EXPECT_EQ(HeapTimerService::StateName("w", kProc), "_timers/w/processing");
  std::string service;
  TimeDomain domain;
  EXPECT_FALSE(HeapTimerService::ParseStateName("count", &service, &domain));
  EXPECT_FALSE(HeapTimerService::ParseStateName("_timers/w/other", &service, &domain));
  ASSERT_TRUE(HeapTimerService::ParseStateName("_timers/a/b/processing", &service, &domain));
  EXPECT_EQ(service, "a/b");
  EXPECT_EQ(domain, kProc);
}

TEST(HeapTimerService, AMalformedRestoredTimerIsAnError) {
  Recorder target;
  HeapTimerService timers("t", &target, nullptr);
  EXPECT_THROW(timers.Restore(kEvent, 0, "k", "short"), std::runtime_error);
}

}  // namespace
}  // namespace sluice::state
