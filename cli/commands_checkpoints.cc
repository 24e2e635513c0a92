// `sluice checkpoints JOB [--json]`: the job's retained completed checkpoints, those in progress,
// recent ones that failed, and how often the job restarted.

#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/client.h"
#include "cli/command.h"
#include "common/util/json.h"

namespace sluice::cli {
namespace {

void WriteInfo(JsonWriter& w, const proto::CheckpointInfo& c, bool with_path) {
  w.BeginObject();
  w.Key("id");
  w.Int(c.id());
  w.Key("kind");
  w.String(c.kind().empty() ? "checkpoint" : c.kind());
  if (with_path) {
    w.Key("path");
    w.String(c.path());
  }
  w.Key("duration_ms");
  w.Int(c.duration_ms());
  w.Key("size_bytes");
  w.Int(static_cast<int64_t>(c.size_bytes()));
  w.EndObject();
}

void PrintJson(const proto::CheckpointsResponse& r) {
  JsonWriter w;
  w.BeginObject();
  w.Key("completed");
  w.BeginArray();
  for (const auto& c : r.completed()) WriteInfo(w, c, true);
  w.EndArray();
  w.Key("in_progress");
  w.BeginArray();
  for (const auto& c : r.in_progress()) WriteInfo(w, c, false);
  w.EndArray();
  w.Key("failed");
  w.Int(r.failed());
  w.Key("restarts");
  w.Int(r.restarts());
  w.EndObject();
  std::cout << w.str() << std::endl;
}

void PrintText(const std::string& job, const proto::CheckpointsResponse& r) {
  if (!r.enabled()) {
    std::cout << "Job " << job
              << " takes no checkpoints (execution.checkpointing.interval is 0).\n";
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : r.completed()) {
    rows.push_back({std::to_string(c.id()), c.kind(), "COMPLETED",
                    absl::StrCat(c.duration_ms(), " ms"), absl::StrCat(c.size_bytes()), c.path()});
  }
  for (const auto& c : r.in_progress()) {
    rows.push_back({std::to_string(c.id()), c.kind(), "IN_PROGRESS",
                    absl::StrCat(c.duration_ms(), " ms"), absl::StrCat(c.size_bytes()), ""});
  }
  for (const auto& c : r.history()) {
    if (c.status() != "FAILED") continue;
    rows.push_back({std::to_string(c.id()), c.kind(), "FAILED",
                    absl::StrCat(c.duration_ms(), " ms"), "", c.failure()});
  }
  if (!rows.empty()) PrintTable({"ID", "KIND", "STATUS", "DURATION", "BYTES", "PATH"}, rows);
  // The newest completed checkpoint's figures per subtask (Flink's checkpoint details).
  for (const auto& c : r.history()) {
    if (c.status() != "COMPLETED") continue;
    std::cout << "\nCheckpoint " << c.id() << " per subtask:\n";
    std::vector<std::vector<std::string>> subtasks;
    for (const auto& s : c.subtasks()) {
      subtasks.push_back(
          {absl::StrCat(s.vertex(), " (", s.index() + 1, ")"),
           absl::StrCat(s.sync_duration_ms(), " ms"), absl::StrCat(s.async_duration_ms(), " ms"),
           absl::StrCat(s.alignment_duration_ms(), " ms"), absl::StrCat(s.start_delay_ms(), " ms"),
           absl::StrCat(s.state_size_bytes())});
    }
    PrintTable({"SUBTASK", "SYNC", "ASYNC", "ALIGNMENT", "START DELAY", "BYTES"}, subtasks);
    break;
  }
  std::cout << "Failed checkpoints: " << r.failed() << "   Restarts: " << r.restarts() << std::endl;
}

}  // namespace

int CheckpointsCommand(const Invocation& invocation) {
  const std::string& job = invocation.args.positionals[0];
  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::CheckpointsResponse> r = client.GetCheckpoints(job);
  if (!r.ok()) return Fail(r.status());
  if (invocation.args.Has("--json")) {
    PrintJson(*r);
  } else {
    PrintText(job, *r);
  }
  return kExitOk;
}

}  // namespace sluice::cli
