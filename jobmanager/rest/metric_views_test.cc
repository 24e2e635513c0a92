#include "jobmanager/rest/metric_views.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace sluice::jobmanager::rest {
namespace {

TEST(MetricViewsTest, ValuesPrintAsFlinksMetricQueriesDo) {
  EXPECT_EQ(MetricText(static_cast<double>(std::numeric_limits<int64_t>::min())),
            "-9223372036854775808");
  EXPECT_EQ(MetricText(1767248190878.0), "1767248190878");
  EXPECT_EQ(MetricText(0.5), "0.5");
  EXPECT_EQ(MetricText(0), "0");
}

TEST(MetricViewsTest, SubtaskMetricsAreNumbersUnderFlinksNames) {
  proto::SubtaskStatus s;
  EXPECT_TRUE(SubtaskMetricValues(s, "0.").empty()) << "none before the first report";
  s.mutable_metrics()->set_num_records_in(42);
  s.mutable_metrics()->set_current_input_watermark(std::numeric_limits<int64_t>::min());
  bool records = false, watermark = false;
  for (const MetricValue& m : SubtaskMetricValues(s, "0.")) {
    if (m.id == "0.numRecordsIn") records = m.value == 42;
    if (m.id == "0.currentInputWatermark") {
      watermark = MetricText(m.value) == "-9223372036854775808";
    }
  }
  EXPECT_TRUE(records);
  EXPECT_TRUE(watermark);
}

}  // namespace
}  // namespace sluice::jobmanager::rest
