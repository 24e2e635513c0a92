// The metrics of a job and of its subtasks under Flink's names, as the REST API's metric queries
// answer them (and as the Prometheus exporter writes them).
#pragma once

#include <string>
#include <vector>

#include "sluice_proto/client.pb.h"

namespace sluice::jobmanager::rest {

struct MetricValue {
  std::string id;
  double value = 0;  // integers (counters, watermarks) are exact: all are below 2^53 or INT64_MIN
};

//! numRecordsIn/Out(PerSecond), numBytesIn/Out(PerSecond), busy/idle/backPressuredTimeMsPerSecond,
//! buffers.in/outPoolUsage, currentInput/OutputWatermark, numLateRecordsDropped of one subtask,
//! each id with `prefix` ("0." in a vertex's metric list). None before its first report.
std::vector<MetricValue> SubtaskMetricValues(const proto::SubtaskStatus& subtask,
                                             const std::string& prefix);

//! numRestarts, fullRestarts, uptime, downtime, lastCheckpointDuration, lastCheckpointSize,
//! numberOfCompletedCheckpoints, numberOfFailedCheckpoints, numberOfInProgressCheckpoints,
//! totalNumberOfCheckpoints (lastCheckpointExternalPath, a text, is the REST API's own).
std::vector<MetricValue> JobMetricValues(const proto::JobStatus& job,
                                         const proto::CheckpointsResponse& checkpoints,
                                         int64_t now_ms);

//! A number as Flink's metric queries print it: integral values without a fraction.
std::string MetricText(double value);

}  // namespace sluice::jobmanager::rest
