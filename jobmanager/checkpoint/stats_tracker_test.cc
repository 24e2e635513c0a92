#include "jobmanager/checkpoint/stats_tracker.h"

#include "gtest/gtest.h"

namespace sluice::jobmanager::checkpoint {
namespace {

CheckpointStats Ended(int64_t id, CheckpointStatus status) {
  CheckpointStats s;
  s.id = id;
  s.kind = "checkpoint";
  s.status = status;
  return s;
}

TEST(CheckpointStatsTracker, KeepsTheNewestFirstAndBoundsTheHistory) {
  CheckpointStatsTracker t(2);
  t.RecordCompleted(Ended(1, CheckpointStatus::kCompleted));
  t.RecordFailed(Ended(2, CheckpointStatus::kFailed));
  t.RecordCompleted(Ended(3, CheckpointStatus::kCompleted));
  std::vector<CheckpointStats> history = t.History();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].id, 3);
  EXPECT_EQ(history[1].id, 2);
  EXPECT_EQ(t.completed_count(), 2) << "counts are not bounded by the history";
  EXPECT_EQ(t.failed_count(), 1);
}

TEST(CheckpointStatsTracker, StatusNamesAndTransitions) {
  using S = CheckpointStatus;
  EXPECT_EQ(CheckpointStatusName(S::kFinalizing), "FINALIZING");
  EXPECT_TRUE(IsLegalTransition(S::kInProgress, S::kFinalizing));
  EXPECT_FALSE(IsLegalTransition(S::kCompleted, S::kFailed));
}

}  // namespace
}  // namespace sluice::jobmanager::checkpoint
