#include "jobmanager/rest/metric_views.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace sluice::jobmanager::rest {

std::string MetricText(double value) {
  // [-2^63, 2^63): every int64 a double holds, INT64_MIN (no watermark yet) included.
  if (std::isfinite(value) && std::floor(value) == value && value >= -9223372036854775808.0 &&
      value < 9223372036854775808.0) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

std::vector<MetricValue> SubtaskMetricValues(const proto::SubtaskStatus& subtask,
                                             const std::string& prefix) {
  std::vector<MetricValue> out;
  if (!subtask.has_metrics()) return out;
  const proto::SubtaskMetrics& m = subtask.metrics();
  auto add = [&](const char* name, double v) { out.push_back({absl::StrCat(prefix, name), v}); };
  auto add_int = [&](const char* name, int64_t v) { add(name, static_cast<double>(v)); };
  add_int("numRecordsIn", static_cast<int64_t>(m.num_records_in()));
  add_int("numRecordsOut", static_cast<int64_t>(m.num_records_out()));
  add_int("numBytesIn", static_cast<int64_t>(m.num_bytes_in()));
  add_int("numBytesOut", static_cast<int64_t>(m.num_bytes_out()));
  add("numRecordsInPerSecond", m.num_records_in_per_second());
  add("numRecordsOutPerSecond", m.num_records_out_per_second());
  add("numBytesInPerSecond", m.num_bytes_in_per_second());
  add("numBytesOutPerSecond", m.num_bytes_out_per_second());
  add("busyTimeMsPerSecond", m.busy_time_ms_per_second());
  add("idleTimeMsPerSecond", m.idle_time_ms_per_second());
  add("backPressuredTimeMsPerSecond", m.back_pressured_time_ms_per_second());
  add("buffers.inPoolUsage", m.in_pool_usage());
  add("buffers.outPoolUsage", m.out_pool_usage());
  add_int("currentInputWatermark", m.current_input_watermark());
  add_int("currentOutputWatermark", m.current_output_watermark());
  add_int("numLateRecordsDropped", static_cast<int64_t>(m.num_late_records_dropped()));
  return out;
}

std::vector<MetricValue> JobMetricValues(const proto::JobStatus& job,
                                         const proto::CheckpointsResponse& checkpoints,
                                         int64_t now_ms) {
  std::vector<MetricValue> out;
  auto add = [&](const char* name, int64_t v) { out.push_back({name, static_cast<double>(v)}); };
  add("numRestarts", job.num_restarts());
  add("fullRestarts", job.num_restarts());
  // Flink: uptime is the time since the job last switched to RUNNING while it runs, else 0;
  // downtime the time since it last failed over while it is not running (and not ended).
  const bool running = job.state() == "RUNNING";
  auto since = [&](const char* state) -> int64_t {
    auto it = job.state_timestamps().find(state);
    return it == job.state_timestamps().end() ? 0 : now_ms - it->second;
  };
  add("uptime", running ? since("RUNNING") : 0);
  add("downtime",
      job.state() == "RESTARTING" || job.state() == "FAILING" ? since(job.state().c_str()) : 0);
  const proto::CheckpointInfo* last = nullptr;
  for (const auto& c : checkpoints.history()) {
    if (c.status() == "COMPLETED") {
      last = &c;
      break;
    }
  }
  if (!last && job.has_last_checkpoint()) last = &job.last_checkpoint();
  add("lastCheckpointDuration", last ? last->duration_ms() : -1);
  add("lastCheckpointSize", last ? static_cast<int64_t>(last->size_bytes()) : -1);
  add("numberOfCompletedCheckpoints", checkpoints.completed_count());
  add("numberOfFailedCheckpoints", checkpoints.failed());
  add("numberOfInProgressCheckpoints", checkpoints.in_progress_size());
  add("totalNumberOfCheckpoints",
      checkpoints.completed_count() + checkpoints.failed() + checkpoints.in_progress_size());
  return out;
}

}  // namespace sluice::jobmanager::rest
