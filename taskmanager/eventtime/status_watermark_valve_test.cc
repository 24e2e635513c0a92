// StatusWatermarkValve: the minimum over active aligned channels, idleness, re-alignment, and a
// watermark that never goes backwards (the cases Flink's StatusWatermarkValveTest covers).
#include "taskmanager/eventtime/status_watermark_valve.h"

#include <gtest/gtest.h>

namespace sluice::taskmanager {
namespace {

using Out = StatusWatermarkValve::Output;

TEST(StatusWatermarkValve, OutputsTheMinimumOnceEveryChannelHasAWatermark) {
  StatusWatermarkValve valve(3);
  EXPECT_FALSE(valve.InputWatermark(0, 10).watermark);
  EXPECT_FALSE(valve.InputWatermark(1, 5).watermark);
  Out out = valve.InputWatermark(2, 7);
  ASSERT_TRUE(out.watermark);
  EXPECT_EQ(*out.watermark, 5);
  EXPECT_EQ(valve.HoldingChannel(), 1);
  // The holder moves on: the minimum is now channel 2's.
  out = valve.InputWatermark(1, 20);
  ASSERT_TRUE(out.watermark);
  EXPECT_EQ(*out.watermark, 7);
  EXPECT_EQ(valve.HoldingChannel(), 2);
}

TEST(StatusWatermarkValve, NeverGoesBackwards) {
  StatusWatermarkValve valve(1);
  EXPECT_EQ(*valve.InputWatermark(0, 10).watermark, 10);
  EXPECT_FALSE(valve.InputWatermark(0, 9).watermark);
  EXPECT_FALSE(valve.InputWatermark(0, 10).watermark);
  EXPECT_EQ(valve.output_watermark(), 10);
}

TEST(StatusWatermarkValve, AnIdleChannelDoesNotHoldTheWatermarkBack) {
  StatusWatermarkValve valve(2);
  valve.InputWatermark(0, 100);
  valve.InputWatermark(1, 3);
  EXPECT_EQ(valve.output_watermark(), 3);
  Out out = valve.InputWatermarkStatus(1, /*idle=*/true);
  ASSERT_TRUE(out.watermark);
  EXPECT_EQ(*out.watermark, 100);
  EXPECT_FALSE(out.idle);  // channel 0 is still active
  // Watermarks of the idle channel are ignored.
  EXPECT_FALSE(valve.InputWatermark(1, 50).watermark);
}

TEST(StatusWatermarkValve, AChannelActiveAgainCountsOnlyOnceCaughtUp) {
  StatusWatermarkValve valve(2);
  valve.InputWatermark(0, 10);
  valve.InputWatermark(1, 10);
  valve.InputWatermarkStatus(1, true);
  EXPECT_EQ(*valve.InputWatermark(0, 30).watermark, 30);
  // Back with an older watermark: not aligned, so it does not pull the output back or hold it.
  EXPECT_FALSE(valve.InputWatermarkStatus(1, false).idle);
  EXPECT_EQ(*valve.InputWatermark(0, 40).watermark, 40);
  EXPECT_FALSE(valve.InputWatermark(1, 20).watermark);
  // Caught up (>= 40): aligned again, and now it is the minimum.
  EXPECT_FALSE(valve.InputWatermark(1, 45).watermark);
  // Channel 0 moves on to 60: channel 1 (45) now holds the minimum.
  Out out = valve.InputWatermark(0, 60);
  ASSERT_TRUE(out.watermark);
  EXPECT_EQ(*out.watermark, 45);
  EXPECT_EQ(valve.HoldingChannel(), 1);
}

TEST(StatusWatermarkValve, AllIdleFlushesTheHighestWatermarkThenGoesIdle) {
  StatusWatermarkValve valve(2);
  valve.InputWatermark(0, 10);
  valve.InputWatermark(1, 25);
  EXPECT_FALSE(valve.InputWatermarkStatus(0, true).idle);  // 25 comes through, not idle yet
  EXPECT_EQ(valve.output_watermark(), 25);
  valve.InputWatermark(1, 30);
  Out out = valve.InputWatermarkStatus(1, true);
  ASSERT_TRUE(out.idle);
  EXPECT_TRUE(*out.idle);
  EXPECT_TRUE(valve.output_idle());
  // Activity comes back.
  out = valve.InputWatermarkStatus(0, false);
  ASSERT_TRUE(out.idle);
  EXPECT_FALSE(*out.idle);
  EXPECT_FALSE(valve.output_idle());
}

}  // namespace
}  // namespace sluice::taskmanager
