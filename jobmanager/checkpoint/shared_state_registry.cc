#include "jobmanager/checkpoint/shared_state_registry.h"

namespace sluice::jobmanager::checkpoint {

void SharedStateRegistry::Register(int64_t checkpoint_id, const std::vector<std::string>& paths) {
  if (paths.empty()) return;
  std::set<std::string>& own = by_checkpoint_[checkpoint_id];
  for (const std::string& path : paths) {
    if (own.insert(path).second) references_[path].insert(checkpoint_id);
  }
}

std::vector<std::string> SharedStateRegistry::Release(int64_t checkpoint_id) {
  std::vector<std::string> unreferenced;
  auto it = by_checkpoint_.find(checkpoint_id);
  if (it == by_checkpoint_.end()) return unreferenced;
  for (const std::string& path : it->second) {
    auto ref = references_.find(path);
    if (ref == references_.end()) continue;
    ref->second.erase(checkpoint_id);
    if (ref->second.empty()) {
      references_.erase(ref);
      unreferenced.push_back(path);  // in order: it->second is a sorted set
    }
  }
  by_checkpoint_.erase(it);
  return unreferenced;
}

bool SharedStateRegistry::IsReferenced(const std::string& path) const {
  return references_.count(path) > 0;
}

int SharedStateRegistry::ReferenceCount(const std::string& path) const {
  auto it = references_.find(path);
  return it == references_.end() ? 0 : static_cast<int>(it->second.size());
}

}  // namespace sluice::jobmanager::checkpoint
