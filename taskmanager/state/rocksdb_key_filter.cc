#include "taskmanager/state/rocksdb_key_filter.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"

namespace sluice::state {

struct RocksDbKeyFilter::Scan {
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  KeyFilter keys;
  std::string error;  // empty: the walk saw every key
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

namespace {

void NoopDeleter(const rocksdb::Slice&, void*) {}

void Walk(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& families,
          std::atomic<bool>* stop, KeyFilter* keys, std::string* error) {
  // Idle time first: the records of the task come before this.
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  // Each iterator reads the column family as of its creation (no snapshot: releasing one makes
  // RocksDB rewrite the restored bottommost files, which an incremental checkpoint would then
  // upload again). Keys written later are added by the task.
  rocksdb::ReadOptions read;
  read.fill_cache = false;
  for (rocksdb::ColumnFamilyHandle* cf : families) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read, cf));
    size_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if ((++n & 1023) == 0 && stop->load(std::memory_order_relaxed)) {
        *error = "stopped";
        break;
      }
      const rocksdb::Slice key = it->key();
      keys->Add(std::string_view(key.data(), key.size()));
    }
    if (error->empty() && !it->status().ok()) *error = it->status().ToString();
    if (!error->empty()) break;
  }
}

}  // namespace

RocksDbKeyFilter::RocksDbKeyFilter(std::shared_ptr<rocksdb::Cache> cache, std::string name)
    : cache_(std::move(cache)), name_(std::move(name)) {}

RocksDbKeyFilter::~RocksDbKeyFilter() {
  Stop();
  if (charge_ != nullptr) {
    cache_->Release(static_cast<rocksdb::Cache::Handle*>(charge_), /*erase_if_last_ref=*/true);
  }
}

void RocksDbKeyFilter::StartScan(rocksdb::DB* db,
                                 std::vector<rocksdb::ColumnFamilyHandle*> families) {
  Stop();
  complete_ = false;
  uint64_t estimate = 0;
  for (rocksdb::ColumnFamilyHandle* cf : families) {
    uint64_t n = 0;
    if (db->GetIntProperty(cf, "rocksdb.estimate-num-keys", &n)) estimate += n;
  }
  scan_ = std::make_unique<Scan>();
  // One filter for the restored keys, sized from RocksDB's estimate (which may be off either way).
  scan_->keys = KeyFilter(estimate + estimate / 4);
  Scan* scan = scan_.get();
  scan->thread = std::thread([db, families = std::move(families), scan] {
    Walk(db, families, &scan->stop, &scan->keys, &scan->error);
    scan->done.store(true, std::memory_order_release);
  });
}

void RocksDbKeyFilter::Stop() {
  if (scan_ == nullptr) return;
  scan_->stop.store(true, std::memory_order_relaxed);
  if (scan_->thread.joinable()) scan_->thread.join();
  scan_.reset();
}

bool RocksDbKeyFilter::TryComplete() {
  if (scan_ == nullptr || !scan_->done.load(std::memory_order_acquire)) return false;
  scan_->thread.join();
  std::unique_ptr<Scan> scan = std::move(scan_);
  if (!scan->error.empty()) {
    log::Get("state")->warn(
        "{}: the walk over the restored keys for the key filter failed ({}); "
        "every read of a key not in the write-back cache goes to RocksDB",
        name_, scan->error);
    return false;
  }
  const size_t restored = scan->keys.keys();
  filter_.Absorb(std::move(scan->keys));
  complete_ = true;
  UpdateCharge();
  log::Get("state")->info("{}: key filter complete after {} ms ({} restored keys, {} KiB)", name_,
                          MsSince(scan->started), restored, filter_.bytes() >> 10);
  return true;
}

void RocksDbKeyFilter::UpdateCharge() {
  if (cache_ == nullptr || filter_.bytes() == charged_) return;
  if (charge_ != nullptr) {
    cache_->Release(static_cast<rocksdb::Cache::Handle*>(charge_), /*erase_if_last_ref=*/true);
    charge_ = nullptr;
    charged_ = 0;
  }
  const std::string key = absl::StrCat("sluice-key-filter-", reinterpret_cast<uintptr_t>(this));
  rocksdb::Cache::Handle* handle = nullptr;
  if (cache_
          ->Insert(key, nullptr, filter_.bytes(), &NoopDeleter, &handle,
                   rocksdb::Cache::Priority::HIGH)
          .ok()) {
    charge_ = handle;
    charged_ = filter_.bytes();
  }
}

}  // namespace sluice::state
