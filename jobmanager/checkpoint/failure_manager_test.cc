#include "jobmanager/checkpoint/failure_manager.h"

#include "gtest/gtest.h"

namespace sluice::jobmanager::checkpoint {
namespace {

TEST(CheckpointFailureManager, NoFailureIsTolerableByDefault) {
  CheckpointFailureManager m(0);
  EXPECT_TRUE(m.OnFailure(1));
  EXPECT_EQ(m.consecutive_failures(), 0) << "the count starts again after a fail-over";
  EXPECT_TRUE(m.OnFailure(2));
}

TEST(CheckpointFailureManager, FailsOverOnlyAfterMoreThanTolerableInARow) {
  CheckpointFailureManager m(2);
  EXPECT_FALSE(m.OnFailure(1));
  EXPECT_FALSE(m.OnFailure(2));
  EXPECT_EQ(m.consecutive_failures(), 2);
  m.OnCompleted(3);
  EXPECT_EQ(m.consecutive_failures(), 0);
  EXPECT_FALSE(m.OnFailure(4));
  EXPECT_FALSE(m.OnFailure(5));
  EXPECT_TRUE(m.OnFailure(6));
}

TEST(CheckpointFailureManager, AFailureOfACheckpointOlderThanACompletedOneDoesNotCount) {
  CheckpointFailureManager m(0);
  m.OnCompleted(5);
  EXPECT_FALSE(m.OnFailure(4));
  EXPECT_EQ(m.consecutive_failures(), 0);
  EXPECT_TRUE(m.OnFailure(6));
}

}  // namespace
}  // namespace sluice::jobmanager::checkpoint
