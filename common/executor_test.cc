#include "common/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <vector>

namespace sluice {
namespace {

TEST(SerialExecutorTest, RunsTasksInPostOrderOnOneThread) {
  SerialExecutor ex("test");
  std::vector<int> seen;
  for (int i = 0; i < 100; ++i) ex.Post([&seen, i] { seen.push_back(i); });
  bool on_executor = ex.Call([&] { return ex.IsCurrentThread(); });
  EXPECT_TRUE(on_executor);
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
}

TEST(SerialExecutorTest, DelayedTasksRunInTimeOrderAfterReadyOnes) {
  SerialExecutor ex("test");
  std::vector<int> seen;
  std::promise<void> done;
  ex.PostDelayed(std::chrono::milliseconds(30), [&] {
    seen.push_back(3);
    done.set_value();
  });
  ex.PostDelayed(std::chrono::milliseconds(10), [&] { seen.push_back(2); });
  ex.Post([&] { seen.push_back(1); });
  done.get_future().wait();
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
}

// Regression: the loop waited only for ready tasks, so a delayed task posted to an idle executor
// (or one due before the task it was waiting for) ran only after some later Post.
TEST(SerialExecutorTest, DelayedTaskPostedWhileIdleRunsWithoutAnotherPost) {
  SerialExecutor ex("test");
  ex.Call([] {});  // the loop is now waiting with nothing queued
  std::promise<void> done;
  ex.PostDelayed(std::chrono::milliseconds(1), [&] { done.set_value(); });
  EXPECT_EQ(done.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
}

TEST(SerialExecutorTest, EarlierDelayedTaskEndsTheWaitForALaterOne) {
  SerialExecutor ex("test");
  ex.PostDelayed(std::chrono::hours(1), [] {});
  ex.Call([] {});  // the loop is now waiting for the hour-long task
  std::promise<void> done;
  ex.PostDelayed(std::chrono::milliseconds(1), [&] { done.set_value(); });
  EXPECT_EQ(done.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
}

TEST(SerialExecutorTest, ShutdownDropsPendingDelayedTasks) {
  std::atomic<int> ran{0};
  {
    SerialExecutor ex("test");
    ex.PostDelayed(std::chrono::hours(1), [&] { ran++; });
    ex.Shutdown();
    ex.Post([&] { ran++; });
  }
  EXPECT_EQ(ran.load(), 0);
}

TEST(PostBoxTest, PostsUntilClosedThenDropsQuietly) {
  SerialExecutor ex("test");
  auto box = std::make_shared<PostBox>(&ex);
  std::atomic<int> ran{0};
  EXPECT_TRUE(box->Post([&] { ++ran; }));
  ex.Call([] {});
  EXPECT_EQ(ran.load(), 1);
  box->Close();
  EXPECT_FALSE(box->Post([&] { ++ran; }));
  ex.Call([] {});
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace sluice
