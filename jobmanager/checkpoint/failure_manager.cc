#include "jobmanager/checkpoint/failure_manager.h"

#include <algorithm>

namespace sluice::jobmanager::checkpoint {

void CheckpointFailureManager::OnCompleted(int64_t id) {
  last_completed_id_ = std::max(last_completed_id_, id);
  consecutive_failures_ = 0;
}

bool CheckpointFailureManager::OnFailure(int64_t id) {
  if (id < last_completed_id_) return false;  // a newer checkpoint already succeeded
  ++consecutive_failures_;
  if (consecutive_failures_ <= tolerable_failures_) return false;
  consecutive_failures_ = 0;
  return true;
}

}  // namespace sluice::jobmanager::checkpoint
