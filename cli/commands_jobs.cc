// `sluice list`, `status`, `cancel` and `taskmanagers`: thin views over the ClientService.

#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/client.h"
#include "cli/command.h"

namespace sluice::cli {
namespace {

constexpr absl::Duration kCancelTimeout = absl::Seconds(30);
constexpr absl::Duration kPollInterval = absl::Milliseconds(200);

// Subtask states in lifecycle order, so that counts read left to right like progress.
const std::vector<std::string>& SubtaskStates() {
  static const auto* states =
      new std::vector<std::string>{"CREATED",  "SCHEDULED", "DEPLOYING", "INITIALIZING", "RUNNING",
                                   "FINISHED", "CANCELING", "CANCELED",  "FAILED"};
  return *states;
}

// "RUNNING 2/2" or "DEPLOYING 1/2, RUNNING 1/2".
std::string StateCounts(const proto::VertexStatus& vertex) {
  std::map<std::string, int> counts;
  for (const proto::SubtaskStatus& s : vertex.subtasks()) ++counts[s.state()];
  std::vector<std::string> parts;
  int total = vertex.subtasks_size();
  for (const std::string& state : SubtaskStates()) {
    auto it = counts.find(state);
    if (it == counts.end()) continue;
    parts.push_back(absl::StrCat(state, " ", it->second, "/", total));
    counts.erase(it);
  }
  for (const auto& [state, n] : counts) parts.push_back(absl::StrCat(state, " ", n, "/", total));
  return parts.empty() ? "no subtasks" : absl::StrJoin(parts, ", ");
}

// Flink's thresholds on the busiest subtask's share of time spent waiting for output buffers.
const char* BackPressureLevel(double max_back_pressured_ms_per_second) {
  if (max_back_pressured_ms_per_second <= 100) return "OK";
  if (max_back_pressured_ms_per_second <= 500) return "LOW";
  return "HIGH";
}

// "back pressure OK (max 12 ms/s)  records in 1500/s  out 1500/s", or empty before the first
// metrics report of any of the vertex's subtasks.
std::string VertexMetrics(const proto::VertexStatus& vertex) {
  bool any = false;
  double max_back_pressured = 0, in_per_second = 0, out_per_second = 0;
  for (const proto::SubtaskStatus& s : vertex.subtasks()) {
    if (!s.has_metrics()) continue;
    any = true;
    const proto::SubtaskMetrics& m = s.metrics();
    max_back_pressured = std::max(max_back_pressured, m.back_pressured_time_ms_per_second());
    in_per_second += m.num_records_in_per_second();
    out_per_second += m.num_records_out_per_second();
  }
  if (!any) return "";
  return absl::StrFormat("back pressure %s (max %.0f ms/s)  records in %.0f/s  out %.0f/s",
                         BackPressureLevel(max_back_pressured), max_back_pressured, in_per_second,
                         out_per_second);
}

// "watermark in 2026-12-06T10:00:00.000Z  out ...": the lowest input and output watermark over the
// vertex's subtasks (what a window downstream waits for), or empty when none has one.
std::string VertexWatermarks(const proto::VertexStatus& vertex) {
  int64_t in = INT64_MAX, out = INT64_MAX;
  bool any = false;
  for (const proto::SubtaskStatus& s : vertex.subtasks()) {
    if (!s.has_metrics()) continue;
    in = std::min(in, s.metrics().current_input_watermark());
    out = std::min(out, s.metrics().current_output_watermark());
    any = any || s.metrics().current_input_watermark() != INT64_MIN ||
          s.metrics().current_output_watermark() != INT64_MIN;
  }
  if (!any) return "";
  return absl::StrCat("watermark in ", FormatWatermark(in), "  out ", FormatWatermark(out));
}

// Flink's metric names, so that dashboards and scripts written for Flink read them unchanged.
Json MetricsJson(const proto::SubtaskMetrics& m) {
  return {
      {"busyTimeMsPerSecond", m.busy_time_ms_per_second()},
      {"idleTimeMsPerSecond", m.idle_time_ms_per_second()},
      {"backPressuredTimeMsPerSecond", m.back_pressured_time_ms_per_second()},
      {"numRecordsIn", static_cast<int64_t>(m.num_records_in())},
      {"numRecordsOut", static_cast<int64_t>(m.num_records_out())},
      {"numRecordsInPerSecond", m.num_records_in_per_second()},
      {"numRecordsOutPerSecond", m.num_records_out_per_second()},
      {"numBytesIn", static_cast<int64_t>(m.num_bytes_in())},
      {"numBytesOut", static_cast<int64_t>(m.num_bytes_out())},
      {"inPoolUsage", m.in_pool_usage()},
      {"outPoolUsage", m.out_pool_usage()},
      {"currentInputWatermark", m.current_input_watermark()},
      {"currentOutputWatermark", m.current_output_watermark()},
      {"numLateRecordsDropped", static_cast<int64_t>(m.num_late_records_dropped())},
  };
}

void PrintStatusJson(const proto::JobStatus& job) {
  Json status = {{"id", job.id()}, {"name", job.name()}, {"state", job.state()}};
  if (!job.failure().empty()) status["failure"] = job.failure();
  status["numRestarts"] = job.num_restarts();
  if (!job.last_restart_cause().empty()) status["lastRestartCause"] = job.last_restart_cause();
  if (!job.waiting_for().empty()) status["waitingFor"] = job.waiting_for();
  if (auto it = job.state_timestamps().find(job.state()); it != job.state_timestamps().end()) {
    status["stateSince"] = it->second;
  }
  if (!job.rescale().empty()) status["rescale"] = job.rescale();
  if (job.has_last_checkpoint()) {
    const proto::CheckpointInfo& c = job.last_checkpoint();
    status["lastCheckpoint"] = {{"id", c.id()},
                                {"path", c.path()},
                                {"duration_ms", c.duration_ms()},
                                {"size_bytes", static_cast<int64_t>(c.size_bytes())}};
  }
  Json vertices = Json::array();
  for (const proto::VertexStatus& v : job.vertices()) {
    Json subtasks = Json::array();
    for (const proto::SubtaskStatus& s : v.subtasks()) {
      Json subtask = {{"index", s.index()}, {"state", s.state()}, {"taskmanager", s.taskmanager()}};
      if (s.has_metrics()) subtask["metrics"] = MetricsJson(s.metrics());
      subtasks.push_back(std::move(subtask));
    }
    vertices.push_back({{"id", v.id()},
                        {"name", v.name()},
                        {"parallelism", v.parallelism()},
                        {"subtasks", std::move(subtasks)}});
  }
  status["vertices"] = std::move(vertices);
  PrintJson(status);
}

// "2026-12-06 17:40:01" in the local time zone.
std::string LocalTime(int64_t epoch_ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(epoch_ms),
                          absl::LocalTimeZone());
}

// " since 2026-12-06 17:40:01 (12s)" when the job's state has a time it was entered.
std::string Since(const proto::JobStatus& job) {
  auto it = job.state_timestamps().find(job.state());
  if (it == job.state_timestamps().end() || it->second <= 0) return "";
  absl::Duration ago = absl::Now() - absl::FromUnixMillis(it->second);
  return absl::StrCat(" since ", LocalTime(it->second), " (",
                      absl::FormatDuration(absl::Trunc(ago, absl::Seconds(1))), ")");
}

void PrintStatusText(const proto::JobStatus& job) {
  std::cout << "Job " << job.id();
  if (!job.name().empty()) std::cout << " (" << job.name() << ")";
  std::cout << ": " << job.state() << Since(job) << "\n";
  if (!job.waiting_for().empty()) std::cout << "Waiting for: " << job.waiting_for() << "\n";
  if (!job.failure().empty()) std::cout << "Failure: " << job.failure() << "\n";
  if (!job.rescale().empty()) std::cout << "Rescale: " << job.rescale() << "\n";
  if (job.num_restarts() > 0) {
    std::cout << "Restarts: " << job.num_restarts() << " (last cause: " << job.last_restart_cause()
              << ")\n";
  }
  if (job.has_last_checkpoint()) {
    const proto::CheckpointInfo& c = job.last_checkpoint();
    std::cout << "Last checkpoint: " << c.id() << " (" << c.duration_ms() << " ms, "
              << c.size_bytes() << " bytes) " << c.path() << "\n";
  }
  for (const proto::VertexStatus& v : job.vertices()) {
    std::cout << "  " << v.name() << " (vertex " << v.id() << ")  parallelism " << v.parallelism()
              << "  " << StateCounts(v) << "\n";
    if (std::string metrics = VertexMetrics(v); !metrics.empty()) {
      std::cout << "    " << metrics << "\n";
    }
    if (std::string watermarks = VertexWatermarks(v); !watermarks.empty()) {
      std::cout << "    " << watermarks << "\n";
    }
    for (const proto::SubtaskStatus& s : v.subtasks()) {
      std::cout << "    subtask " << s.index() << "  " << s.state() << "  on "
                << (s.taskmanager().empty() ? "-" : s.taskmanager());
      if (!s.failure().empty()) std::cout << "  failure: " << s.failure();
      std::cout << "\n";
    }
  }
  std::cout.flush();
}

}  // namespace

