// Internal to jobmanager/checkpoint/: what the coordinator's files (coordinator*.cc) share — its
// logger, a checkpoint in progress, and the tally of the files acknowledgements name.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "jobmanager/checkpoint/coordinator.h"

namespace sluice::jobmanager::checkpoint {
namespace internal {

inline auto Log() { return log::Get("checkpoint"); }

//! Missing, damaged or of another format: a checkpoint's `_metadata` that cannot be read, not a
//! storage outage.
bool IsUnreadable(const absl::Status& status);

inline constexpr char kKindCheckpoint[] = "checkpoint";

inline std::string FormatMs(int64_t ms) { return absl::FormatDuration(absl::Milliseconds(ms)); }

inline std::string TaskName(TaskKey task) {
  return absl::StrCat("vertex ", task.vertex_id, " subtask ", task.subtask_index);
}

//! Sizes of the files some subtask states name: private ones summed, shared ones once each.
struct FileTally {
  uint64_t private_bytes = 0;
  std::map<std::string, uint64_t> shared;  // path -> size

  void Add(const proto::OperatorSubtaskState& state) {
    for (const proto::KeyedStateHandle& keyed : state.keyed()) {
      if (keyed.has_key_groups()) private_bytes += keyed.key_groups().file().size();
      if (!keyed.has_rocksdb()) continue;
      for (const proto::RocksDbFile& f : keyed.rocksdb().private_files()) {
        private_bytes += f.file().size();
      }
      for (const proto::RocksDbFile& f : keyed.rocksdb().shared_files()) {
        shared.emplace(f.file().path(), f.file().size());
      }
    }
  }
  void Add(const std::vector<proto::OperatorSubtaskState>& states) {
    for (const auto& s : states) Add(s);
  }
  void Add(const proto::CheckpointMetadata& metadata) {
    for (const proto::OperatorSnapshot& op : metadata.operators()) {
      for (const proto::OperatorSubtaskState& s : op.subtasks()) Add(s);
    }
  }
  uint64_t TotalBytes() const {
    uint64_t total = private_bytes;
    for (const auto& [path, size] : shared) total += size;
    return total;
  }
  std::vector<std::string> SharedPaths() const {
    std::vector<std::string> paths;
    for (const auto& [path, size] : shared) paths.push_back(path);
    return paths;
  }
};

}  // namespace internal

struct CheckpointCoordinator::Pending {
  struct Ack {
    std::vector<proto::OperatorSubtaskState> states;
    proto::SubtaskCheckpointStats stats;
  };

  int64_t id = 0;
  int64_t trigger_time_ms = 0;
  CheckpointStatus status = CheckpointStatus::kInProgress;
  std::set<TaskKey> awaiting;
  std::map<TaskKey, Ack> acks;
  std::vector<OperatorInfo> operators;  // as of the trigger
  TriggerOptions options;
  SnapshotCallback done;  // of a snapshot triggered on demand
  int total_subtasks = 0;
  internal::FileTally files;  // named by the acknowledgements

  void SetStatus(CheckpointStatus to) {
    if (!IsLegalTransition(status, to)) {
      internal::Log()->error("checkpoint {}: illegal transition from {} to {}", id,
                             CheckpointStatusName(status), CheckpointStatusName(to));
      return;
    }
    status = to;
  }
};

}  // namespace sluice::jobmanager::checkpoint
