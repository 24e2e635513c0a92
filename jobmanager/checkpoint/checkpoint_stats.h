// The words the checkpoint coordinator and its collaborators share: a subtask that acknowledges
// (TaskKey), the lifecycle of one checkpoint (CheckpointStatus, with its table of legal
// transitions) and the figures of one checkpoint (CheckpointStats).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "sluice_proto/checkpoint.pb.h"

namespace sluice::jobmanager::checkpoint {

//! A subtask that must acknowledge every checkpoint.
struct TaskKey {
  uint32_t vertex_id = 0;
  int subtask_index = 0;
  auto operator<=>(const TaskKey&) const = default;
};

//! The lifecycle of one checkpoint. IN_PROGRESS -> FINALIZING (all acknowledged, `_metadata`
//! being written) -> COMPLETED; IN_PROGRESS or FINALIZING -> FAILED.
enum class CheckpointStatus { kInProgress, kFinalizing, kCompleted, kFailed };

std::string_view CheckpointStatusName(CheckpointStatus status);
bool IsLegalTransition(CheckpointStatus from, CheckpointStatus to);

//! Figures of one checkpoint.
struct CheckpointStats {
  int64_t id = 0;
  std::string kind;  //!< "checkpoint"
  CheckpointStatus status = CheckpointStatus::kInProgress;
  int64_t trigger_time_ms = 0;
  int64_t duration_ms = 0;  //!< trigger to end (or to now while in progress)
  //! Sum of the sizes of the files the acknowledgements name, each shared file counted once.
  uint64_t state_size_bytes = 0;
  int acknowledged = 0;
  int total_subtasks = 0;
  std::map<TaskKey, proto::SubtaskCheckpointStats> subtasks;  //!< as acknowledged
  std::string failure_reason;
};

//! What a checkpoint is taken for; periodic checkpoints take the defaults. Kept with the checkpoint
//! in progress and handed to the trigger callback.
struct TriggerOptions {
  //! A savepoint: once the checkpoint completed, the coordinator copies its files into a savepoint
  //! folder under this absolute path, the checkpoint pinned meanwhile (retention keeps it). Empty:
  //! a plain checkpoint. Default empty.
  std::string savepoint_dir;
  //! Stop-with-savepoint: the sources stop after the barrier and the subtasks finish once told
  //! that it completed (with `savepoint_dir`, once the savepoint is written). No checkpoint is
  //! triggered after it until the coordinator is suspended or stopped. Default false.
  bool stop = false;
  //! With `stop`: the subtasks end their input first (`sluice stop --drain`). Default false.
  bool drain = false;
  //! The job restarts from it (a rescale): pinned from its completion until the restored job's
  //! first checkpoint completes or the coordinator stops. Default false.
  bool restore_after = false;
};

//! A retained completed checkpoint.
struct CompletedCheckpointInfo {
  int64_t id = 0;
  std::string kind;
  std::string path;  //!< absolute: "<storage root>/chk-<n>"
  int64_t trigger_time_ms = 0;
  int64_t duration_ms = 0;  //!< 0 when recovered from storage
  uint64_t size_bytes = 0;
};

}  // namespace sluice::jobmanager::checkpoint
