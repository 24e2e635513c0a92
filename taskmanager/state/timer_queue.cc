#include "taskmanager/state/timer_queue.h"

#include <cstring>

namespace sluice::state {

std::string_view TimerQueue::Encode(int64_t time, int key_group, std::string_view key,
                                    std::string_view ns) {
  const uint32_t group = static_cast<uint32_t>(key_group);
  const uint32_t key_size = static_cast<uint32_t>(key.size());
  scratch_.resize(sizeof time + sizeof group + sizeof key_size + key.size() + ns.size());
  char* p = scratch_.data();
  std::memcpy(p, &time, sizeof time);
  p += sizeof time;
  std::memcpy(p, &group, sizeof group);
  p += sizeof group;
  std::memcpy(p, &key_size, sizeof key_size);
  p += sizeof key_size;
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  p += key.size();
  if (!ns.empty()) std::memcpy(p, ns.data(), ns.size());
  return scratch_;
}

TimerQueue::Timer TimerQueue::Decode(std::string_view id) {
  Timer t{};
  uint32_t group = 0, key_size = 0;
  std::memcpy(&t.time, id.data(), sizeof t.time);
  std::memcpy(&group, id.data() + 8, sizeof group);
  std::memcpy(&key_size, id.data() + 12, sizeof key_size);
  t.key_group = static_cast<int>(group);
  t.key = id.substr(16, key_size);
  t.ns = id.substr(16 + key_size);
  return t;
}

bool TimerQueue::Add(int64_t time, int key_group, std::string_view key, std::string_view ns) {
  const std::string_view id = Encode(time, key_group, key, ns);
  if (live_.count(id) != 0) return false;  // the common case of a timer registered per record
  Bucket& b = buckets_[time];
  const std::string& stored = b.ids.emplace_back(id);
  ++b.live;
  live_.insert(std::string_view(stored));
  return true;
}

bool TimerQueue::Remove(int64_t time, int key_group, std::string_view key, std::string_view ns) {
  auto it = live_.find(Encode(time, key_group, key, ns));
  if (it == live_.end()) return false;
  live_.erase(it);
  auto bucket = buckets_.find(time);
  if (--bucket->second.live == 0 && &bucket->second != firing_) buckets_.erase(bucket);
  return true;
}

std::vector<std::string> TimerQueue::Ids() const {
  std::vector<std::string> ids;
  ids.reserve(live_.size());
  for (const auto& [time, b] : buckets_) {
    for (size_t i = b.next; i < b.ids.size(); ++i) {
      auto it = live_.find(std::string_view(b.ids[i]));
      if (it != live_.end() && it->data() == b.ids[i].data()) ids.push_back(b.ids[i]);
    }
  }
  return ids;
}

}  // namespace sluice::state
