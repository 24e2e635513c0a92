// What a TaskManager's Prometheus endpoint shows, under the names and labels of Flink's
// Prometheus reporter: per subtask flink_taskmanager_job_task_<metric>{job_id, job_name, task_id,
// task_name, subtask_index, task_attempt_id, task_attempt_num, tm_id, host}, and for the
// TaskManager flink_taskmanager_Status_Shuffle_Netty_* (network buffers),
// flink_taskmanager_Status_Process_* (the native process: resident memory, CPU time, threads),
// flink_taskmanager_Status_Flink_Memory_Managed_{Used,Total}, and each part of the memory budget
// as sluice_taskmanager_memory_{budget,used,peak}_bytes{part}.
#pragma once

#include <string>
#include <vector>

#include "sluice_proto/cluster.pb.h"
#include "sluice_proto/metrics.pb.h"

namespace sluice::taskmanager {

struct SubtaskExport {
  proto::TaskDeployment deployment;  // only the naming fields are read
  proto::SubtaskMetrics metrics;     // the latest report
};

std::string RenderTaskManagerMetrics(const std::string& tm_id, const std::string& host,
                                     const proto::NetworkMemoryStats& network,
                                     const proto::ProcessStats& process,
                                     const proto::MemoryStats& memory,
                                     const std::vector<SubtaskExport>& subtasks);

}  // namespace sluice::taskmanager
