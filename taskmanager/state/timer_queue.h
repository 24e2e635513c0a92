// TimerQueue: the timers of one domain of a HeapTimerService. Timers are bucketed by time (an
// ordered map of the few distinct times windows and timeouts use) and deduplicated by a hash set,
// so registering costs a hash lookup instead of an ordered-set insert with string comparisons and
// allocations; timers of equal time fire in the order they were registered. Task thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace sluice::state {

class TimerQueue {
 public:
  //! One timer, its parts viewing the queue's storage (valid until the queue changes).
  struct Timer {
    int64_t time;
    int key_group;
    std::string_view key;
    std::string_view ns;
  };

  //! Adds the timer; false when it is there already.
  bool Add(int64_t time, int key_group, std::string_view key, std::string_view ns);
  //! Removes the timer; false when it was not there.
  bool Remove(int64_t time, int key_group, std::string_view key, std::string_view ns);

  bool empty() const { return live_.empty(); }
  size_t size() const { return live_.size(); }
  //! The earliest timer's time; the queue must not be empty.
  int64_t EarliestTime() const { return buckets_.begin()->first; }

  //! Takes the earliest timer if it is at or before `time`: calls `fire` with it (which may add
  //! and remove timers) and returns true; false when there is none due.
  template <typename Fire>
  bool PopDue(int64_t time, Fire&& fire) {
    while (!buckets_.empty() && buckets_.begin()->first <= time) {
      auto bucket = buckets_.begin();
      Bucket& b = bucket->second;
      const std::string& id = b.ids[b.next++];
      auto it = live_.find(std::string_view(id));
      if (it == live_.end() || it->data() != id.data()) continue;  // removed (maybe added again)
      live_.erase(it);
      --b.live;
      const Timer t = Decode(id);
      firing_ = &b;  // Remove keeps this bucket (and so `id`) while `fire` runs
      fire(t);       // a deque's elements do not move when it grows
      firing_ = nullptr;
      if (b.live == 0) buckets_.erase(bucket);
      return true;
    }
    return false;
  }

  //! The ids of every timer, earliest first (a snapshot's synchronous copy); Decode reads one.
  std::vector<std::string> Ids() const;
  static Timer Decode(std::string_view id);

 private:
  //! The timers of one time; `ids` before `next` are done, and those after it that the hash set
  //! does not point at were removed.
  struct Bucket {
    std::deque<std::string> ids;
    size_t next = 0;
    size_t live = 0;
  };
  struct Hash {
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  //! The timer's id into scratch_: time, key group, key length, key, namespace.
  std::string_view Encode(int64_t time, int key_group, std::string_view key, std::string_view ns);

  std::map<int64_t, Bucket> buckets_;
  std::unordered_set<std::string_view, Hash> live_;  // views of the live ids in the buckets
  std::string scratch_;
  const Bucket* firing_ = nullptr;  // the bucket of the timer being fired
};

}  // namespace sluice::state
