// RocksDbKeyFilter: the KeyFilter (key_filter.h) of one RocksDB keyed state instance, kept complete
// (docs/state-backends.md, "The key filter"). The backend adds every key it writes; a read of a
// key the filter certainly lacks is answered "absent" without RocksDB.
//
// An instance opened empty has a complete filter from the start. A restored one holds keys the
// filter has not seen: a thread of its own (at a lower priority) walks the instance's keys into a
// second filter, and until it is done every read goes to RocksDB. The writes meanwhile go to the
// first filter; once the walk is done the two are one.
//
// The filter's bytes are charged to the TaskManager's shared RocksDB cache, so they count in
// managed memory. The filters of all instances sharing that cache take at most a quarter of it:
// an instance whose filter would go beyond drops it, and its reads go to RocksDB again.
//
// Task thread only, but for the walk's thread, which touches only what it was given.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "taskmanager/state/key_filter.h"

namespace rocksdb {
class Cache;
class ColumnFamilyHandle;
class DB;
}  // namespace rocksdb

namespace sluice::state {

class RocksDbKeyFilter {
 public:
  //! Where the filter's bytes are charged: the shared cache and the total of its instances'
  //! filters (both null: nowhere, no bound).
  struct Memory {
    std::shared_ptr<rocksdb::Cache> cache;
    std::shared_ptr<std::atomic<size_t>> total;
  };
  //! The share of the cache all key filters may take together.
  static constexpr double kMaxShareOfCache = 0.25;

  //! `name` for log lines.
  RocksDbKeyFilter(Memory memory, std::string name);
  RocksDbKeyFilter(const RocksDbKeyFilter&) = delete;
  RocksDbKeyFilter& operator=(const RocksDbKeyFilter&) = delete;
  //! Stops a walk still running.
  ~RocksDbKeyFilter();

  //! The instance was opened empty: the filter is complete.
  void StartComplete() { complete_ = true; }
  //! The instance holds restored keys: walks those of `families` (all column families with state)
  //! as they are now. `db` must stay open until Stop().
  void StartScan(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> families);
  //! Stops and joins a running walk (before the instance closes); the filter stays incomplete.
  void Stop();

  //! A stored key now in the instance, or about to be.
  void Add(std::string_view stored_key) {
    if (dropped_) return;
    filter_.Add(stored_key);
    if (filter_.bytes() != charged_ && memory_.cache) UpdateCharge();  // it grew
  }
  //! False only when `stored_key` is certainly not in the instance.
  bool MayContain(std::string_view stored_key) {
    if (!complete_ && !TryComplete()) return true;
    return filter_.MayContain(stored_key);
  }
  bool complete() const { return complete_; }
  //! The filter went over its share of the cache and is no more.
  bool dropped() const { return dropped_; }
  const KeyFilter& filter() const { return filter_; }

 private:
  struct Scan;
  //! Takes over a finished walk's filter; false while it runs (or after it failed).
  bool TryComplete();
  //! Charges the filter's bytes to the cache when they changed; drops the filter when the
  //! filters together would take more than their share.
  void UpdateCharge();
  void Drop(size_t limit);
  void ReleaseCharge();

  Memory memory_;
  std::string name_;
  KeyFilter filter_;
  bool complete_ = false;
  bool dropped_ = false;
  std::unique_ptr<Scan> scan_;
  void* charge_ = nullptr;  // the cache handle of the charge (rocksdb::Cache::Handle)
  size_t charged_ = 0;
};

}  // namespace sluice::state
