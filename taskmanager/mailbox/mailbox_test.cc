#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "taskmanager/mailbox/mailbox_processor.h"
#include "taskmanager/mailbox/task_mailbox.h"

namespace sluice::taskmanager {
namespace {

using Clock = std::chrono::steady_clock;
using Step = MailboxProcessor::Step;

TEST(TaskMailbox, RunsMailInOrderIncludingMailPutByMail) {
  TaskMailbox mailbox;
  std::vector<int> ran;
  EXPECT_FALSE(mailbox.HasMail());
  mailbox.Put([&] {
    ran.push_back(1);
    mailbox.Put([&] { ran.push_back(3); });
  });
  mailbox.Put([&] { ran.push_back(2); });
  EXPECT_TRUE(mailbox.HasMail());
  mailbox.RunAll();
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(mailbox.HasMail());
}

TEST(TaskMailbox, MailThatThrowsLeavesTheRestQueued) {
  TaskMailbox mailbox;
  int ran = 0;
  mailbox.Put([] { throw std::runtime_error("boom"); });
  mailbox.Put([&] { ++ran; });
  EXPECT_THROW(mailbox.RunAll(), std::runtime_error);
  EXPECT_TRUE(mailbox.HasMail());
  mailbox.RunAll();
  EXPECT_EQ(ran, 1);
}

TEST(TaskMailbox, WaitReturnsOnMailFromAnotherThread) {
  TaskMailbox mailbox;
  std::thread putter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    mailbox.Put([] {});
  });
  mailbox.Wait(Clock::now() + std::chrono::seconds(60));  // the test hangs if the put is lost
  putter.join();
  EXPECT_TRUE(mailbox.HasMail());
}

TEST(TaskMailbox, ASignalGivenBeforeTheWaitIsNotLost) {
  TaskMailbox mailbox;
  mailbox.Signal();
  mailbox.Wait(Clock::now() + std::chrono::seconds(60));  // returns at once
  EXPECT_FALSE(mailbox.HasMail());
}

TEST(TaskMailbox, WaitEndsAtTheDeadline) {
  TaskMailbox mailbox;
  auto deadline = Clock::now() + std::chrono::milliseconds(5);
  mailbox.Wait(deadline);
  EXPECT_GE(Clock::now(), deadline);
}

TEST(TaskMailbox, MailAfterCloseIsDropped) {
  TaskMailbox mailbox;
  int ran = 0;
  EXPECT_TRUE(mailbox.Put([&] { ++ran; }));
  mailbox.Close();
  EXPECT_FALSE(mailbox.Put([&] { ++ran; }));
  mailbox.RunAll();
  EXPECT_EQ(ran, 0);
  mailbox.Wait(Clock::now() + std::chrono::seconds(60));  // closed: returns at once
}

//! A default action that "processes" one record per step and records what ran when.
struct RecordLoop {
  std::vector<std::string> events;
  int records = 0;
  int total = 0;
  std::function<void(int)> after_record;

  Step operator()() {
    if (records == total) return Step::Done();
    events.push_back("record " + std::to_string(records));
    ++records;
    if (after_record) after_record(records);
    return Step::Progress();
  }
};

TEST(MailboxProcessor, TimerMailAndCheckpointMailRunBetweenRecords) {
  TaskMailbox mailbox;
  MailboxProcessor processor(&mailbox);
  RecordLoop loop;
  loop.total = 5;
  loop.after_record = [&](int n) {
    if (n == 2) {
      // While record 1 is processed, a checkpoint trigger arrives and a timer falls due.
      mailbox.Put([&] { loop.events.push_back("checkpoint"); });
      processor.ScheduleAt(Clock::now(), [&] { loop.events.push_back("timer"); });
    }
  };
  processor.Run([&] { return loop(); });
  EXPECT_EQ(loop.events, (std::vector<std::string>{"record 0", "record 1", "checkpoint", "timer",
                                                   "record 2", "record 3", "record 4"}));
}

TEST(MailboxProcessor, ScheduledActionsRunInTimeOrderAndCancelledOnesDoNot) {
  TaskMailbox mailbox;
  MailboxProcessor processor(&mailbox);
  std::vector<int> fired;
  auto now = Clock::now();
  processor.ScheduleAt(now + std::chrono::milliseconds(3), [&] { fired.push_back(3); });
  auto cancelled =
      processor.ScheduleAt(now + std::chrono::milliseconds(2), [&] { fired.push_back(2); });
  processor.ScheduleAt(now + std::chrono::milliseconds(1), [&] { fired.push_back(1); });
  processor.Cancel(cancelled);
  EXPECT_EQ(processor.scheduled(), 2u);
  // Idle until far away: the processor wakes for each scheduled action, then ends.
  processor.Run([&] {
    if (fired.size() == 2) return Step::Done();
    return Step::Idle(Clock::now() + std::chrono::seconds(60));
  });
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
  EXPECT_EQ(processor.scheduled(), 0u);
}

TEST(MailboxProcessor, AnIdleLoopWakesForMailFromAnotherThread) {
  TaskMailbox mailbox;
  MailboxProcessor processor(&mailbox);
  std::atomic<bool> stop{false};
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    mailbox.Put([&] { stop = true; });
  });
  int steps = 0;
  processor.Run([&] {
    ++steps;
    if (stop) return Step::Done();
    return Step::Idle(Clock::now() + std::chrono::seconds(60));  // hangs if the mail is lost
  });
  poster.join();
  EXPECT_GE(steps, 2);
}

TEST(MailboxProcessor, AnIdleLoopWakesOnASignal) {
  TaskMailbox mailbox;
  MailboxProcessor processor(&mailbox);
  std::atomic<bool> available{false};
  std::thread input([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    available = true;
    mailbox.Signal();  // as the input gate's availability listener does
  });
  processor.Run([&] {
    if (available) return Step::Done();
    return Step::Idle(Clock::now() + std::chrono::seconds(60));
  });
  input.join();
}

TEST(MailboxProcessor, ExceptionFromMailEndsTheLoop) {
  TaskMailbox mailbox;
  MailboxProcessor processor(&mailbox);
  int steps = 0;
  mailbox.Put([] { throw std::runtime_error("cancelled"); });
  EXPECT_THROW(processor.Run([&] {
    ++steps;
    return Step::Progress();
  }),
               std::runtime_error);
  EXPECT_EQ(steps, 0);  // mail first
}

}  // namespace
}  // namespace sluice::taskmanager
