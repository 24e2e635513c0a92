#include "jobmanager/eventtime/watermark_alignment.h"

#include <gtest/gtest.h>

namespace sluice::jobmanager {
namespace {

TEST(WatermarkAlignment, EachMemberMayRunItsDriftAheadOfTheSlowestOtherMember) {
  WatermarkAlignment a;
  a.Report("fast", "g", 2000, 50000);
  a.Report("slow", "g", 5000, 10000);
  a.Report("middle", "g", 1000, 30000);
  a.Report("other", "h", 1000, 0);  // another group holds nobody in "g" back
  EXPECT_EQ(a.MaxAllowed("fast"), 12000);
  EXPECT_EQ(a.MaxAllowed("middle"), 11000);
  // The slowest is never held back by its own (stale) report: only by the others.
  EXPECT_EQ(a.MaxAllowed("slow"), 35000);
  EXPECT_EQ(a.MaxAllowed("other"), INT64_MAX);  // alone in its group
  a.Report("slow", "g", 5000, 40000);
  EXPECT_EQ(a.MaxAllowed("fast"), 32000);
}

TEST(WatermarkAlignment, WithoutAWatermarkYetAMemberHoldsItsGroupAtTheStart) {
  WatermarkAlignment a;
  a.Report("fast", "g", 2000, 50000);
  a.Report("new", "g", 2000, INT64_MIN);
  EXPECT_EQ(a.MaxAllowed("fast"), INT64_MIN + 2000);
  EXPECT_EQ(a.MaxAllowed("new"), 52000);
}

TEST(WatermarkAlignment, IdleFinishedAndForgottenMembersHoldNothingBack) {
  WatermarkAlignment a;
  a.Report("fast", "g", 2000, 50000);
  a.Report("slow", "g", 2000, 10000);
  a.Report("idle", "g", 2000, INT64_MAX);
  EXPECT_EQ(a.MaxAllowed("fast"), 12000);
  a.Forget("slow");
  EXPECT_EQ(a.MaxAllowed("fast"), INT64_MAX);  // the idle member holds nothing back; saturates
  a.Report("slow", "g", 2000, 10000);  // a report that was on its way when the attempt ended
  EXPECT_EQ(a.MaxAllowed("fast"), INT64_MAX);
  EXPECT_EQ(a.MaxAllowed("idle"), 52000);
}

TEST(WatermarkAlignment, NewAttemptsAreNotHeldBackByTheOnesTheyReplace) {
  WatermarkAlignment a;
  a.Report("old-0", "g", 1000, 5000);
  a.Report("old-1", "g", 1000, 90000);
  a.ForgetAll();                       // a restart
  a.Report("old-0", "g", 1000, 5000);  // late reports of the replaced attempts are ignored
  a.Report("new-0", "g", 1000, 20000);
  a.Report("new-1", "g", 1000, 30000);
  EXPECT_EQ(a.MaxAllowed("new-1"), 21000);
  EXPECT_EQ(a.MaxAllowed("new-0"), 31000);
}

TEST(WatermarkAlignment, AnAttemptWithoutAGroupIsNeverHeldBack) {
  WatermarkAlignment a;
  EXPECT_EQ(a.MaxAllowed("unknown"), INT64_MAX);
  a.Report("x", "", 2000, 0);
  EXPECT_EQ(a.MaxAllowed("x"), INT64_MAX);
}

}  // namespace
}  // namespace sluice::jobmanager
