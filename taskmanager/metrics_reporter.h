// MetricsReporter: turns the cumulative TaskMetrics counters of a TaskManager's tasks into
// per-second rates (docs/architecture.md, "Data exchange") and sends them to the JobManager once
// per interval. Owned by the TaskExecutor; all its work runs on its own SerialExecutor, so the
// previous samples need no lock. Shutdown (also run by the destructor) drops the next tick and
// joins; an RPC in flight ends by its deadline.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/executor.h"
#include "sluice_proto/cluster.pb.h"
#include "taskmanager/task_metrics.h"

namespace sluice::taskmanager {

//! The values of one TaskMetrics at one moment.
struct MetricsSample {
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  int64_t idle_ns = 0;
  int64_t backpressured_ns = 0;
  double in_pool_usage = 0;  // gauges: taken as they are, not differenced
  double out_pool_usage = 0;
  int64_t input_watermark = INT64_MIN;
  int64_t output_watermark = INT64_MIN;
  uint64_t late_records_dropped = 0;
  TaskMetrics::WatermarkInputs watermark_inputs;
  TaskMetrics::Alignment alignment;
  int64_t alignment_max_allowed = INT64_MAX;
};

//! Reads the counters (relaxed: a report may be a few records behind the task thread) and gauges.
MetricsSample TakeSample(const TaskMetrics& metrics);

//! The metrics of a subtask whose counters went from `prev` to `cur` in `elapsed` wall time. Time
//! shares are clamped to [0, 1000] ms/s (samples are taken a little apart from the clock that
//! measures the interval). Busy is the rest of the second. With no elapsed time the rates
//! are 0. job_id and attempt_id are left to the caller.
proto::SubtaskMetrics ComputeRates(const MetricsSample& prev, const MetricsSample& cur,
                                   std::chrono::nanoseconds elapsed);

class MetricsReporter {
 public:
  struct TaskSample {
    std::string job_id;
    std::string attempt_id;
    bool done = false;  // the task thread has ended: report its final counters once
    MetricsSample sample;
  };
  //! Samples every task the TaskManager holds. Runs on the reporter's thread.
  using Collect = std::function<std::vector<TaskSample>()>;
  //! Delivers one report (blocking is fine: the reporter's thread does nothing else).
  using Send = std::function<void(const proto::TaskMetricsReport&)>;

  MetricsReporter(std::string taskmanager_id, std::chrono::milliseconds interval, Collect collect,
                  Send send);
  ~MetricsReporter();

  void Start();
  void Shutdown();

 private:
  struct Previous {
    MetricsSample sample;
    std::chrono::steady_clock::time_point taken_at;
    bool final_sent = false;
  };

  void Tick();

  const std::string taskmanager_id_;
  const std::chrono::milliseconds interval_;
  Collect collect_;
  Send send_;
  // Executor-confined.
  std::map<std::string, Previous> previous_;  // by attempt id
  SerialExecutor executor_{"tm-metrics"};
};

}  // namespace sluice::taskmanager