int ListCommand(const Invocation& invocation) {
  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::ListJobsResponse> jobs = client.ListJobs();
  if (!jobs.ok()) return Fail(jobs.status());
  if (invocation.args.Has("--json")) {
    Json list = Json::array();
    for (const proto::JobSummary& job : jobs->jobs()) {
      list.push_back({{"id", job.id()}, {"name", job.name()}, {"state", job.state()}});
    }
    PrintJson(list);
    return kExitOk;
  }
  if (jobs->jobs().empty()) {
    std::cout << "No jobs." << std::endl;
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const proto::JobSummary& job : jobs->jobs()) {
    rows.push_back({job.id(), job.name(), job.state()});
  }
  PrintTable({"ID", "NAME", "STATE"}, rows);
  return kExitOk;
}

int StatusCommand(const Invocation& invocation) {
  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::JobStatus> job = client.GetJobStatus(invocation.args.positionals[0]);
  if (!job.ok()) return Fail(job.status());
  if (invocation.args.Has("--json")) {
    PrintStatusJson(*job);
  } else {
    PrintStatusText(*job);
  }
  return kExitOk;
}

int ExceptionsCommand(const Invocation& invocation) {
  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::JobStatus> job = client.GetJobStatus(invocation.args.positionals[0]);
  if (!job.ok()) return Fail(job.status());
  if (invocation.args.Has("--json")) {
    Json list = Json::array();
    for (const proto::JobException& e : job->exceptions()) {
      list.push_back({{"timestamp", e.timestamp_ms()},
                      {"message", e.message()},
                      {"task", e.task()},
                      {"taskmanager", e.taskmanager()},
                      {"restarted", e.restarted()}});
    }
    PrintJson({{"id", job->id()}, {"name", job->name()}, {"exceptions", std::move(list)}});
    return kExitOk;
  }
  std::cout << "Job " << job->id() << " (" << job->name() << "): " << job->state() << ", "
            << job->num_restarts() << " restart(s)";
  if (job->exceptions().empty()) {
    std::cout << "; no failure." << std::endl;
    return kExitOk;
  }
  std::cout << "; the last " << job->exceptions_size() << " failure(s), newest first:\n";
  for (const proto::JobException& e : job->exceptions()) {
    std::cout << "\n"
              << LocalTime(e.timestamp_ms()) << "  "
              << (e.restarted() ? "the job restarted" : "the job failed");
    if (!e.task().empty()) std::cout << "  task " << e.task();
    if (!e.taskmanager().empty()) std::cout << "  on " << e.taskmanager();
    std::cout << "\n  " << absl::StrReplaceAll(e.message(), {{"\n", "\n  "}}) << "\n";
  }
  std::cout.flush();
  return kExitOk;
}

