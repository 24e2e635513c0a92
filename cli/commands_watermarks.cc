// `sluice watermarks JOB`: event time per subtask, to answer "why hasn't my window fired?" — the
// input and output watermark, which input holds the input watermark back and since when, which
// inputs are idle, how far event time lags the wall clock, late records dropped, and for sources
// in a watermark alignment group how far they may advance and how many splits that pauses.

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/client.h"
#include "cli/command.h"

namespace sluice::cli {

std::string FormatWatermark(int64_t watermark) {
  if (watermark == INT64_MIN) return "none";
  if (watermark == INT64_MAX) return "end of event time";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(watermark),
                          absl::UTCTimeZone());
}

namespace {

// "3.2 s", "4 min 10 s": a duration in milliseconds, coarsely.
std::string FormatLag(int64_t ms) {
  return absl::FormatDuration(absl::Trunc(absl::Milliseconds(ms), absl::Milliseconds(100)));
}

Json WatermarkJson(int64_t watermark) {
  if (watermark == INT64_MIN) return nullptr;
  return watermark;
}

// How far event time is behind the wall clock at the report, or null without a watermark.
Json LagJson(const proto::SubtaskMetrics& m) {
  int64_t wm = m.current_input_watermark();
  if (wm == INT64_MIN || wm == INT64_MAX || m.reported_at_ms() == 0) return nullptr;
  return m.reported_at_ms() - wm;
}

void PrintText(const proto::JobStatus& job) {
  std::cout << "Job " << job.id();
  if (!job.name().empty()) std::cout << " (" << job.name() << ")";
  std::cout << ": " << job.state() << "\n";
  for (const proto::VertexStatus& v : job.vertices()) {
    std::cout << "  " << v.name() << " (vertex " << v.id() << ")\n";
    for (const proto::SubtaskStatus& s : v.subtasks()) {
      std::cout << "    subtask " << s.index() << "  ";
      if (!s.has_metrics()) {
        std::cout << s.state() << ", no report yet\n";
        continue;
      }
      const proto::SubtaskMetrics& m = s.metrics();
      std::cout << "input " << FormatWatermark(m.current_input_watermark()) << "  output "
                << FormatWatermark(m.current_output_watermark());
      if (Json lag = LagJson(m); !lag.is_null()) {
        std::cout << "  lag " << FormatLag(lag.get<int64_t>());
      }
      if (!m.watermark_held_by().empty()) {
        std::cout << "  held back by " << m.watermark_held_by();
        const int64_t unchanged_ms = m.reported_at_ms() - m.watermark_unchanged_since_ms();
        if (m.watermark_unchanged_since_ms() > 0 && m.reported_at_ms() > 0 &&
            unchanged_ms >= 1000) {
          std::cout << ", unchanged for " << FormatLag(unchanged_ms);
        }
      }
      if (m.idle_inputs_size() > 0) {
        std::cout << "  idle: " << absl::StrJoin(m.idle_inputs(), ", ");
      }
      if (m.num_late_records_dropped() > 0) {
        std::cout << "  late records dropped " << m.num_late_records_dropped();
      }
      if (!m.alignment_group().empty()) {
        std::cout << "  alignment group " << m.alignment_group() << ": may advance to "
                  << FormatWatermark(m.alignment_max_allowed_watermark());
        if (m.alignment_paused_splits() > 0) {
          std::cout << ", " << m.alignment_paused_splits()
                    << " split(s) paused by watermark alignment";
        }
      }
      std::cout << "\n";
    }
  }
  std::cout.flush();
}

void PrintJsonView(const proto::JobStatus& job) {
  Json vertices = Json::array();
  for (const proto::VertexStatus& v : job.vertices()) {
    Json subtasks = Json::array();
    for (const proto::SubtaskStatus& s : v.subtasks()) {
      Json subtask = {{"index", s.index()}, {"state", s.state()}};
      if (s.has_metrics()) {
        const proto::SubtaskMetrics& m = s.metrics();
        subtask["inputWatermark"] = WatermarkJson(m.current_input_watermark());
        subtask["outputWatermark"] = WatermarkJson(m.current_output_watermark());
        subtask["eventTimeLagMs"] = LagJson(m);
        subtask["heldBackBy"] =
            m.watermark_held_by().empty() ? Json(nullptr) : Json(m.watermark_held_by());
        subtask["unchangedSinceMs"] = m.watermark_unchanged_since_ms() > 0
                                          ? Json(m.watermark_unchanged_since_ms())
                                          : Json(nullptr);
        Json idle = Json::array();
        for (const std::string& i : m.idle_inputs()) idle.push_back(i);
        subtask["idleInputs"] = std::move(idle);
        subtask["numLateRecordsDropped"] = static_cast<int64_t>(m.num_late_records_dropped());
        if (!m.alignment_group().empty()) {
          subtask["alignment"] = {
              {"group", m.alignment_group()},
              {"maxDriftMs", m.alignment_max_drift_ms()},
              {"watermark", WatermarkJson(m.alignment_watermark())},
              {"maxAllowedWatermark", m.alignment_max_allowed_watermark() == INT64_MAX
                                          ? Json(nullptr)
                                          : Json(m.alignment_max_allowed_watermark())},
              {"pausedSplits", m.alignment_paused_splits()}};
        }
      }
      subtasks.push_back(std::move(subtask));
    }
    vertices.push_back({{"id", v.id()}, {"name", v.name()}, {"subtasks", std::move(subtasks)}});
  }
  PrintJson({{"id", job.id()}, {"state", job.state()}, {"vertices", std::move(vertices)}});
}

}  // namespace

int WatermarksCommand(const Invocation& invocation) {
  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::JobStatus> job = client.GetJobStatus(invocation.args.positionals[0]);
  if (!job.ok()) return Fail(job.status());
  if (invocation.args.Has("--json")) {
    PrintJsonView(*job);
  } else {
    PrintText(*job);
  }
  return kExitOk;
}

}  // namespace sluice::cli
