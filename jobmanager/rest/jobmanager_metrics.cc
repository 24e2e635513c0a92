#include "jobmanager/rest/jobmanager_metrics.h"

#include "common/clock.h"
#include "common/metrics/prometheus_text.h"
#include "common/process_stats.h"
#include "common/states.h"
#include "jobmanager/rest/metric_views.h"

namespace sluice::jobmanager::rest {

using metrics::Labels;
using metrics::PrometheusText;

std::string RenderJobManagerMetrics(Dispatcher& dispatcher, ResourceManager& resource_manager,
                                    const std::string& host) {
  PrometheusText t;
  const auto kGauge = PrometheusText::Type::kGauge;
  const Labels jm = {{"host", host}};
  int slots = 0, free = 0;
  const std::vector<proto::TaskManagerInfo> tms = resource_manager.List();
  for (const auto& tm : tms) {
    slots += tm.slots();
    free += tm.free_slots();
  }
  std::vector<proto::JobSummary> jobs = dispatcher.List();
  int running = 0;
  for (const auto& j : jobs) {
    running += IsTerminalJobStateName(j.state()) ? 0 : 1;
  }
  t.Add("flink_jobmanager_numRegisteredTaskManagers", "TaskManagers registered.", kGauge, jm,
        static_cast<double>(tms.size()));
  t.Add("flink_jobmanager_taskSlotsTotal", "Slots of all TaskManagers.", kGauge, jm, slots);
  t.Add("flink_jobmanager_taskSlotsAvailable", "Free slots.", kGauge, jm, free);
  t.Add("flink_jobmanager_numRunningJobs", "Jobs that have not ended.", kGauge, jm, running);
  const proto::ProcessStats process = ReadProcessStats();
  t.Add("flink_jobmanager_Status_Process_ResidentMemory", "Resident set size in bytes.", kGauge, jm,
        static_cast<double>(process.rss_bytes()));
  t.Add("flink_jobmanager_Status_Process_CPU_Time", "CPU time in milliseconds.",
        PrometheusText::Type::kCounter, jm, static_cast<double>(process.cpu_time_ms()));
  t.Add("flink_jobmanager_Status_Process_Threads", "Threads of the process.", kGauge, jm,
        process.threads());

  const int64_t now = WallClockMs();
  for (const auto& summary : jobs) {
    if (IsTerminalJobStateName(summary.state())) {
      continue;  // as Flink: an ended job's metrics are gone
    }
    auto job = dispatcher.Status(summary.id());
    auto checkpoints = dispatcher.Checkpoints(summary.id());
    if (!job.ok() || !checkpoints.ok()) continue;
    const Labels l = {{"host", host}, {"job_id", job->id()}, {"job_name", job->name()}};
    for (const MetricValue& m : JobMetricValues(*job, *checkpoints, now)) {
      const bool counter = m.id == "numRestarts" || m.id == "fullRestarts" ||
                           m.id == "numberOfCompletedCheckpoints" ||
                           m.id == "numberOfFailedCheckpoints" ||
                           m.id == "totalNumberOfCheckpoints";
      t.Add("flink_jobmanager_job_" + m.id, "Flink's job metric " + m.id + ".",
            counter ? PrometheusText::Type::kCounter : kGauge, l, m.value);
    }
  }
  return t.Render();
}

}  // namespace sluice::jobmanager::rest
