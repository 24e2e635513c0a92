// The metrics of a job and of its subtasks under Flink's names, as the REST API's metric queries
// answer them (and as the Prometheus exporter writes them).
#pragma once

#include <string>
#include <vector>

#include "sluice_proto/client.pb.h"

namespace sluice::jobmanager::rest {

struct MetricValue {
  std::string id;
  std::string value;  // as Flink's metric queries print it: integers without a fraction
};

//! numRecordsIn/Out(PerSecond), numBytesIn/Out(PerSecond), busy/idle/backPressuredTimeMsPerSecond,
//! buffers.in/outPoolUsage, currentInput/OutputWatermark, numLateRecordsDropped of one subtask,
//! each id with `prefix` ("0." in a vertex's metric list). None before its first report.
std::vector<MetricValue> SubtaskMetricValues(const proto::SubtaskStatus& subtask,
                                             const std::string& prefix);

//! numRestarts, fullRestarts, uptime, downtime, lastCheckpointDuration, lastCheckpointSize,
//! numberOfCompletedCheckpoints, numberOfFailedCheckpoints, numberOfInProgressCheckpoints,
//! totalNumberOfCheckpoints and lastCheckpointExternalPath.
std::vector<MetricValue> JobMetricValues(const proto::JobStatus& job,
                                         const proto::CheckpointsResponse& checkpoints,
                                         int64_t now_ms);

//! A number as Flink prints metric values: integral values without a fraction.
std::string MetricText(double value);

}  // namespace sluice::jobmanager::rest