int CancelCommand(const Invocation& invocation) {
  const std::string& id = invocation.args.positionals[0];
  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::JobStatus> job = client.GetJobStatus(id);
  if (!job.ok()) return Fail(job.status());
  if (IsTerminalJobState(job->state())) {
    std::cout << "Job " << id << " is already " << job->state() << "; nothing to cancel."
              << std::endl;
    return kExitOk;
  }

  absl::StatusOr<proto::CancelResponse> cancel = client.CancelJob(id);
  if (!cancel.ok()) {
    // The job may have ended between our look and the request.
    absl::StatusOr<proto::JobStatus> again = client.GetJobStatus(id);
    if (absl::IsFailedPrecondition(cancel.status()) && again.ok() &&
        IsTerminalJobState(again->state())) {
      std::cout << "Job " << id << " is already " << again->state() << "; nothing to cancel."
                << std::endl;
      return kExitOk;
    }
    return Fail(cancel.status());
  }

  std::string state = cancel->state();
  absl::Time deadline = absl::Now() + kCancelTimeout;
  while (!IsTerminalJobState(state)) {
    if (absl::Now() >= deadline) {
      return Fail(absl::StrCat("job ", id, " is still ", state, " ",
                               absl::FormatDuration(kCancelTimeout), " after the cancel request"));
    }
    absl::SleepFor(kPollInterval);
    absl::StatusOr<proto::JobStatus> status = client.GetJobStatus(id);
    if (!status.ok()) return Fail(status.status());
    state = status->state();
  }
  if (state == "CANCELED") {
    std::cout << "Job " << id << " CANCELED." << std::endl;
  } else {
    std::cout << "Job " << id << " ended as " << state << " before it could be canceled."
              << std::endl;
  }
  return kExitOk;
}

