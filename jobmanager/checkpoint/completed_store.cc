#include "jobmanager/checkpoint/completed_store.h"

#include <algorithm>
#include <iterator>

namespace sluice::jobmanager::checkpoint {

std::vector<int64_t> CompletedCheckpointStore::Add(int64_t id, Entry entry, bool pin) {
  retained_[id] = std::move(entry);
  if (pin) ++pins_[id];
  return Enforce();
}

bool CompletedCheckpointStore::Pin(int64_t id) {
  if (!retained_.count(id)) return false;
  ++pins_[id];
  return true;
}

std::vector<int64_t> CompletedCheckpointStore::Unpin(int64_t id) {
  auto it = pins_.find(id);
  if (it == pins_.end()) return {};
  if (--it->second > 0) return {};
  pins_.erase(it);
  return Enforce();
}

bool CompletedCheckpointStore::Remove(int64_t id) {
  pins_.erase(id);
  return retained_.erase(id) > 0;
}

const CompletedCheckpointStore::Entry* CompletedCheckpointStore::Find(int64_t id) const {
  auto it = retained_.find(id);
  return it == retained_.end() ? nullptr : &it->second;
}

std::vector<int64_t> CompletedCheckpointStore::Pinned() const {
  std::vector<int64_t> ids;
  for (const auto& [id, pins] : pins_) ids.push_back(id);
  return ids;
}

std::vector<const CompletedCheckpointStore::Entry*> CompletedCheckpointStore::NewestFirst() const {
  std::vector<const Entry*> out;
  for (auto it = retained_.rbegin(); it != retained_.rend(); ++it) out.push_back(&it->second);
  return out;
}

// The newest num_retained stay; of the older ones, a pinned one stays until it is unpinned.
std::vector<int64_t> CompletedCheckpointStore::Enforce() {
  std::vector<int64_t> dropped;
  const auto keep = static_cast<size_t>(std::max(num_retained_, 0));
  if (retained_.size() <= keep) return dropped;
  const int64_t oldest_kept =
      keep == 0 ? INT64_MAX : std::prev(retained_.end(), static_cast<long>(keep))->first;
  for (auto it = retained_.begin(); it != retained_.end() && it->first < oldest_kept;) {
    if (pins_.count(it->first)) {
      ++it;
      continue;
    }
    dropped.push_back(it->first);
    it = retained_.erase(it);
  }
  return dropped;
}

}  // namespace sluice::jobmanager::checkpoint
