#include "common/metrics/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sluice::metrics {
namespace {

TEST(PrometheusTextTest, WritesFamiliesOnceWithTheirSamplesAndEscapedLabels) {
  PrometheusText t;
  t.Add("flink_taskmanager_job_task_numRecordsIn", "Records in.", PrometheusText::Type::kCounter,
        {{"job_name", "say \"hi\"\nnow"}, {"subtask_index", "0"}}, 12);
  t.Add("flink_jobmanager_numRegisteredTaskManagers", "TaskManagers.", PrometheusText::Type::kGauge,
        {}, 2);
  t.Add("flink_taskmanager_job_task_numRecordsIn", "Records in.", PrometheusText::Type::kCounter,
        {{"job_name", "a\\b"}, {"subtask_index", "1"}}, 0.5);
  EXPECT_EQ(t.Render(),
            "# HELP flink_taskmanager_job_task_numRecordsIn Records in.\n"
            "# TYPE flink_taskmanager_job_task_numRecordsIn counter\n"
            "flink_taskmanager_job_task_numRecordsIn{job_name=\"say \\\"hi\\\"\\nnow\","
            "subtask_index=\"0\"} 12\n"
            "flink_taskmanager_job_task_numRecordsIn{job_name=\"a\\\\b\",subtask_index=\"1\"} 0.5\n"
            "# HELP flink_jobmanager_numRegisteredTaskManagers TaskManagers.\n"
            "# TYPE flink_jobmanager_numRegisteredTaskManagers gauge\n"
            "flink_jobmanager_numRegisteredTaskManagers 2\n");
}

TEST(PrometheusTextTest, NamesAndValuesFollowTheFormat) {
  EXPECT_EQ(PrometheusText::SanitizeName("buffers.inPoolUsage"), "buffers_inPoolUsage");
  EXPECT_EQ(PrometheusText::SanitizeName("9lives-x"), "_9lives_x");
  EXPECT_EQ(PrometheusText::FormatValue(-9223372036854775808.0), "-9.22337e+18");
  EXPECT_EQ(PrometheusText::FormatValue(1767248190878.0), "1767248190878");
  EXPECT_EQ(PrometheusText::FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(PrometheusText::FormatValue(INFINITY), "+Inf");
}

}  // namespace
}  // namespace sluice::metrics
