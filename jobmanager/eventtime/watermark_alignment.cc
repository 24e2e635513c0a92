#include "jobmanager/eventtime/watermark_alignment.h"

#include <algorithm>

namespace sluice::jobmanager {

void WatermarkAlignment::Report(const std::string& attempt_id, const std::string& group,
                                int64_t max_drift_ms, int64_t watermark) {
  absl::MutexLock lock(&mu_);
  if (ended_.count(attempt_id)) return;
  members_[attempt_id] = Member{group, std::max<int64_t>(0, max_drift_ms), watermark};
}

int64_t WatermarkAlignment::MaxAllowed(const std::string& attempt_id) {
  absl::MutexLock lock(&mu_);
  auto self = members_.find(attempt_id);
  if (self == members_.end() || self->second.group.empty()) return INT64_MAX;
  // The other members only: the subtask's own watermark is never behind what it reported, so
  // counting its report would only hold it back by its own stale value (a group of one is free).
  int64_t min = INT64_MAX;
  for (const auto& [id, m] : members_) {
    if (id != attempt_id && m.group == self->second.group) min = std::min(min, m.watermark);
  }
  if (min == INT64_MAX) return INT64_MAX;
  // Saturating: a group at the maximum watermark allows everything.
  return min > INT64_MAX - self->second.max_drift_ms ? INT64_MAX : min + self->second.max_drift_ms;
}

void WatermarkAlignment::Forget(const std::string& attempt_id) {
  absl::MutexLock lock(&mu_);
  members_.erase(attempt_id);
  ended_.insert(attempt_id);
}

void WatermarkAlignment::ForgetAll() {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, m] : members_) ended_.insert(id);
  members_.clear();
}

}  // namespace sluice::jobmanager
