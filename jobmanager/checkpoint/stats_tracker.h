// CheckpointStatsTracker: the figures of the checkpoints that ended — the newest `history_size`
// of them, and how many completed and failed in the coordinator's life — for `sluice
// checkpoints` (Flink's CheckpointStatsTracker, without its per-subtask summaries).
//
// Owned by the CheckpointCoordinator; used on its executor only (not thread-safe).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "jobmanager/checkpoint/checkpoint_stats.h"

namespace sluice::jobmanager::checkpoint {

class CheckpointStatsTracker {
 public:
  explicit CheckpointStatsTracker(size_t history_size) : history_size_(history_size) {}

  void RecordCompleted(CheckpointStats stats);
  //! Every checkpoint that ended without completing (also aborted ones that do not count as
  //! failures towards the tolerable ones).
  void RecordFailed(CheckpointStats stats);

  //! Newest first, at most `history_size`.
  std::vector<CheckpointStats> History() const { return {history_.begin(), history_.end()}; }
  int64_t completed_count() const { return completed_count_; }
  int64_t failed_count() const { return failed_count_; }

 private:
  void Record(CheckpointStats stats);

  const size_t history_size_;
  std::deque<CheckpointStats> history_;  // newest first
  int64_t completed_count_ = 0;
  int64_t failed_count_ = 0;
};

}  // namespace sluice::jobmanager::checkpoint
