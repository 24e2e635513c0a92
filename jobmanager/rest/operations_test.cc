#include "jobmanager/rest/operations.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace sluice::jobmanager::rest {
namespace {

TEST(OperationsTest, AnOperationIsInProgressUntilItsWorkReturns) {
  Operations ops;
  std::atomic<bool> release{false};
  const std::string id = ops.Start("savepoint", "job1", [&]() -> absl::StatusOr<std::string> {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return std::string("/savepoints/sp-1");
  });
  auto r = ops.Get("savepoint", "job1", id);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->done);
  release = true;
  for (int i = 0; i < 5000 && !ops.Get("savepoint", "job1", id)->done; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  r = ops.Get("savepoint", "job1", id);
  ASSERT_TRUE(r->done);
  EXPECT_EQ(*r->outcome, "/savepoints/sp-1");
}

TEST(OperationsTest, FailuresAreKeptAndIdsAreScopedByKindAndJob) {
  Operations ops;
  const std::string id = ops.Start("rescale", "job1", []() -> absl::StatusOr<std::string> {
    return absl::FailedPreconditionError("not enough slots");
  });
  EXPECT_FALSE(ops.Get("savepoint", "job1", id).has_value());
  EXPECT_FALSE(ops.Get("rescale", "job2", id).has_value());
  EXPECT_FALSE(ops.Get("rescale", "job1", "unknown").has_value());
  for (int i = 0; i < 5000 && !ops.Get("rescale", "job1", id)->done; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto r = ops.Get("rescale", "job1", id);
  ASSERT_TRUE(r->done);
  EXPECT_EQ(r->outcome.status().message(), "not enough slots");
  // Later operations reap the threads of finished ones.
  for (int i = 0; i < 20; ++i) {
    ops.Start("savepoint", "job1", []() -> absl::StatusOr<std::string> { return std::string(); });
  }
}

}  // namespace
}  // namespace sluice::jobmanager::rest
