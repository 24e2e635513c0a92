#include "jobmanager/job_state_machine.h"

#include "gtest/gtest.h"

namespace sluice::jobmanager {
namespace {

using J = JobState;
using R = RescalePhase;
using Next = JobStateMachine::WhenAllTerminal;

TEST(JobStateMachine, FollowsTheTableAndRefusesAndCountsTheRest) {
  JobStateMachine m("job");
  EXPECT_TRUE(m.TransitionTo(J::kRunning));
  EXPECT_TRUE(m.TransitionTo(J::kRunning)) << "staying is no transition";
  EXPECT_TRUE(m.TransitionTo(J::kFinished));
  EXPECT_EQ(m.illegal_transitions(), 0);

  EXPECT_FALSE(m.TransitionTo(J::kRunning));
  EXPECT_FALSE(m.TransitionTo(J::kRestarting));
  EXPECT_EQ(m.state(), J::kFinished);
  EXPECT_EQ(m.illegal_transitions(), 2);
}

TEST(JobStateMachine, FailuresAndCancelsApplyOnlyWhereTheyMeanSomething) {
  JobStateMachine m("job");
  EXPECT_FALSE(m.AcceptsFailure());
  EXPECT_TRUE(m.CanCancel());
  ASSERT_TRUE(m.TransitionTo(J::kRunning));
  EXPECT_TRUE(m.AcceptsFailure());
  ASSERT_TRUE(m.TransitionTo(J::kRestarting));
  EXPECT_FALSE(m.AcceptsFailure()) << "already tearing down for a restart";
  EXPECT_TRUE(m.CanCancel());
  ASSERT_TRUE(m.TransitionTo(J::kCancelling));
  EXPECT_FALSE(m.CanCancel());
  EXPECT_FALSE(m.AcceptsFailure());
}

TEST(JobStateMachine, DecidesWhatFollowsOnceEverySubtaskEnded) {
  JobStateMachine m("job");
  ASSERT_TRUE(m.TransitionTo(J::kRunning));
  EXPECT_EQ(m.Decide(/*all_finished=*/false), Next::kNothing);
  EXPECT_EQ(m.Decide(/*all_finished=*/true), Next::kFinish);

  ASSERT_TRUE(m.TransitionTo(J::kRestarting));
  EXPECT_EQ(m.Decide(false), Next::kScheduleRedeploy);
  m.RedeployScheduled();
  EXPECT_EQ(m.Decide(false), Next::kNothing) << "once per restart";
  m.FailInsteadOfRestart();
  EXPECT_EQ(m.Decide(false), Next::kFail);

  JobStateMachine failing("job");
  ASSERT_TRUE(failing.TransitionTo(J::kRunning));
  ASSERT_TRUE(failing.TransitionTo(J::kFailing));
  EXPECT_EQ(failing.Decide(false), Next::kFail);
  JobStateMachine cancelling("job");
  ASSERT_TRUE(cancelling.TransitionTo(J::kCancelling));
  EXPECT_EQ(cancelling.Decide(false), Next::kCancel);
}

TEST(JobStateMachine, ARescaleGoesThroughItsPhasesInOrder) {
  JobStateMachine m("job");
  ASSERT_TRUE(m.TransitionTo(J::kRunning));
  EXPECT_FALSE(m.TransitionTo(R::kRedeploying)) << "not without its savepoint";
  EXPECT_EQ(m.illegal_transitions(), 1);

  ASSERT_TRUE(m.TransitionTo(R::kStopping, "2 -> 3"));
  EXPECT_EQ(m.rescale_text(), "2 -> 3");
  EXPECT_EQ(m.Decide(true), Next::kFinish) << "a bounded job that ends before the savepoint";
  ASSERT_TRUE(m.TransitionTo(R::kWaitingForFinish));
  EXPECT_EQ(m.Decide(true), Next::kRedeployRescaled);
  ASSERT_TRUE(m.TransitionTo(R::kRedeploying));
  ASSERT_TRUE(m.TransitionTo(J::kRestarting));
  EXPECT_EQ(m.rescale(), R::kRedeploying) << "redeploying survives the job's restart";
  ASSERT_TRUE(m.TransitionTo(J::kRunning));
  EXPECT_EQ(m.rescale_text(), "2 -> 3");
  ASSERT_TRUE(m.TransitionTo(R::kIdle));
  EXPECT_EQ(m.rescale_text(), "");
  EXPECT_EQ(m.illegal_transitions(), 1);
}

TEST(JobStateMachine, ARescaleNotYetRedeployingIsAbandonedWhenTheJobLeavesRunning) {
  JobStateMachine m("job");
  ASSERT_TRUE(m.TransitionTo(J::kRunning));
  ASSERT_TRUE(m.TransitionTo(R::kStopping, "2 -> 3"));
  ASSERT_TRUE(m.TransitionTo(J::kRestarting));
  EXPECT_EQ(m.rescale(), R::kIdle);
  EXPECT_EQ(m.rescale_text(), "");
  EXPECT_EQ(m.illegal_transitions(), 0);
}

TEST(JobStateMachine, RescalePhaseTable) {
  EXPECT_TRUE(IsLegalTransition(R::kIdle, R::kStopping));
  EXPECT_FALSE(IsLegalTransition(R::kIdle, R::kWaitingForFinish));
  EXPECT_TRUE(IsLegalTransition(R::kStopping, R::kIdle));
  EXPECT_FALSE(IsLegalTransition(R::kStopping, R::kRedeploying));
  EXPECT_TRUE(IsLegalTransition(R::kWaitingForFinish, R::kRedeploying));
  EXPECT_FALSE(IsLegalTransition(R::kRedeploying, R::kStopping));
  EXPECT_EQ(RescalePhaseName(R::kWaitingForFinish), "WAITING_FOR_FINISH");
}

}  // namespace
}  // namespace sluice::jobmanager
