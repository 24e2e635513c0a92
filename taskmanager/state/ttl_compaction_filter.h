// TtlCompactionFilters: state time-to-live in RocksDB's compactions (Flink's
// CleanupInRocksdbCompactFilter, docs/state-backends.md "State time-to-live"). The SDK stores every
// TTL'd value, map entry and list element with the processing time it was last written in its
// first 8 bytes (sluice/state_ttl.h); once a state registers its time-to-live here, each
// compaction of its column family drops the values and map entries that expired and strips a
// list's expired elements (which come first: a list's times never decrease). Lists need the SDK's
// `element_size` to find where an element ends; a value the filter cannot read is kept.
//
// Thread-safe: Set from the task thread, the filters run on RocksDB's compaction threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string_view>

#include "absl/synchronization/mutex.h"

namespace rocksdb {
class CompactionFilterFactory;
}

namespace sluice::state {

class TtlCompactionFilters : public std::enable_shared_from_this<TtlCompactionFilters> {
 public:
  using ElementSize = size_t (*)(const uint8_t* data, size_t size);
  struct Settings {
    int64_t ttl_ms = 0;
    //! Entries between two readings of the clock.
    int64_t query_time_after_entries = 1000;
    //! List state: the bytes of the element at `data`, 0 when malformed. Null: value or map state.
    ElementSize element_size = nullptr;
  };
  //! What a filter decides for one stored value.
  enum class Decision { kKeep, kRemove, kChange };

  //! `clock`: milliseconds since the epoch (the processing time the SDK stores).
  explicit TtlCompactionFilters(std::function<int64_t()> clock);

  //! The time-to-live of the column family `family_id` (replaces an earlier one).
  void Set(uint32_t family_id, Settings settings);
  //! The factory for the column families' options: a filter for those with a time-to-live. It
  //! shares this object (make it with std::make_shared).
  std::shared_ptr<rocksdb::CompactionFilterFactory> Factory();

  //! The decision for `value` at time `now`; with kChange, `*kept` is what stays of a list.
  static Decision Filter(const Settings& settings, int64_t now, std::string_view value,
                         std::string_view* kept);

 private:
  friend class TtlFilterFactory;
  bool Find(uint32_t family_id, Settings* out) const;

  std::function<int64_t()> clock_;
  mutable absl::Mutex mu_;
  std::map<uint32_t, Settings> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::state
