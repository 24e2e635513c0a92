#include "jobmanager/checkpoint/stats_tracker.h"

namespace sluice::jobmanager::checkpoint {

std::string_view CheckpointStatusName(CheckpointStatus status) {
  switch (status) {
    case CheckpointStatus::kInProgress:
      return "IN_PROGRESS";
    case CheckpointStatus::kFinalizing:
      return "FINALIZING";
    case CheckpointStatus::kCompleted:
      return "COMPLETED";
    case CheckpointStatus::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

bool IsLegalTransition(CheckpointStatus from, CheckpointStatus to) {
  using S = CheckpointStatus;
  switch (from) {
    case S::kInProgress:
      return to == S::kFinalizing || to == S::kFailed;
    case S::kFinalizing:
      return to == S::kCompleted || to == S::kFailed;
    case S::kCompleted:
    case S::kFailed:
      return false;
  }
  return false;
}

void CheckpointStatsTracker::RecordCompleted(CheckpointStats stats) {
  ++completed_count_;
  Record(std::move(stats));
}

void CheckpointStatsTracker::RecordFailed(CheckpointStats stats) {
  ++failed_count_;
  Record(std::move(stats));
}

void CheckpointStatsTracker::Record(CheckpointStats stats) {
  history_.push_front(std::move(stats));
  if (history_.size() > history_size_) history_.pop_back();
}

}  // namespace sluice::jobmanager::checkpoint
