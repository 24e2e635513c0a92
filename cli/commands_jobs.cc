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
#include "absl/time/clock.h"
#include "cli/client.h"
#include "cli/command.h"
#include "common/util/json.h"

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

// Flink's metric names, so that dashboards and scripts written for Flink read them unchanged.
void WriteMetricsJson(JsonWriter& w, const proto::SubtaskMetrics& m) {
  auto number = [&w](std::string_view key, double value) {
    w.Key(key);
    w.Double(value);
  };
  auto count = [&w](std::string_view key, uint64_t value) {
    w.Key(key);
    w.Int(static_cast<int64_t>(value));
  };
  w.BeginObject();
  number("busyTimeMsPerSecond", m.busy_time_ms_per_second());
  number("idleTimeMsPerSecond", m.idle_time_ms_per_second());
  number("backPressuredTimeMsPerSecond", m.back_pressured_time_ms_per_second());
  count("numRecordsIn", m.num_records_in());
  count("numRecordsOut", m.num_records_out());
  number("numRecordsInPerSecond", m.num_records_in_per_second());
  number("numRecordsOutPerSecond", m.num_records_out_per_second());
  count("numBytesIn", m.num_bytes_in());
  count("numBytesOut", m.num_bytes_out());
  number("inPoolUsage", m.in_pool_usage());
  number("outPoolUsage", m.out_pool_usage());
  w.EndObject();
}

void PrintStatusJson(const proto::JobStatus& job) {
  JsonWriter w;
  w.BeginObject();
  w.Key("id");
  w.String(job.id());
  w.Key("name");
  w.String(job.name());
  w.Key("state");
  w.String(job.state());
  if (!job.failure().empty()) {
    w.Key("failure");
    w.String(job.failure());
  }
  w.Key("numRestarts");
  w.Int(job.num_restarts());
  if (!job.last_restart_cause().empty()) {
    w.Key("lastRestartCause");
    w.String(job.last_restart_cause());
  }
  if (!job.rescale().empty()) {
    w.Key("rescale");
    w.String(job.rescale());
  }
  if (job.has_last_checkpoint()) {
    w.Key("lastCheckpoint");
    w.BeginObject();
    w.Key("id");
    w.Int(job.last_checkpoint().id());
    w.Key("path");
    w.String(job.last_checkpoint().path());
    w.Key("duration_ms");
    w.Int(job.last_checkpoint().duration_ms());
    w.Key("size_bytes");
    w.Int(static_cast<int64_t>(job.last_checkpoint().size_bytes()));
    w.EndObject();
  }
  w.Key("vertices");
  w.BeginArray();
  for (const proto::VertexStatus& v : job.vertices()) {
    w.BeginObject();
    w.Key("id");
    w.String(v.id());
    w.Key("name");
    w.String(v.name());
    w.Key("parallelism");
    w.Int(v.parallelism());
    w.Key("subtasks");
    w.BeginArray();
    for (const proto::SubtaskStatus& s : v.subtasks()) {
      w.BeginObject();
      w.Key("index");
      w.Int(s.index());
      w.Key("state");
      w.String(s.state());
      w.Key("taskmanager");
      w.String(s.taskmanager());
      if (s.has_metrics()) {
        w.Key("metrics");
        WriteMetricsJson(w, s.metrics());
      }
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  std::cout << w.str() << std::endl;
}

void PrintStatusText(const proto::JobStatus& job) {
  std::cout << "Job " << job.id();
  if (!job.name().empty()) std::cout << " (" << job.name() << ")";
  std::cout << ": " << job.state() << "\n";
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
    JsonWriter w;
    w.BeginArray();
    for (const proto::JobSummary& job : jobs->jobs()) {
      w.BeginObject();
      w.Key("id");
      w.String(job.id());
      w.Key("name");
      w.String(job.name());
      w.Key("state");
      w.String(job.state());
      w.EndObject();
    }
    w.EndArray();
    std::cout << w.str() << std::endl;
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
void WriteNetworkJson(JsonWriter& w, const proto::TaskManagerInfo& tm) {
  if (!tm.has_network()) {
    w.Null();
    return;
  }
  const proto::NetworkMemoryStats& n = tm.network();
  w.BeginObject();
  w.Key("total_bytes");
  w.Int(n.total_segments() * n.segment_size());
  w.Key("used_bytes");
  w.Int(n.used_segments() * n.segment_size());
  w.Key("peak_bytes");
  w.Int(n.peak_used_segments() * n.segment_size());
  w.EndObject();
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

}  // namespace

int TaskManagersCommand(const Invocation& invocation) {
  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::ListTaskManagersResponse> tms = client.ListTaskManagers();
  if (!tms.ok()) return Fail(tms.status());
  if (invocation.args.Has("--json")) {
    JsonWriter w;
    w.BeginArray();
    for (const proto::TaskManagerInfo& tm : tms->taskmanagers()) {
      w.BeginObject();
      w.Key("id");
      w.String(tm.id());
      w.Key("address");
      w.String(tm.address());
      w.Key("slots");
      w.Int(tm.slots());
      w.Key("free_slots");
      w.Int(tm.free_slots());
      w.Key("network");
      WriteNetworkJson(w, tm);
      w.EndObject();
    }
    w.EndArray();
    std::cout << w.str() << std::endl;
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
  return kExitOk;
}

}  // namespace sluice::cli
