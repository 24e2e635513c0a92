// CheckpointFailureManager: counts the job's consecutive failed checkpoints and says when there
// are more than `execution.checkpointing.tolerable-failed-checkpoints`, so that the job fails over
// (Flink's CheckpointFailureManager). Only failures that count reach it (not aborts for a restart,
// a subsumed checkpoint or a trigger that did not reach a subtask); a failure of a checkpoint
// older than the newest completed one does not count.
//
// Owned by the CheckpointCoordinator; used on its executor only (not thread-safe).
#pragma once

#include <cstdint>

namespace sluice::jobmanager::checkpoint {

class CheckpointFailureManager {
 public:
  //! `tolerable_failures`: consecutive failures that do not fail the job over (>= 0).
  explicit CheckpointFailureManager(int tolerable_failures)
      : tolerable_failures_(tolerable_failures) {}

  //! Checkpoint `id` completed (or was found completed on storage): the count starts again.
  void OnCompleted(int64_t id);
  //! Checkpoint `id` failed. True when that makes one failure more than tolerable: the job must
  //! fail over, and the count starts again.
  bool OnFailure(int64_t id);

  int consecutive_failures() const { return consecutive_failures_; }
  int tolerable_failures() const { return tolerable_failures_; }

 private:
  const int tolerable_failures_;
  int consecutive_failures_ = 0;
  int64_t last_completed_id_ = 0;  // failures of older checkpoints do not count
};

}  // namespace sluice::jobmanager::checkpoint
