#include "taskmanager/metrics_reporter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace sluice::taskmanager {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kMs = 1'000'000;  // nanoseconds

MetricsSample Sample(uint64_t records_in, uint64_t records_out, int64_t idle_ms,
                     int64_t backpressured_ms) {
  MetricsSample s;
  s.records_in = records_in;
  s.records_out = records_out;
  s.idle_ns = idle_ms * kMs;
  s.backpressured_ns = backpressured_ms * kMs;
  return s;
}

TEST(ComputeRatesTest, SharesOfTheSecondAndRecordRates) {
  MetricsSample prev = Sample(1000, 500, 100, 0);
  MetricsSample cur = Sample(3000, 4500, 400, 200);
  cur.bytes_in = 77;
  cur.bytes_out = 88;
  proto::SubtaskMetrics m = ComputeRates(prev, cur, seconds(1));
  EXPECT_DOUBLE_EQ(m.idle_time_ms_per_second(), 300);
  EXPECT_DOUBLE_EQ(m.back_pressured_time_ms_per_second(), 200);
  EXPECT_DOUBLE_EQ(m.busy_time_ms_per_second(), 500);
  EXPECT_DOUBLE_EQ(m.num_records_in_per_second(), 2000);
  EXPECT_DOUBLE_EQ(m.num_records_out_per_second(), 4000);
  EXPECT_EQ(m.num_records_in(), 3000u);
  EXPECT_EQ(m.num_records_out(), 4500u);
  EXPECT_EQ(m.num_bytes_in(), 77u);
  EXPECT_EQ(m.num_bytes_out(), 88u);
}

TEST(ComputeRatesTest, ScalesByElapsedWallTime) {
  proto::SubtaskMetrics m =
      ComputeRates(Sample(0, 0, 0, 0), Sample(100, 0, 250, 0), milliseconds(500));
  EXPECT_DOUBLE_EQ(m.idle_time_ms_per_second(), 500);
  EXPECT_DOUBLE_EQ(m.busy_time_ms_per_second(), 500);
  EXPECT_DOUBLE_EQ(m.num_records_in_per_second(), 200);

  m = ComputeRates(Sample(0, 0, 0, 0), Sample(0, 300, 0, 1500), seconds(2));
  EXPECT_DOUBLE_EQ(m.back_pressured_time_ms_per_second(), 750);
  EXPECT_DOUBLE_EQ(m.num_records_out_per_second(), 150);
}

// The task thread books a wait when it ends, so a 5 s wait arrives in one interval.
TEST(ComputeRatesTest, ClampsTimeSharesToOneSecondPerSecond) {
  proto::SubtaskMetrics m = ComputeRates(Sample(0, 0, 0, 0), Sample(0, 0, 5000, 0), seconds(1));
  EXPECT_DOUBLE_EQ(m.idle_time_ms_per_second(), 1000);
  EXPECT_DOUBLE_EQ(m.busy_time_ms_per_second(), 0);

  m = ComputeRates(Sample(0, 0, 0, 0), Sample(0, 0, 700, 600), seconds(1));
  EXPECT_DOUBLE_EQ(m.idle_time_ms_per_second(), 700);
  EXPECT_DOUBLE_EQ(m.back_pressured_time_ms_per_second(), 600);
  EXPECT_DOUBLE_EQ(m.busy_time_ms_per_second(), 0);
}

TEST(ComputeRatesTest, CountersGoingBackwardsGiveZeroNotAHugeRate) {
  proto::SubtaskMetrics m =
      ComputeRates(Sample(500, 500, 800, 800), Sample(100, 100, 100, 100), seconds(1));
  EXPECT_DOUBLE_EQ(m.num_records_in_per_second(), 0);
  EXPECT_DOUBLE_EQ(m.num_records_out_per_second(), 0);
  EXPECT_DOUBLE_EQ(m.idle_time_ms_per_second(), 0);
  EXPECT_DOUBLE_EQ(m.back_pressured_time_ms_per_second(), 0);
  EXPECT_DOUBLE_EQ(m.busy_time_ms_per_second(), 1000);
}

