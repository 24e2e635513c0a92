#include "taskmanager/prometheus_metrics.h"

#include "absl/strings/str_cat.h"
#include "common/metrics/prometheus_text.h"

namespace sluice::taskmanager {

using metrics::Labels;
using metrics::PrometheusText;

std::string RenderTaskManagerMetrics(const std::string& tm_id, const std::string& host,
                                     const proto::NetworkMemoryStats& network,
                                     const proto::ProcessStats& process,
                                     const proto::MemoryStats& memory,
                                     const std::vector<SubtaskExport>& subtasks) {
  PrometheusText t;
  const auto kGauge = PrometheusText::Type::kGauge;
  const auto kCounter = PrometheusText::Type::kCounter;
  const Labels tm = {{"host", host}, {"tm_id", tm_id}};
  const std::string netty = "flink_taskmanager_Status_Shuffle_Netty_";
  const double segment = static_cast<double>(network.segment_size());
  const int64_t available = network.total_segments() - network.used_segments();
  t.Add(netty + "TotalMemorySegments", "Network buffers of the TaskManager.", kGauge, tm,
        network.total_segments());
  t.Add(netty + "UsedMemorySegments", "Network buffers held by buffer pools.", kGauge, tm,
        network.used_segments());
  t.Add(netty + "AvailableMemorySegments", "Network buffers free.", kGauge, tm, available);
  t.Add(netty + "TotalMemory", "Network memory in bytes.", kGauge, tm,
        network.total_segments() * segment);
  t.Add(netty + "UsedMemory", "Network memory held by buffer pools, in bytes.", kGauge, tm,
        network.used_segments() * segment);
  t.Add(netty + "AvailableMemory", "Network memory free, in bytes.", kGauge, tm,
        available * segment);
  const std::string proc = "flink_taskmanager_Status_Process_";
  t.Add(proc + "ResidentMemory", "Resident set size of the process in bytes.", kGauge, tm,
        static_cast<double>(process.rss_bytes()));
  t.Add(proc + "VirtualMemory", "Virtual memory size of the process in bytes.", kGauge, tm,
        static_cast<double>(process.virtual_bytes()));
  t.Add(proc + "CPU_Time", "User and system CPU time of the process in milliseconds.", kCounter, tm,
        static_cast<double>(process.cpu_time_ms()));
  t.Add(proc + "Threads", "Threads of the process.", kGauge, tm, process.threads());
  // The memory budget's parts (taskmanager.memory.*): Flink's names for managed memory, and
  // every part under sluice_taskmanager_memory_* with a "part" label.
  for (const proto::MemoryPartStats& p : memory.parts()) {
    if (p.part() == "managed") {
      const std::string managed = "flink_taskmanager_Status_Flink_Memory_Managed_";
      t.Add(managed + "Used", "Managed memory (RocksDB state) in use, in bytes.", kGauge, tm,
            static_cast<double>(p.used_bytes()));
      t.Add(managed + "Total", "Managed memory (RocksDB state), in bytes.", kGauge, tm,
            static_cast<double>(p.budget_bytes()));
    }
    Labels l = tm;
    l.emplace_back("part", p.part());
    t.Add("sluice_taskmanager_memory_budget_bytes",
          "The part's budget (taskmanager.memory.*); 0: no bound.", kGauge, l,
          static_cast<double>(p.budget_bytes()));
    if (p.used_bytes() < 0) continue;  // not measured
    t.Add("sluice_taskmanager_memory_used_bytes", "What the part uses now, in bytes.", kGauge, l,
          static_cast<double>(p.used_bytes()));
    t.Add("sluice_taskmanager_memory_peak_bytes",
          "The most the part used since the TaskManager started, in bytes.", kGauge, l,
          static_cast<double>(p.peak_bytes()));
  }

  const std::string task = "flink_taskmanager_job_task_";
  for (const SubtaskExport& s : subtasks) {
    const proto::TaskDeployment& d = s.deployment;
    const proto::SubtaskMetrics& m = s.metrics;
    const Labels l = {{"host", host},
                      {"job_id", d.job_id()},
                      {"job_name", d.job_name()},
                      {"subtask_index", absl::StrCat(d.subtask_index())},
                      {"task_attempt_id", d.attempt_id()},
                      {"task_attempt_num", absl::StrCat(d.attempt_number())},
                      {"task_id", absl::StrCat(d.vertex_id())},
                      {"task_name", d.vertex_name()},
                      {"tm_id", tm_id}};
    auto add = [&](const char* name, const char* help, PrometheusText::Type type, double v) {
      t.Add(task + name, help, type, l, v);
    };
    add("numRecordsIn", "Records the subtask read.", kCounter,
        static_cast<double>(m.num_records_in()));
    add("numRecordsOut", "Records the subtask emitted.", kCounter,
        static_cast<double>(m.num_records_out()));
    add("numBytesIn", "Bytes the subtask read from the network.", kCounter,
        static_cast<double>(m.num_bytes_in()));
    add("numBytesOut", "Bytes the subtask wrote to the network.", kCounter,
        static_cast<double>(m.num_bytes_out()));
    add("numRecordsInPerSecond", "Records read per second.", kGauge, m.num_records_in_per_second());
    add("numRecordsOutPerSecond", "Records emitted per second.", kGauge,
        m.num_records_out_per_second());
    add("numBytesInPerSecond", "Network bytes read per second.", kGauge,
        m.num_bytes_in_per_second());
    add("numBytesOutPerSecond", "Network bytes written per second.", kGauge,
        m.num_bytes_out_per_second());
    add("busyTimeMsPerSecond", "Milliseconds per second the subtask was busy.", kGauge,
        m.busy_time_ms_per_second());
    add("idleTimeMsPerSecond", "Milliseconds per second the subtask waited for input.", kGauge,
        m.idle_time_ms_per_second());
    add("backPressuredTimeMsPerSecond",
        "Milliseconds per second the subtask waited for output buffers.", kGauge,
        m.back_pressured_time_ms_per_second());
    add("buffers_inPoolUsage", "Share of the input buffer pool in use.", kGauge, m.in_pool_usage());
    add("buffers_outPoolUsage", "Share of the output buffer pool in use.", kGauge,
        m.out_pool_usage());
    add("currentInputWatermark", "The subtask's input watermark (epoch ms).", kGauge,
        static_cast<double>(m.current_input_watermark()));
    add("currentOutputWatermark", "The subtask's output watermark (epoch ms).", kGauge,
        static_cast<double>(m.current_output_watermark()));
    add("numLateRecordsDropped", "Records dropped as late by windows.", kCounter,
        static_cast<double>(m.num_late_records_dropped()));
  }
  return t.Render();
}

}  // namespace sluice::taskmanager
