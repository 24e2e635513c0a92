// `sluice checkpoints JOB [--json]`: the job's retained completed checkpoints, those in progress,
// recent ones that failed, and how often the job restarted.

#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/client.h"
#include "cli/command.h"

namespace sluice::cli {
namespace {

Json InfoJson(const proto::CheckpointInfo& c, bool with_path) {
  Json info = {{"id", c.id()}, {"kind", c.kind().empty() ? "checkpoint" : c.kind()}};
  if (with_path) info["path"] = c.path();
  info["duration_ms"] = c.duration_ms();
  info["size_bytes"] = static_cast<int64_t>(c.size_bytes());
  return info;
}

void PrintCheckpointsJson(const proto::CheckpointsResponse& r) {
  Json completed = Json::array(), in_progress = Json::array();
  for (const auto& c : r.completed()) completed.push_back(InfoJson(c, true));
  for (const auto& c : r.in_progress()) in_progress.push_back(InfoJson(c, false));
  PrintJson({{"completed", std::move(completed)},
             {"in_progress", std::move(in_progress)},
             {"failed", r.failed()},
             {"restarts", r.restarts()}});
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
    PrintCheckpointsJson(*r);
  } else {
    PrintText(job, *r);
  }
  return kExitOk;
}

}  // namespace sluice::cli
