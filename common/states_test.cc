#include "common/states.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(StatesTest, NamesMatchTheDesign) {
  EXPECT_EQ(JobStateName(JobState::kCancelling), "CANCELLING");
  EXPECT_EQ(SubtaskStateName(SubtaskState::kCanceling), "CANCELING");
  EXPECT_EQ(SubtaskStateName(SubtaskState::kInitializing), "INITIALIZING");
}

TEST(StatesTest, SubtaskDisplayNameCountsFromOne) {
  EXPECT_EQ(SubtaskDisplayName("Map", 0, 2), "Map (1/2)");
  EXPECT_EQ(SubtaskDisplayName("Source: numbers -> Map", 3, 4), "Source: numbers -> Map (4/4)");
}

TEST(StatesTest, SubtaskHappyPathIsLegal) {
  using S = SubtaskState;
  S path[] = {S::kCreated,      S::kScheduled, S::kDeploying,
              S::kInitializing, S::kRunning,   S::kFinished};
  for (size_t i = 0; i + 1 < std::size(path); ++i)
    EXPECT_TRUE(IsLegalTransition(path[i], path[i + 1]));
}

TEST(StatesTest, TerminalSubtaskStatesAreFinal) {
  using S = SubtaskState;
  for (S from : {S::kFinished, S::kCanceled, S::kFailed}) {
    for (int to = 0; to <= static_cast<int>(S::kFailed); ++to) {
      EXPECT_FALSE(IsLegalTransition(from, static_cast<S>(to)));
    }
  }
}

TEST(StatesTest, SubtaskCannotSkipBackwards) {
  using S = SubtaskState;
  EXPECT_FALSE(IsLegalTransition(S::kRunning, S::kDeploying));
  EXPECT_FALSE(IsLegalTransition(S::kCreated, S::kRunning));
  EXPECT_TRUE(IsLegalTransition(S::kRunning, S::kFailed));
  EXPECT_TRUE(IsLegalTransition(S::kCanceling, S::kCanceled));
}

TEST(StatesTest, JobTransitions) {
  using J = JobState;
  EXPECT_TRUE(IsLegalTransition(J::kCreated, J::kRunning));
  EXPECT_TRUE(IsLegalTransition(J::kRunning, J::kFinished));
  EXPECT_TRUE(IsLegalTransition(J::kRunning, J::kFailing));
  EXPECT_TRUE(IsLegalTransition(J::kFailing, J::kFailed));
  EXPECT_TRUE(IsLegalTransition(J::kCancelling, J::kCanceled));
  EXPECT_FALSE(IsLegalTransition(J::kFinished, J::kRunning));
  EXPECT_FALSE(IsLegalTransition(J::kCanceled, J::kFailed));
  EXPECT_FALSE(IsLegalTransition(J::kCreated, J::kFinished));
  EXPECT_TRUE(IsTerminal(J::kFailed));
  EXPECT_FALSE(IsTerminal(J::kFailing));
}

}  // namespace
}  // namespace sluice