TEST(ComputeRatesTest, NoElapsedTimeGivesCountersWithoutRates) {
  MetricsSample cur = Sample(10, 20, 30, 40);
  cur.in_pool_usage = 0.5;
  proto::SubtaskMetrics m = ComputeRates(Sample(0, 0, 0, 0), cur, milliseconds(0));
  EXPECT_EQ(m.num_records_in(), 10u);
  EXPECT_EQ(m.num_records_out(), 20u);
  EXPECT_DOUBLE_EQ(m.in_pool_usage(), 0.5);
  EXPECT_DOUBLE_EQ(m.busy_time_ms_per_second(), 0);
  EXPECT_DOUBLE_EQ(m.idle_time_ms_per_second(), 0);
  EXPECT_DOUBLE_EQ(m.num_records_in_per_second(), 0);
}

TEST(TakeSampleTest, ReadsCountersAndPoolUsageCallbacks) {
  TaskMetrics metrics;
  metrics.records_in = 3;
  metrics.bytes_out = 4;
  metrics.AddIdle(5);
  metrics.AddBackpressured(6);
  MetricsSample s = TakeSample(metrics);
  EXPECT_EQ(s.records_in, 3u);
  EXPECT_EQ(s.bytes_out, 4u);
  EXPECT_EQ(s.idle_ns, 5);
  EXPECT_EQ(s.backpressured_ns, 6);
  EXPECT_DOUBLE_EQ(s.in_pool_usage, 0);  // no callbacks: a task without network input / output
  EXPECT_DOUBLE_EQ(s.out_pool_usage, 0);

  metrics.in_pool_usage = [] { return 0.25; };
  metrics.out_pool_usage = [] { return 0.75; };
  s = TakeSample(metrics);
  EXPECT_DOUBLE_EQ(s.in_pool_usage, 0.25);
  EXPECT_DOUBLE_EQ(s.out_pool_usage, 0.75);
}

// A live task is reported from its second sighting on; once done, exactly one final report with its
// last counters and no rates; nothing after that.
TEST(MetricsReporterTest, BaselineThenRatesThenOneFinalReport) {
  absl::Mutex mu;
  int collects = 0;
  std::vector<proto::TaskMetricsReport> sent;
  auto collect = [&] {
    absl::MutexLock lock(&mu);
    int n = ++collects;
    MetricsReporter::TaskSample t;
    t.job_id = "job";
    t.attempt_id = "job-1-0-0";
    t.done = n >= 3;
    t.sample = Sample(static_cast<uint64_t>(std::min(n, 3)) * 100, 0, 0, 0);
    t.sample.in_pool_usage = 0.5;
    return std::vector<MetricsReporter::TaskSample>{t};
  };
  auto send = [&](const proto::TaskMetricsReport& r) {
    absl::MutexLock lock(&mu);
    sent.push_back(r);
  };
  MetricsReporter reporter("tm-1", milliseconds(1), collect, send);
  reporter.Start();
  {
    absl::MutexLock lock(&mu);
    auto enough = [&] { return collects >= 6; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30)));
  }
  reporter.Shutdown();

  absl::MutexLock lock(&mu);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].taskmanager_id(), "tm-1");
  ASSERT_EQ(sent[0].subtasks_size(), 1);
  const proto::SubtaskMetrics& live = sent[0].subtasks(0);
  EXPECT_EQ(live.job_id(), "job");
  EXPECT_EQ(live.attempt_id(), "job-1-0-0");
  EXPECT_EQ(live.num_records_in(), 200u);
  EXPECT_GT(live.num_records_in_per_second(), 0);
  EXPECT_DOUBLE_EQ(live.in_pool_usage(), 0.5);

  ASSERT_EQ(sent[1].subtasks_size(), 1);
  const proto::SubtaskMetrics& last = sent[1].subtasks(0);
  EXPECT_EQ(last.num_records_in(), 300u);
  EXPECT_DOUBLE_EQ(last.num_records_in_per_second(), 0);
  EXPECT_DOUBLE_EQ(last.busy_time_ms_per_second(), 0);
  EXPECT_DOUBLE_EQ(last.in_pool_usage(), 0);
}

}  // namespace
}  // namespace sluice::taskmanager
