// RocksDbKeyFilter: the KeyFilter (key_filter.h) of one RocksDB keyed state instance, kept complete
// (docs/state-backends.md, "The key filter"). The backend adds every key it writes; a read of a
// key the filter certainly lacks is answered "absent" without RocksDB.
//
// An instance opened empty has a complete filter from the start. A restored one holds keys the
// filter has not seen: a thread of its own (at a lower priority) walks the instance's keys into a
// second filter, and until it is done every read goes to RocksDB. The writes meanwhile go to the
// first filter; once the walk is done the two are one. The filter's
// bytes are charged to the TaskManager's shared RocksDB cache, so they count in managed memory.
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
  //! `cache`: where the filter's bytes are charged (null: nowhere); `name` for log lines.
  RocksDbKeyFilter(std::shared_ptr<rocksdb::Cache> cache, std::string name);
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
  void Add(std::string_view stored_key) { filter_.Add(stored_key); }
  //! False only when `stored_key` is certainly not in the instance.
  bool MayContain(std::string_view stored_key) {
    if (!complete_ && !TryComplete()) return true;
    return filter_.MayContain(stored_key);
  }
  //! Charges the filter's bytes to the cache when they changed (after a batch of Adds).
  void UpdateCharge();

  bool complete() const { return complete_; }
  const KeyFilter& filter() const { return filter_; }

 private:
  struct Scan;
  //! Takes over a finished walk's filter; false while it runs (or after it failed).
  bool TryComplete();

  std::shared_ptr<rocksdb::Cache> cache_;
  std::string name_;
  KeyFilter filter_;
  bool complete_ = false;
  std::unique_ptr<Scan> scan_;
  void* charge_ = nullptr;  // the cache handle of the charge (rocksdb::Cache::Handle)
  size_t charged_ = 0;
};

}  // namespace sluice::state
