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
  //! Adds the keys of `families` to `keys`; `error` says why it stopped early, if it did.
  void Run(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& families);

  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> done{false};
  KeyFilter keys;
  std::string error;  // empty: the walk saw every key
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

void RocksDbKeyFilter::Scan::Run(rocksdb::DB* db,
                                 const std::vector<rocksdb::ColumnFamilyHandle*>& families) {
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
      if ((++n & 1023) == 0 && stop.load(std::memory_order_relaxed)) {
        error = "stopped";
        return;
      }
      const rocksdb::Slice key = it->key();
      keys.Add(std::string_view(key.data(), key.size()));
    }
    if (!it->status().ok()) {
      error = it->status().ToString();
      return;
    }
  }
}

namespace {

void NoopDeleter(const rocksdb::Slice&, void*) {}

}  // namespace

RocksDbKeyFilter::RocksDbKeyFilter(Memory memory, std::string name)
    : memory_(std::move(memory)), name_(std::move(name)) {}

RocksDbKeyFilter::~RocksDbKeyFilter() {
  Stop();
  ReleaseCharge();
}

void RocksDbKeyFilter::StartScan(rocksdb::DB* db,
                                 std::vector<rocksdb::ColumnFamilyHandle*> families) {
  Stop();
  if (dropped_) return;
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
    scan->Run(db, families);
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
  if (dropped_ || scan_ == nullptr || !scan_->done.load(std::memory_order_acquire)) return false;
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
  if (dropped_) return false;
  log::Get("state")->info("{}: key filter complete after {} ms ({} restored keys, {} KiB)", name_,
                          MsSince(scan->started), restored, filter_.bytes() >> 10);
  return true;
}

void RocksDbKeyFilter::ReleaseCharge() {
  if (charge_ == nullptr) return;
  memory_.cache->Release(static_cast<rocksdb::Cache::Handle*>(charge_),
                         /*erase_if_last_ref=*/true);
  memory_.total->fetch_sub(charged_);
  charge_ = nullptr;
  charged_ = 0;
}

void RocksDbKeyFilter::UpdateCharge() {
  if (memory_.cache == nullptr || dropped_ || filter_.bytes() == charged_) return;
  const size_t limit =
      static_cast<size_t>(static_cast<double>(memory_.cache->GetCapacity()) * kMaxShareOfCache);
  const size_t others = memory_.total->load() - charged_;
  if (others + filter_.bytes() > limit) {
    Drop(limit);
    return;
  }
  ReleaseCharge();
  const std::string key = absl::StrCat("sluice-key-filter-", reinterpret_cast<uintptr_t>(this));
  rocksdb::Cache::Handle* handle = nullptr;
  if (memory_.cache
          ->Insert(key, nullptr, filter_.bytes(), &NoopDeleter, &handle,
                   rocksdb::Cache::Priority::HIGH)
          .ok()) {
    charge_ = handle;
    charged_ = filter_.bytes();
    memory_.total->fetch_add(charged_);
  }
}

void RocksDbKeyFilter::Drop(size_t limit) {
  log::Get("state")->warn(
      "{}: key filter dropped: with its {} KiB the key filters of this TaskManager would take more "
      "than {} KiB, a quarter of the managed memory for RocksDB; reads of keys not in the "
      "write-back cache go to RocksDB (a larger taskmanager.memory.managed.size keeps it)",
      name_, filter_.bytes() >> 10, limit >> 10);
  Stop();
  ReleaseCharge();
  filter_ = KeyFilter();
  complete_ = false;
  dropped_ = true;
}

}  // namespace sluice::state