namespace {

// A TaskManager's network memory in bytes as of its latest heartbeat: {"total_bytes", "used_bytes",
// "peak_bytes"} (used: held by the buffer pools of its deployed tasks; peak: the most ever held at
// once), or null when it did not report it.
Json NetworkJson(const proto::TaskManagerInfo& tm) {
  if (!tm.has_network()) return nullptr;
  const proto::NetworkMemoryStats& n = tm.network();
  return {{"total_bytes", n.total_segments() * n.segment_size()},
          {"used_bytes", n.used_segments() * n.segment_size()},
          {"peak_bytes", n.peak_used_segments() * n.segment_size()}};
}

// "1.5/8.0 MiB (peak 2.0)": used/total network memory, or "-" when the TaskManager did not report
// it.
std::string NetworkColumn(const proto::TaskManagerInfo& tm) {
  if (!tm.has_network()) return "-";
  const proto::NetworkMemoryStats& n = tm.network();
  auto mib = [&n](int64_t segments) {
    return static_cast<double>(segments * n.segment_size()) / (1024.0 * 1024.0);
  };
  return absl::StrFormat("%.1f/%.1f MiB (peak %.1f)", mib(n.used_segments()),
                         mib(n.total_segments()), mib(n.peak_used_segments()));
}

// A TaskManager's memory parts as of its latest heartbeat: [{"part", "budget_bytes" (0: no
// bound), "used_bytes", "peak_bytes" (-1: not measured)}], or null when it did not report them.
Json MemoryJson(const proto::TaskManagerInfo& tm) {
  if (!tm.has_memory()) return nullptr;
  Json parts = Json::array();
  for (const proto::MemoryPartStats& p : tm.memory().parts()) {
    parts.push_back({{"part", p.part()},
                     {"budget_bytes", p.budget_bytes()},
                     {"used_bytes", p.used_bytes()},
                     {"peak_bytes", p.peak_bytes()}});
  }
  return parts;
}

std::string MiB(int64_t bytes) {
  return absl::StrFormat("%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

// One table per TaskManager: each part's budget ("-": no bound), use now and peak.
void PrintMemory(const proto::TaskManagerInfo& tm) {
  if (!tm.has_memory()) return;
  std::vector<std::vector<std::string>> rows;
  for (const proto::MemoryPartStats& p : tm.memory().parts()) {
    rows.push_back({p.part(), p.budget_bytes() > 0 ? MiB(p.budget_bytes()) : "-",
                    p.used_bytes() >= 0 ? MiB(p.used_bytes()) : "-",
                    p.peak_bytes() >= 0 ? MiB(p.peak_bytes()) : "-"});
  }
  std::cout << "\nMemory of " << tm.id() << ":" << std::endl;
  PrintTable({"PART", "BUDGET", "USED", "PEAK"}, rows);
}

}  // namespace

int TaskManagersCommand(const Invocation& invocation) {
  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::ListTaskManagersResponse> tms = client.ListTaskManagers();
  if (!tms.ok()) return Fail(tms.status());
  if (invocation.args.Has("--json")) {
    Json list = Json::array();
    for (const proto::TaskManagerInfo& tm : tms->taskmanagers()) {
      list.push_back({{"id", tm.id()},
                      {"address", tm.address()},
                      {"slots", tm.slots()},
                      {"free_slots", tm.free_slots()},
                      {"network", NetworkJson(tm)},
                      {"memory", MemoryJson(tm)}});
    }
    PrintJson(list);
    return kExitOk;
  }
  if (tms->taskmanagers().empty()) {
    std::cout << "No TaskManagers registered." << std::endl;
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const proto::TaskManagerInfo& tm : tms->taskmanagers()) {
    rows.push_back({tm.id(), tm.address(), absl::StrCat(tm.slots()), absl::StrCat(tm.free_slots()),
                    NetworkColumn(tm)});
  }
  PrintTable({"ID", "ADDRESS", "SLOTS", "FREE", "NETWORK"}, rows);
  for (const proto::TaskManagerInfo& tm : tms->taskmanagers()) PrintMemory(tm);
  return kExitOk;
}

}  // namespace sluice::cli
