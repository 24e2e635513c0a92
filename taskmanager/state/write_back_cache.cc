#include "taskmanager/state/write_back_cache.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace sluice::state {

void WriteBackCache::SetCurrentKey(std::string_view prefix) {
  prefix_.assign(prefix);
  current_ = nullptr;
}

WriteBackCache::Bucket& WriteBackCache::Current() {
  if (current_ != nullptr) return *current_;
  if (prefix_.empty()) throw std::logic_error("rocksdb state backend: no current key");
  auto [it, inserted] = buckets_.try_emplace(prefix_);
  if (inserted) bytes_ += kBucketOverhead + prefix_.size();
  current_ = &it->second;
  return *current_;
}

const std::string& WriteBackCache::SlotKey(int state, std::string_view user_key) {
  slot_buf_.clear();
  slot_buf_.push_back(static_cast<char>((state >> 8) & 0xff));
  slot_buf_.push_back(static_cast<char>(state & 0xff));
  slot_buf_.append(user_key);
  return slot_buf_;
}

WriteBackCache::Entry* WriteBackCache::Find(int state, std::string_view user_key) {
  Bucket& b = Current();
  auto it = b.find(SlotKey(state, user_key));
  return it == b.end() ? nullptr : &it->second;
}

WriteBackCache::Entry& WriteBackCache::Insert(int state, std::string_view user_key) {
  Bucket& b = Current();
  auto [it, inserted] = b.try_emplace(SlotKey(state, user_key));
  if (inserted) bytes_ += kEntryOverhead + it->first.size();
  return it->second;
}

void WriteBackCache::EraseCurrent(int state) {
  auto [first, last] = StateRange(state);
  for (auto it = first; it != last; ++it) {
    bytes_ -= kEntryOverhead + it->first.size() + it->second.value.size();
  }
  Current().erase(first, last);
}

void WriteBackCache::VisitDirtyIn(const std::string& prefix, Bucket::iterator first,
                                  Bucket::iterator last, const DirtyWriter& write) {
  for (auto it = first; it != last; ++it) {
    Entry& e = it->second;
    if (!e.dirty) continue;
    const std::string& slot = it->first;
    const int state =
        (static_cast<unsigned char>(slot[0]) << 8) | static_cast<unsigned char>(slot[1]);
    stored_buf_.assign(prefix);
    stored_buf_.append(slot, 2, std::string::npos);
    write(state, stored_buf_, e);
  }
}

std::pair<WriteBackCache::Bucket::iterator, WriteBackCache::Bucket::iterator>
WriteBackCache::StateRange(int state) {
  Bucket& b = Current();
  auto first = b.lower_bound(SlotKey(state, {}));
  auto last = b.lower_bound(SlotKey(state + 1, {}));  // SlotKey's buffer is reused
  return {first, last};
}

void WriteBackCache::VisitDirty(const DirtyWriter& write) {
  // In key order: RocksDB's memtable inserts a sorted run of keys next to each other, far
  // cheaper than a search of its skip list per key.
  std::vector<std::pair<const std::string*, Bucket*>> order;
  order.reserve(buckets_.size());
  for (auto& [prefix, bucket] : buckets_) order.emplace_back(&prefix, &bucket);
  std::sort(order.begin(), order.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  for (auto& [prefix, bucket] : order) VisitDirtyIn(*prefix, bucket->begin(), bucket->end(), write);
}

void WriteBackCache::MarkClean() {
  for (auto& [prefix, bucket] : buckets_) {
    for (auto& [slot, e] : bucket) e.dirty = false;
  }
}

void WriteBackCache::VisitDirtyOfCurrent(int state, const DirtyWriter& write) {
  auto [first, last] = StateRange(state);
  VisitDirtyIn(prefix_, first, last, write);
}

void WriteBackCache::MarkCleanOfCurrent(int state) {
  auto [first, last] = StateRange(state);
  for (auto it = first; it != last; ++it) it->second.dirty = false;
}

void WriteBackCache::Clear() {
  buckets_.clear();
  current_ = nullptr;
  bytes_ = 0;
}

}  // namespace sluice::state
