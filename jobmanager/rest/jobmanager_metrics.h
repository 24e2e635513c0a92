// What the JobManager's Prometheus endpoint shows, under the names of Flink's Prometheus reporter:
// flink_jobmanager_numRegisteredTaskManagers, taskSlotsTotal, taskSlotsAvailable, numRunningJobs,
// flink_jobmanager_Status_Process_* (the native process), and per job that has not ended
// flink_jobmanager_job_<metric>{job_id, job_name, host} for numRestarts, fullRestarts, uptime,
// downtime and the checkpoint figures (metric_views.h).
#pragma once

#include <string>

#include "jobmanager/dispatcher.h"
#include "jobmanager/resource_manager.h"

namespace sluice::jobmanager::rest {

std::string RenderJobManagerMetrics(Dispatcher& dispatcher, ResourceManager& resource_manager,
                                    const std::string& host);

}  // namespace sluice::jobmanager::rest
