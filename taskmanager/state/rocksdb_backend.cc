#include "taskmanager/state/rocksdb_backend.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/snapshot/key_groups_format.h"
#include "common/snapshot/parallel.h"
#include "taskmanager/state/rocksdb_info_log.h"
#include "taskmanager/state/rocksdb_key_filter.h"
#include "taskmanager/state/timer_service.h"
#include "taskmanager/state/ttl_compaction_filter.h"
#include "taskmanager/state/write_back_cache.h"

namespace sluice::state {
namespace fs = std::filesystem;

namespace {

// ---- Key layout and helpers ----

constexpr size_t kKeyGroupBytes = 2;
constexpr size_t kPrefixHeaderBytes = kKeyGroupBytes + 4;  // key group, key length
constexpr int kMaxKeyGroups = 1 << 15;
constexpr size_t kCopyBatchBytes = size_t{4} << 20;
const char* const kDefaultColumnFamily = "default";

void AppendKeyGroup(std::string* out, int key_group) {
  out->push_back(static_cast<char>((key_group >> 8) & 0xff));
  out->push_back(static_cast<char>(key_group & 0xff));
}

std::string KeyGroupKey(int key_group) {
  std::string out;
  AppendKeyGroup(&out, key_group);
  return out;
}

//! The first key after every key that starts with `prefix` (which is never all 0xff: a key
//! group's first byte is at most 0x80).
std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}

//! The [key group, key length, key] part of a stored key; throws when it is malformed.
std::string_view KeyPrefixOf(std::string_view stored) {
  if (stored.size() >= kPrefixHeaderBytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(stored.data()) + kKeyGroupBytes;
    const uint64_t length = uint64_t{p[0]} << 24 | uint64_t{p[1]} << 16 | p[2] << 8 | p[3];
    if (stored.size() - kPrefixHeaderBytes >= length) {
      return stored.substr(0, kPrefixHeaderBytes + length);
    }
  }
  throw std::runtime_error("rocksdb state backend: malformed stored key");
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

void ThrowIfError(const rocksdb::Status& s, absl::string_view what) {
  if (!s.ok()) throw std::runtime_error(absl::StrCat("rocksdb ", what, ": ", s.ToString()));
}

absl::Status ToStatus(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("rocksdb ", what, ": ", s.ToString()));
}

int Overlap(const proto::KeyGroupRange& a, const proto::KeyGroupRange& b) {
  return std::max(0, std::min(a.end(), b.end()) - std::max(a.start(), b.start()) + 1);
}

bool Contains(const proto::KeyGroupRange& outer, const proto::KeyGroupRange& inner) {
  return outer.start() <= inner.start() && inner.end() <= outer.end();
}

//! Whether a column family of a restored instance holds a state.
bool IsStateFamily(const std::string& family, const proto::RocksDbStateHandle& handle) {
  return family != kDefaultColumnFamily ||
         std::find(handle.state_names().begin(), handle.state_names().end(), family) !=
             handle.state_names().end();
}

absl::Status RemoveDir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot remove ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status MakeEmptyDir(const std::string& dir) {
  if (absl::Status s = RemoveDir(dir); !s.ok()) return s;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  return absl::OkStatus();
}

//! `local_dir` without trailing slashes, to name sibling folders after it.
std::string SiblingBase(const std::string& local_dir) {
  std::string base = local_dir;
  while (base.size() > 1 && base.back() == '/') base.pop_back();
  return base;
}

//! A RocksDB file name from a handle: one plain path component.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos;
}

absl::Status Annotate(const absl::Status& s, absl::string_view context) {
  return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
}

//! Appends operands to the existing value: ListState items are self-delimiting.
class ConcatMergeOperator final : public rocksdb::MergeOperator {
 public:
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    size_t size = in.existing_value != nullptr ? in.existing_value->size() : 0;
    for (const rocksdb::Slice& operand : in.operand_list) size += operand.size();
    // new_value may hold bytes from an earlier merge: always start from scratch.
    out->new_value.clear();
    out->new_value.reserve(size);
    if (in.existing_value != nullptr) {
      out->new_value.append(in.existing_value->data(), in.existing_value->size());
    }
    for (const rocksdb::Slice& operand : in.operand_list) {
      out->new_value.append(operand.data(), operand.size());
    }
    return true;
  }

  bool PartialMergeMulti(const rocksdb::Slice& /*key*/, const std::deque<rocksdb::Slice>& operands,
                         std::string* new_value, rocksdb::Logger* /*logger*/) const override {
    new_value->clear();
    for (const rocksdb::Slice& operand : operands)
      new_value->append(operand.data(), operand.size());
    return true;
  }

  const char* Name() const override { return "SluiceConcat"; }
};

}  // namespace

// ---- Upload registry ----

//! Which SST files incremental snapshots have uploaded. Reusable are only the files of the latest
//! checkpoint confirmed complete (or restored): an unconfirmed checkpoint may be discarded with
//! its files. SST files are immutable and their names never come back, so a name identifies one
//! content for the instance's lifetime.
class UploadRegistry {
 public:
  using Files = std::map<std::string, proto::StateFile>;  // by local name

  //! The uploaded copy of `local_name`, if a confirmed checkpoint holds it.
  std::optional<proto::StateFile> Reusable(const std::string& local_name) {
    absl::MutexLock lock(&mu_);
    auto it = confirmed_.find(local_name);
    if (it == confirmed_.end()) return std::nullopt;
    return it->second;
  }

  //! The SST files (uploaded or reused) of checkpoint `checkpoint_id`, once its upload is done.
  void Record(int64_t checkpoint_id, Files files) {
    absl::MutexLock lock(&mu_);
    if (checkpoint_id > confirmed_id_) pending_[checkpoint_id] = std::move(files);
  }

  void Confirm(int64_t checkpoint_id) {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(checkpoint_id);
    if (it == pending_.end()) return;
    confirmed_ = std::move(it->second);
    confirmed_id_ = checkpoint_id;
    pending_.erase(pending_.begin(), std::next(it));
  }

  //! The shared files of a restored incremental snapshot: reusable at once.
  void SetRestored(Files files) {
    absl::MutexLock lock(&mu_);
    confirmed_ = std::move(files);
  }

 private:
  absl::Mutex mu_;
  int64_t confirmed_id_ ABSL_GUARDED_BY(mu_) = -1;
  Files confirmed_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, Files> pending_ ABSL_GUARDED_BY(mu_);
};

// ---- Snapshot ----

RocksDbSnapshot::RocksDbSnapshot(int64_t checkpoint_id, std::string dir,
                                 const RocksDbBackendOptions& options,
                                 std::vector<std::string> state_names,
                                 std::shared_ptr<UploadRegistry> registry)
    : checkpoint_id_(checkpoint_id),
      dir_(std::move(dir)),
      name_(options.name),
      range_(options.range),
      incremental_(options.incremental),
      transfer_threads_(options.transfer_threads),
      state_names_(std::move(state_names)),
      registry_(std::move(registry)) {}

RocksDbSnapshot::~RocksDbSnapshot() { RemoveLocalDir(); }

void RocksDbSnapshot::RemoveLocalDir() {
  if (removed_) return;
  removed_ = true;
  if (absl::Status s = RemoveDir(dir_); !s.ok()) log::Get("state")->warn("{}", s.message());
}

absl::StatusOr<proto::KeyedStateHandle> RocksDbSnapshot::Upload(
    snapshot::SnapshotStorage& storage, const std::string& checkpoint_folder) {
  if (removed_) return absl::FailedPreconditionError("rocksdb snapshot already uploaded");
  absl::StatusOr<proto::RocksDbStateHandle> handle = UploadFiles(storage, checkpoint_folder);
  RemoveLocalDir();
  if (!handle.ok()) {
    return Annotate(handle.status(), absl::StrCat("uploading rocksdb snapshot of ", name_,
                                                  " for checkpoint ", checkpoint_id_));
  }
  proto::KeyedStateHandle out;
  *out.mutable_rocksdb() = *std::move(handle);
  return out;
}

absl::StatusOr<proto::RocksDbStateHandle> RocksDbSnapshot::UploadFiles(
    snapshot::SnapshotStorage& storage, const std::string& checkpoint_folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_regular_file(type_ec)) names.push_back(it->path().filename().string());
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list ", dir_, ": ", ec.message()));
  std::sort(names.begin(), names.end());

  proto::RocksDbStateHandle handle;
  *handle.mutable_range() = range_;
  handle.set_incremental(incremental_);
  for (const std::string& s : state_names_) handle.add_state_names(s);
  const std::string private_dir = absl::StrCat(checkpoint_folder, "/", name_);
  UploadRegistry::Files shared;
  // What is not reused from earlier checkpoints goes up in one call: S3 storage uploads several
  // files at once.
  std::vector<std::pair<std::string, std::string>> uploads;
  std::vector<proto::RocksDbFile*> targets;
  std::vector<std::string> uploaded_shared;  // to discard on failure
  for (const std::string& name : names) {
    const bool is_shared = incremental_ && absl::EndsWith(name, ".sst");
    proto::RocksDbFile* file = is_shared ? handle.add_shared_files() : handle.add_private_files();
    file->set_local_name(name);
    if (is_shared) {
      if (std::optional<proto::StateFile> reused = registry_->Reusable(name)) {
        *file->mutable_file() = *reused;
        shared[name] = *std::move(reused);
        continue;
      }
      std::string path = absl::StrCat("shared/", name_, "-", NewId(), "-", name);
      uploaded_shared.push_back(path);
      uploads.emplace_back(dir_ + "/" + name, std::move(path));
    } else {
      uploads.emplace_back(dir_ + "/" + name, absl::StrCat(private_dir, "/", name));
    }
    targets.push_back(file);
  }
  absl::StatusOr<std::vector<proto::StateFile>> stored =
      storage.UploadFiles(uploads, transfer_threads_);
  if (!stored.ok()) {
    // Best effort: nothing refers to these files.
    for (const std::string& path : uploaded_shared) (void)storage.Delete(path);
    (void)storage.Delete(private_dir);
    return stored.status();
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    *targets[i]->mutable_file() = (*stored)[i];
    if (absl::StartsWith(uploads[i].second, "shared/")) {
      shared[targets[i]->local_name()] = (*stored)[i];
    }
  }
  const size_t reused = shared.size() - uploaded_shared.size();
  log::Get("state")->debug("{}: checkpoint {}: uploaded {} file(s), reused {}", name_,
                           checkpoint_id_, names.size() - reused, reused);
  if (incremental_) registry_->Record(checkpoint_id_, std::move(shared));
  return handle;
}

// ---- Shared memory ----

struct RocksDbSharedMemory::Impl {
  std::shared_ptr<rocksdb::Cache> cache;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers;
  double write_buffer_ratio = 0.5;
  //! What the key filters of all instances charge to the cache (rocksdb_key_filter.h).
  std::shared_ptr<std::atomic<size_t>> key_filter_bytes = std::make_shared<std::atomic<size_t>>(0);
};

std::shared_ptr<RocksDbSharedMemory> RocksDbSharedMemory::Create(size_t capacity,
                                                                 double write_buffer_ratio,
                                                                 double high_prio_pool_ratio) {
  auto impl = std::make_unique<Impl>();
  rocksdb::LRUCacheOptions cache;
  cache.capacity = capacity;
  cache.high_pri_pool_ratio = high_prio_pool_ratio;
  impl->cache = rocksdb::NewLRUCache(cache);
  impl->write_buffer_ratio = write_buffer_ratio;
  impl->write_buffers = std::make_shared<rocksdb::WriteBufferManager>(
      static_cast<size_t>(static_cast<double>(capacity) * write_buffer_ratio), impl->cache);
  return std::shared_ptr<RocksDbSharedMemory>(new RocksDbSharedMemory(std::move(impl)));
}

RocksDbSharedMemory::RocksDbSharedMemory(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksDbSharedMemory::~RocksDbSharedMemory() = default;

void RocksDbSharedMemory::SetCapacity(size_t capacity) {
  impl_->cache->SetCapacity(capacity);
  impl_->write_buffers->SetBufferSize(
      static_cast<size_t>(static_cast<double>(capacity) * impl_->write_buffer_ratio));
}

size_t RocksDbSharedMemory::capacity() const { return impl_->cache->GetCapacity(); }
size_t RocksDbSharedMemory::usage() const { return impl_->cache->GetUsage(); }

// ---- Backend: opening and restoring ----

struct RocksDbKeyedBackend::Db {
  rocksdb::DBOptions db_options;
  rocksdb::ColumnFamilyOptions cf_options;
  rocksdb::WriteOptions write;
  rocksdb::ReadOptions read;
  std::unique_ptr<rocksdb::DB> db;
  //! Every open column family, by name; owned (destroyed on Close).
  std::map<std::string, rocksdb::ColumnFamilyHandle*> families;
  //! The column family of each state id.
  std::vector<rocksdb::ColumnFamilyHandle*> states;

  //! The column family of `state`; throws when closed or unknown.
  rocksdb::ColumnFamilyHandle* Family(int state) const {
    if (db == nullptr) throw std::logic_error("rocksdb state backend is closed");
    if (state < 0 || static_cast<size_t>(state) >= states.size()) {
      throw std::out_of_range(absl::StrCat("rocksdb state backend: no state ", state));
    }
    return states[state];
  }

  void Close() {
    if (db == nullptr) return;
    for (auto& [name, handle] : families) (void)db->DestroyColumnFamilyHandle(handle);
    families.clear();
    states.clear();
    if (rocksdb::Status s = db->Close(); !s.ok()) {
      log::Get("state")->warn("closing rocksdb: {}", s.ToString());
    }
    db.reset();
  }
};

namespace {

//! Options shared by every instance; `block_cache_bytes` for the table cache, `name` for its log
//! lines; with `shared`, its cache and write-buffer manager instead.
void InitOptions(size_t block_cache_bytes, const RocksDbSharedMemory::Impl* shared,
                 bool partitioned_index_filters, const std::string& name, rocksdb::DBOptions* db,
                 rocksdb::ColumnFamilyOptions* cf) {
  db->create_if_missing = true;
  db->create_missing_column_families = true;
  db->avoid_flush_during_shutdown = true;  // the folder is removed after Close
  // No LOG file in the instance folder: on a full disk it aborted the process
  // (rocksdb_info_log.h). A full disk must only fail the task.
  db->info_log = MakeRocksDbInfoLog(name);
  db->info_log_level = rocksdb::WARN_LEVEL;
  db->listeners.push_back(MakeNoAutoRecoveryListener());
  rocksdb::BlockBasedTableOptions table;
  if (shared != nullptr) {
    // Flink's bounded setup: index and filter blocks live in the cache too, the L0 ones pinned.
    table.block_cache = shared->cache;
    table.cache_index_and_filter_blocks = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
    table.pin_l0_filter_and_index_blocks_in_cache = true;
    if (partitioned_index_filters) {
      // A whole file's filter is ~1.2 MiB per million keys: a small cache evicts it, and a read of
      // a missing key then loads it again. Partitions of 4 KiB under a pinned top level instead.
      table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
      table.partition_filters = true;
      table.metadata_block_size = 4096;
      table.pin_top_level_index_and_filter = true;
    }
    db->write_buffer_manager = shared->write_buffers;
    // Memtables of a few MiB at most: flushed early and often, the manager's bound holds.
    cf->write_buffer_size = std::clamp<size_t>(shared->write_buffers->buffer_size() / 4,
                                               size_t{1} << 20, size_t{64} << 20);
  } else {
    table.block_cache = rocksdb::NewLRUCache(block_cache_bytes);
  }
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // A bloom filter of whole keys in each memtable: a read of a key the memtable lacks (the usual
  // read of a cold key) skips the search of its skip list.
  cf->memtable_whole_key_filtering = true;
  cf->memtable_prefix_bloom_size_ratio = 0.05;
  cf->table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf->merge_operator = std::make_shared<ConcatMergeOperator>();
}

//! Opens the instance in `dir` with all its column families (or only "default" when `create`).
absl::StatusOr<std::unique_ptr<rocksdb::DB>> OpenInstance(
    const rocksdb::DBOptions& db_options, const rocksdb::ColumnFamilyOptions& cf_options,
    const std::string& dir, bool create, bool read_only,
    std::map<std::string, rocksdb::ColumnFamilyHandle*>* families) {
  std::vector<std::string> names = {kDefaultColumnFamily};
  if (!create) {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
    if (!s.ok()) return ToStatus(s, absl::StrCat("listing column families in ", dir));
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) descriptors.emplace_back(name, cf_options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      read_only ? rocksdb::DB::OpenForReadOnly(db_options, dir, descriptors, &handles, &raw)
                : rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw);
  if (!s.ok()) return ToStatus(s, absl::StrCat("opening ", dir));
  for (size_t i = 0; i < names.size(); ++i) (*families)[names[i]] = handles[i];
  return std::unique_ptr<rocksdb::DB>(raw);
}

//! Closes an instance opened by OpenInstance.
void CloseInstance(std::unique_ptr<rocksdb::DB> db,
                   std::map<std::string, rocksdb::ColumnFamilyHandle*>& families) {
  for (auto& [name, handle] : families) (void)db->DestroyColumnFamilyHandle(handle);
  families.clear();
  (void)db->Close();
}

//! Downloads the files of `handle` into `dir` (verifying their size and crc32).
absl::Status Download(snapshot::SnapshotStorage& storage, const proto::RocksDbStateHandle& handle,
                      const std::string& dir, int threads) {
  std::vector<std::pair<proto::StateFile, std::string>> downloads;
  for (const auto* files : {&handle.private_files(), &handle.shared_files()}) {
    for (const proto::RocksDbFile& f : *files) {
      if (!IsPlainFileName(f.local_name())) {
        return absl::DataLossError(
            absl::StrCat("rocksdb snapshot names a bad local file '", f.local_name(), "'"));
      }
      downloads.emplace_back(f.file(), dir + "/" + f.local_name());
    }
  }
  return storage.DownloadFiles(downloads, threads);
}

//! Writes the entries in [lower, upper) of `from` (in `source`) in key order into the SST file
//! `file`; `*written` tells whether there was any.
rocksdb::Status WriteRange(rocksdb::DB& source, rocksdb::ColumnFamilyHandle* from,
                           rocksdb::ColumnFamilyHandle* to, const rocksdb::Options& options,
                           const std::string& lower, const std::string& upper,
                           const std::string& file, bool* written) {
  rocksdb::Slice upper_slice = ToSlice(upper);
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper_slice;
  read.fill_cache = false;
  read.readahead_size = size_t{2} << 20;  // a sequential scan of whole files
  std::unique_ptr<rocksdb::Iterator> it(source.NewIterator(read, from));
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, to);
  rocksdb::Status s;
  uint64_t entries = 0;
  for (it->Seek(ToSlice(lower)); s.ok() && it->Valid(); it->Next()) {
    if (entries++ == 0) s = writer.Open(file);
    if (s.ok()) s = writer.Put(it->key(), it->value());
  }
  if (s.ok()) s = it->status();
  if (s.ok() && entries > 0) s = writer.Finish();
  *written = entries > 0;
  return s;
}

//! Copies the entries of key groups [first, end) of `from` (in `source`) to `to` (in `target`):
//! written in key order into SST files, `parts` ranges of key groups on as many threads, and
//! ingested together, so that a restore from several instances costs a sequential write per key,
//! not a memtable insert. The range holds no key of `target` (key groups belong to one instance
//! each). The files are `file_prefix`-<part>.sst, in the instance's file system.
absl::Status CopyRange(rocksdb::DB& source, rocksdb::ColumnFamilyHandle* from, rocksdb::DB& target,
                       rocksdb::ColumnFamilyHandle* to, const rocksdb::Options& options, int first,
                       int end, int parts, const std::string& file_prefix) {
  parts = std::clamp(parts, 1, std::max(1, end - first));
  // The file of each part that had entries (the writer creates it at the first one); empty if none.
  std::vector<std::string> files(static_cast<size_t>(parts));
  absl::Status s = snapshot::ForEachParallel(files.size(), parts, [&](size_t i) {
    const int part = static_cast<int>(i);
    const int lower = first + (end - first) * part / parts;
    const int upper = first + (end - first) * (part + 1) / parts;
    const std::string file = absl::StrCat(file_prefix, "-", part, ".sst");
    bool any = false;
    rocksdb::Status w =
        WriteRange(source, from, to, options, KeyGroupKey(lower), KeyGroupKey(upper), file, &any);
    if (any) files[i] = file;
    return ToStatus(w, absl::StrCat("copying column family ", from->GetName()));
  });
  std::vector<std::string> ingest_files;
  for (const std::string& f : files) {
    if (!f.empty()) ingest_files.push_back(f);
  }
  if (s.ok() && !ingest_files.empty()) {
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;  // a hard link: the files are ours
    s = ToStatus(target.IngestExternalFile(to, ingest_files, ingest),
                 absl::StrCat("ingesting column family ", from->GetName()));
  }
  std::error_code ec;
  for (const std::string& f : ingest_files) std::filesystem::remove(f, ec);  // left by a failure
  return s;
}

absl::Status CheckOptions(const RocksDbBackendOptions& o) {
  if (o.local_dir.empty()) return absl::InvalidArgumentError("rocksdb backend: no local_dir");
  if (!snapshot::IsSafeRelativePath(o.name) || o.name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("rocksdb backend: name '", o.name, "' is not a plain file name"));
  }
  if (o.max_parallelism < 1 || o.max_parallelism > kMaxKeyGroups) {
    return absl::InvalidArgumentError(absl::StrCat("rocksdb backend: max_parallelism ",
                                                   o.max_parallelism, " not in [1, ", kMaxKeyGroups,
                                                   "]"));
  }
  if (o.range.start() < 0 || o.range.end() < o.range.start() ||
      o.range.end() >= o.max_parallelism) {
    return absl::InvalidArgumentError(absl::StrCat("rocksdb backend: key group range [",
                                                   o.range.start(), ", ", o.range.end(),
                                                   "] not within [0, ", o.max_parallelism, ")"));
  }
  return absl::OkStatus();
}

proto::KeyGroupRange RangeOf(const proto::KeyedStateHandle& handle) {
  return handle.has_rocksdb() ? handle.rocksdb().range() : handle.key_groups().range();
}

//! A dirty entry of the write-back cache as a put (a value) or a delete (absent); a value's key
//! goes into the key filter (if any).
void AddToBatch(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* cf,
                RocksDbKeyFilter* filter, std::string_view stored, const WriteBackCache::Entry& e) {
  if (filter != nullptr && e.present) filter->Add(stored);
  ThrowIfError(e.present ? batch.Put(cf, ToSlice(stored), ToSlice(e.value))
                         : batch.Delete(cf, ToSlice(stored)),
               "flushing the write-back cache");
}

}  // namespace

RocksDbKeyedBackend::RocksDbKeyedBackend(RocksDbBackendOptions options)
    : options_(std::move(options)),
      db_(std::make_unique<Db>()),
      registry_(std::make_shared<UploadRegistry>()) {
  InitOptions(options_.block_cache_bytes,
              options_.shared_memory ? options_.shared_memory->impl_.get() : nullptr,
              options_.partitioned_index_filters, options_.name, &db_->db_options,
              &db_->cf_options);
  ttl_filters_ = std::make_shared<TtlCompactionFilters>([] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  });
  db_->cf_options.compaction_filter_factory = ttl_filters_->Factory();
  db_->write.disableWAL = true;  // checkpoints give durability
  if (options_.write_cache_bytes > 0) {
    cache_ = std::make_unique<WriteBackCache>(options_.write_cache_bytes);
  }
  if (options_.key_filter) {
    RocksDbKeyFilter::Memory memory;
    if (options_.shared_memory) {
      memory.cache = options_.shared_memory->impl_->cache;
      memory.total = options_.shared_memory->impl_->key_filter_bytes;
    }
    key_filter_ = std::make_unique<RocksDbKeyFilter>(std::move(memory), options_.name);
  }
}

RocksDbKeyedBackend::~RocksDbKeyedBackend() { Close(); }

absl::StatusOr<std::unique_ptr<RocksDbKeyedBackend>> RocksDbKeyedBackend::Open(
    RocksDbBackendOptions options, snapshot::SnapshotStorage* restore_storage,
    const std::vector<proto::KeyedStateHandle>& restore) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  std::unique_ptr<RocksDbKeyedBackend> backend(new RocksDbKeyedBackend(std::move(options)));
  const std::string& dir = backend->options_.local_dir;
  if (absl::Status s = MakeEmptyDir(dir); !s.ok()) return s;
  if (absl::Status s = backend->Restore(restore_storage, restore); !s.ok()) {
    backend->Close();
    return Annotate(s, absl::StrCat("opening rocksdb state of ", backend->options_.name));
  }
  return backend;
}

absl::Status RocksDbKeyedBackend::Restore(snapshot::SnapshotStorage* storage,
                                          const std::vector<proto::KeyedStateHandle>& handles) {
  // The RocksDB snapshot overlapping our range most becomes the base; the rest is copied in.
  const proto::KeyedStateHandle* base = nullptr;
  std::vector<const proto::KeyedStateHandle*> rest;
  for (const proto::KeyedStateHandle& h : handles) {
    if (!h.has_rocksdb() && !h.has_key_groups()) {
      return absl::InvalidArgumentError("restore: keyed state handle of unknown kind");
    }
    const int overlap = Overlap(RangeOf(h), options_.range);
    if (overlap == 0) continue;
    if (h.has_rocksdb() && (base == nullptr || overlap > Overlap(RangeOf(*base), options_.range))) {
      if (base != nullptr) rest.push_back(base);
      base = &h;
    } else {
      rest.push_back(&h);
    }
  }
  if (base == nullptr && rest.empty()) {
    if (key_filter_) key_filter_->StartComplete();
    return OpenDb(/*create=*/true);
  }
  if (storage == nullptr) {
    return absl::InvalidArgumentError("restore: state handles but no snapshot storage");
  }
  const auto started = std::chrono::steady_clock::now();
  absl::Status s = base != nullptr ? RestoreBase(*storage, base->rocksdb()) : OpenDb(true);
  const int64_t base_ms = MsSince(started);
  const std::string temp_dir = SiblingBase(options_.local_dir) + "-restore";
  for (const proto::KeyedStateHandle* h : rest) {
    if (!s.ok()) break;
    s = h->has_rocksdb() ? CopyFromInstance(*storage, h->rocksdb(), temp_dir)
                         : InsertKeyGroups(*storage, h->key_groups());
  }
  if (!s.ok()) return s;
  const int64_t copy_ms = MsSince(started) - base_ms;
  // Exactly our previous instance: its shared SST files are reusable by the next checkpoint. (A
  // key-groups handle beside it holds the operator's timers, not inserted here.)
  const auto rocksdb_handles =
      std::count_if(handles.begin(), handles.end(), [](const auto& h) { return h.has_rocksdb(); });
  if (base != nullptr && rocksdb_handles == 1 && options_.incremental &&
      options_.restored_files_in_checkpoint_storage && base->rocksdb().incremental() &&
      Contains(base->rocksdb().range(), options_.range) &&
      Contains(options_.range, base->rocksdb().range())) {
    UploadRegistry::Files files;
    for (const proto::RocksDbFile& f : base->rocksdb().shared_files()) {
      files[f.local_name()] = f.file();
    }
    registry_->SetRestored(std::move(files));
  }
  if (key_filter_) {
    std::vector<rocksdb::ColumnFamilyHandle*> families;
    for (const auto& [name, cf] : db_->families) families.push_back(cf);
    key_filter_->StartScan(db_->db.get(), std::move(families));
  }
  log::Get("state")->info(
      "{}: restored keyed state [{}, {}] from {} handle(s): base instance {} ms (download, open, "
      "clip), {} other(s) copied in {} ms",
      options_.name, options_.range.start(), options_.range.end(), handles.size(), base_ms,
      rest.size(), copy_ms);
  return absl::OkStatus();
}

absl::Status RocksDbKeyedBackend::RestoreBase(snapshot::SnapshotStorage& storage,
                                              const proto::RocksDbStateHandle& handle) {
  if (absl::Status s = Download(storage, handle, options_.local_dir, options_.transfer_threads);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = OpenDb(/*create=*/false); !s.ok()) return s;
  for (const auto& [family, cf] : db_->families) {
    if (!IsStateFamily(family, handle)) continue;
    if (absl::StatusOr<int> id = AddState(family); !id.ok()) return id.status();
  }
  return Contains(options_.range, handle.range()) ? absl::OkStatus() : ClipToRange();
}

absl::Status RocksDbKeyedBackend::OpenDb(bool create) {
  absl::StatusOr<std::unique_ptr<rocksdb::DB>> db =
      OpenInstance(db_->db_options, db_->cf_options, options_.local_dir, create,
                   /*read_only=*/false, &db_->families);
  if (!db.ok()) return db.status();
  db_->db = *std::move(db);
  return absl::OkStatus();
}

absl::Status RocksDbKeyedBackend::ClipToRange() {
  const std::string zero = KeyGroupKey(0);
  const std::string first = KeyGroupKey(options_.range.start());
  const std::string after = KeyGroupKey(options_.range.end() + 1);
  const std::string end = "\xff";  // after every key: a key group's first byte is at most 0x80
  for (const auto& [family, cf] : db_->families) {
    rocksdb::Status s;
    if (options_.range.start() > 0) {
      s = db_->db->DeleteRange(db_->write, cf, ToSlice(zero), ToSlice(first));
    }
    if (s.ok()) s = db_->db->DeleteRange(db_->write, cf, ToSlice(after), ToSlice(end));
    if (!s.ok()) return ToStatus(s, "deleting key groups outside the range");
  }
  return absl::OkStatus();
}

absl::Status RocksDbKeyedBackend::CopyFromInstance(snapshot::SnapshotStorage& storage,
                                                   const proto::RocksDbStateHandle& handle,
                                                   const std::string& dir) {
  absl::Status s = MakeEmptyDir(dir);
  if (s.ok()) s = Download(storage, handle, dir, options_.transfer_threads);
  std::map<std::string, rocksdb::ColumnFamilyHandle*> families;
  absl::StatusOr<std::unique_ptr<rocksdb::DB>> source =
      s.ok() ? OpenInstance(db_->db_options, db_->cf_options, dir, /*create=*/false,
                            /*read_only=*/true, &families)
             : absl::StatusOr<std::unique_ptr<rocksdb::DB>>(s);
  if (source.ok()) {
    const int first = std::max(handle.range().start(), options_.range.start());
    const int end = std::min(handle.range().end(), options_.range.end()) + 1;
    // As many parts as the machine runs threads at once, within the transfer threads.
    const int parts = std::min(options_.transfer_threads,
                               std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
    for (const auto& [family, cf] : families) {
      if (!s.ok()) break;
      if (!IsStateFamily(family, handle)) continue;
      absl::StatusOr<int> id = AddState(family);
      s = id.ok() ? CopyRange(**source, cf, *db_->db, db_->states[*id],
                              rocksdb::Options(db_->db_options, db_->cf_options), first, end, parts,
                              absl::StrCat(dir, "-ingest-", *id))
                  : id.status();
    }
    CloseInstance(*std::move(source), families);
  } else {
    s = source.status();
  }
  absl::Status removed = RemoveDir(dir);
  return s.ok() ? removed : s;
}

absl::Status RocksDbKeyedBackend::InsertKeyGroups(snapshot::SnapshotStorage& storage,
                                                  const proto::KeyGroupsStateHandle& handle) {
  proto::KeyGroupsStateHandle part;
  absl::StatusOr<std::string> bytes =
      snapshot::ReadKeyGroups(storage, handle, options_.range, &part);
  if (!bytes.ok()) return Annotate(bytes.status(), absl::StrCat("reading ", handle.file().path()));
  return InsertKeyGroups(*bytes, part);
}

absl::Status RocksDbKeyedBackend::InsertKeyGroups(std::string_view file_bytes,
                                                  const proto::KeyGroupsStateHandle& handle) {
  // Restored entries go to RocksDB directly: the cache must not hide them.
  if (absl::Status s = FlushCacheStatus(/*clear=*/true); !s.ok()) return s;
  rocksdb::WriteBatch batch;
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> families;
  std::string key;
  absl::Status failed;
  absl::Status s =
      snapshot::ForEachEntry(file_bytes, handle, options_.range,
                             [&](int key_group, const std::string& state, std::string_view k,
                                 std::string_view user_key, std::string_view value) {
                               if (!failed.ok()) return;
                               // Timers are the host's, restored by TaskState (timer_service.h).
                               if (state.rfind(kTimerStatePrefix, 0) == 0) return;
                               auto [it, added] = families.try_emplace(state, nullptr);
                               if (added) {
                                 absl::StatusOr<int> id = AddState(state);
                                 if (!id.ok()) {
                                   failed = id.status();
                                   return;
                                 }
                                 it->second = db_->states[*id];
                               }
                               EncodeKey(key_group, k, user_key, &key);
                               if (key_filter_) key_filter_->Add(key);
                               rocksdb::Status put = batch.Put(it->second, key, ToSlice(value));
                               if (put.ok() && batch.GetDataSize() >= kCopyBatchBytes) {
                                 put = db_->db->Write(db_->write, &batch);
                                 batch.Clear();
                               }
                               if (!put.ok()) failed = ToStatus(put, "inserting restored state");
                             });
  if (s.ok()) s = failed;
  if (s.ok()) s = ToStatus(db_->db->Write(db_->write, &batch), "inserting restored state");
  return s;
}

absl::StatusOr<int> RocksDbKeyedBackend::AddState(const std::string& name) {
  auto known = std::find(state_names_.begin(), state_names_.end(), name);
  if (known != state_names_.end()) return static_cast<int>(known - state_names_.begin());
  rocksdb::ColumnFamilyHandle*& cf = db_->families[name];
  if (cf == nullptr) {
    rocksdb::Status s = db_->db->CreateColumnFamily(db_->cf_options, name, &cf);
    if (!s.ok()) {
      db_->families.erase(name);
      return ToStatus(s, absl::StrCat("creating column family ", name));
    }
  }
  state_names_.push_back(name);
  db_->states.push_back(cf);
  return static_cast<int>(state_names_.size() - 1);
}

// ---- Backend: data path ----

void RocksDbKeyedBackend::SetTimeToLive(int state, int64_t ttl_ms, int64_t query_time_after_entries,
                                        size_t (*element_size)(const uint8_t*, size_t)) {
  ttl_filters_->Set(db_->Family(state)->GetID(),
                    TtlCompactionFilters::Settings{ttl_ms, query_time_after_entries, element_size});
}

void RocksDbKeyedBackend::CompactAll() {
  FlushCache(/*clear=*/true);  // what the cache holds would hide what the compaction dropped
  for (rocksdb::ColumnFamilyHandle* cf : db_->states) {
    rocksdb::Status s = db_->db->Flush(rocksdb::FlushOptions(), cf);
    if (s.ok()) s = db_->db->CompactRange(rocksdb::CompactRangeOptions(), cf, nullptr, nullptr);
    if (!s.ok()) throw std::runtime_error("rocksdb compaction: " + s.ToString());
  }
}

int RocksDbKeyedBackend::RegisterState(const std::string& name) {
  if (db_->db == nullptr) throw std::logic_error("rocksdb state backend is closed");
  absl::StatusOr<int> id = AddState(name);
  if (!id.ok()) throw std::runtime_error(std::string(id.status().message()));
  return *id;
}

void RocksDbKeyedBackend::SetCurrentKey(const uint8_t* key, size_t size, int key_group) {
  if (key_group < options_.range.start() || key_group > options_.range.end()) {
    throw std::out_of_range(absl::StrCat("key group ", key_group, " is not in [",
                                         options_.range.start(), ", ", options_.range.end(),
                                         "] of ", options_.name));
  }
  EncodeKey(key_group, std::string_view(reinterpret_cast<const char*>(key), size), {}, &key_buf_);
  prefix_size_ = key_buf_.size();
  if (cache_) cache_->SetCurrentKey(key_buf_);
}

// With the write-back cache: a read that misses goes to RocksDB and its answer (a value, or
// none) is kept; writes change the cached entry and mark it dirty. An Append to an entry that is
// not cached goes to RocksDB as a merge, without a read. Scans of the current key's entries first
// write that key's dirty entries of the state; a scan of all keys, and a snapshot, all of them.

bool RocksDbKeyedBackend::Get(int state, std::string_view user_key, std::string* value) {
  rocksdb::ColumnFamilyHandle* cf = db_->Family(state);
  if (cache_) {
    if (WriteBackCache::Entry* e = cache_->Find(state, user_key)) {
      if (!e->present) return false;
      value->assign(e->value);
      return true;
    }
  }
  const std::string& stored = KeyOf(user_key);
  bool found = false;
  if (key_filter_ == nullptr || key_filter_->MayContain(stored)) {
    rocksdb::Status s = db_->db->Get(db_->read, cf, stored, value);
    if (!s.IsNotFound()) ThrowIfError(s, "get");
    found = !s.IsNotFound();
  }
  if (cache_) {
    WriteBackCache::Entry& e = cache_->Insert(state, user_key);
    if (found) {
      e.value.assign(*value);
      cache_->Resize(0, e.value.size());
    }
    e.present = found;
    EvictIfFull();
  }
  return found;
}

void RocksDbKeyedBackend::Put(int state, std::string_view user_key, std::string_view value) {
  rocksdb::ColumnFamilyHandle* cf = db_->Family(state);
  if (cache_) {
    WriteBackCache::Entry& e = cache_->Insert(state, user_key);
    const size_t before = e.value.size();
    e.value.assign(value);
    cache_->Resize(before, e.value.size());
    e.present = true;
    e.dirty = true;
    EvictIfFull();
    return;
  }
  const std::string& stored = KeyOf(user_key);
  if (key_filter_) key_filter_->Add(stored);
  ThrowIfError(db_->db->Put(db_->write, cf, stored, ToSlice(value)), "put");
}

void RocksDbKeyedBackend::Append(int state, std::string_view user_key, std::string_view bytes) {
  rocksdb::ColumnFamilyHandle* cf = db_->Family(state);
  if (cache_) {
    if (WriteBackCache::Entry* e = cache_->Find(state, user_key)) {
      const size_t before = e->value.size();
      if (!e->present) e->value.clear();
      e->value.append(bytes);
      cache_->Resize(before, e->value.size());
      e->present = true;
      e->dirty = true;
      EvictIfFull();
      return;
    }
  }
  const std::string& stored = KeyOf(user_key);
  if (key_filter_) key_filter_->Add(stored);
  ThrowIfError(db_->db->Merge(db_->write, cf, stored, ToSlice(bytes)), "merge");
}

void RocksDbKeyedBackend::Delete(int state, std::string_view user_key) {
  rocksdb::ColumnFamilyHandle* cf = db_->Family(state);
  if (cache_) {
    WriteBackCache::Entry& e = cache_->Insert(state, user_key);
    cache_->Resize(e.value.size(), 0);
    e.value.clear();
    e.present = false;
    e.dirty = true;
    EvictIfFull();
    return;
  }
  ThrowIfError(db_->db->Delete(db_->write, cf, KeyOf(user_key)), "delete");
}

void RocksDbKeyedBackend::FlushCache(bool clear) {
  if (!cache_) return;
  rocksdb::WriteBatch batch;
  cache_->VisitDirty([&](int state, std::string_view stored, const WriteBackCache::Entry& e) {
    AddToBatch(batch, db_->Family(state), key_filter_.get(), stored, e);
  });
  if (batch.Count() > 0) ThrowIfError(db_->db->Write(db_->write, &batch), "flushing the cache");
  cache_->MarkClean();  // only now: a failed write keeps them dirty
  if (clear) cache_->Clear();
}

absl::Status RocksDbKeyedBackend::FlushCacheStatus(bool clear) {
  try {
    FlushCache(clear);
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
  return absl::OkStatus();
}

void RocksDbKeyedBackend::EvictIfFull() {
  if (cache_->full()) FlushCache(/*clear=*/true);
}

void RocksDbKeyedBackend::DeleteAll(int state) {
  // The cached entries go (dirty ones never reach RocksDB), then RocksDB's.
  if (cache_) cache_->EraseCurrent(state);
  rocksdb::WriteBatch batch;
  rocksdb::ColumnFamilyHandle* cf = db_->Family(state);
  ScanCurrentKey(state, [&](std::string_view stored, std::string_view /*value*/) {
    ThrowIfError(batch.Delete(cf, ToSlice(stored)), "delete");
  });
  if (batch.Count() > 0) ThrowIfError(db_->db->Write(db_->write, &batch), "delete all");
}

void RocksDbKeyedBackend::ForEachUserKey(
    int state, const std::function<void(std::string_view user_key, std::string_view value)>& fn) {
  const size_t prefix_size = prefix_size_;
  ScanCurrentKey(state, [&](std::string_view stored, std::string_view value) {
    fn(stored.substr(prefix_size), value);
  });
}

void RocksDbKeyedBackend::ForEachKey(int state,
                                     const std::function<void(std::string_view key)>& fn) {
  FlushCache();
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(db_->read, db_->Family(state)));
  std::string previous;  // the [key group, length, key] prefix last reported
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view prefix = KeyPrefixOf(ToView(it->key()));
    if (!previous.empty() && prefix == previous) continue;
    previous.assign(prefix);
    fn(std::string_view(previous).substr(kPrefixHeaderBytes));
  }
  ThrowIfError(it->status(), "iterating keys");
}

void RocksDbKeyedBackend::ScanCurrentKey(
    int state, const std::function<void(std::string_view stored, std::string_view value)>& fn) {
  rocksdb::ColumnFamilyHandle* cf = db_->Family(state);
  if (prefix_size_ == 0) throw std::logic_error("rocksdb state backend: no current key");
  if (cache_) {
    rocksdb::WriteBatch batch;
    cache_->VisitDirtyOfCurrent(state,
                                [&](int, std::string_view stored, const WriteBackCache::Entry& e) {
                                  AddToBatch(batch, cf, key_filter_.get(), stored, e);
                                });
    if (batch.Count() > 0) ThrowIfError(db_->db->Write(db_->write, &batch), "flushing the cache");
    cache_->MarkCleanOfCurrent(state);
  }
  // Copies: `fn` may set another current key.
  const std::string prefix = key_buf_.substr(0, prefix_size_);
  const std::string upper = PrefixSuccessor(prefix);
  rocksdb::Slice upper_slice = ToSlice(upper);
  rocksdb::ReadOptions read = db_->read;
  read.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->db->NewIterator(read, cf));
  for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
    fn(ToView(it->key()), ToView(it->value()));
  }
  ThrowIfError(it->status(), "iterating entries");
}

void RocksDbKeyedBackend::EncodeKey(int key_group, std::string_view key, std::string_view user_key,
                                    std::string* out) {
  if (key.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::length_error("rocksdb state backend: key exceeds 4 GiB");
  }
  const auto length = static_cast<uint32_t>(key.size());
  out->clear();
  AppendKeyGroup(out, key_group);
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(length >> shift));
  out->append(key);
  out->append(user_key);
}

const std::string& RocksDbKeyedBackend::KeyOf(std::string_view user_key) {
  if (prefix_size_ == 0) throw std::logic_error("rocksdb state backend: no current key");
  key_buf_.resize(prefix_size_);
  key_buf_.append(user_key);
  return key_buf_;
}

// ---- Backend: snapshots and lifecycle ----

absl::StatusOr<std::unique_ptr<RocksDbSnapshot>> RocksDbKeyedBackend::SnapshotSync(
    int64_t checkpoint_id) {
  if (db_->db == nullptr) return absl::FailedPreconditionError("rocksdb state backend is closed");
  const std::string dir = absl::StrCat(SiblingBase(options_.local_dir), "-chk-", checkpoint_id);
  if (absl::Status s = RemoveDir(dir); !s.ok()) return s;  // left over from a crash
  // What the write-back cache holds dirty goes to RocksDB first: the snapshot has all of it.
  if (absl::Status s = FlushCacheStatus(/*clear=*/false); !s.ok()) return s;
  // The WAL is off: flush so that the checkpoint's SST files hold everything.
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  for (const auto& [name, cf] : db_->families) all.push_back(cf);
  rocksdb::FlushOptions flush;
  flush.wait = true;
  rocksdb::Status s = db_->db->Flush(flush, all);
  if (!s.ok()) return ToStatus(s, "flushing for a snapshot");
  rocksdb::Checkpoint* raw = nullptr;
  s = rocksdb::Checkpoint::Create(db_->db.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // Already flushed: no second flush (a maximal log size never triggers one).
  if (s.ok()) s = checkpoint->CreateCheckpoint(dir, std::numeric_limits<uint64_t>::max());
  if (!s.ok()) {
    (void)RemoveDir(dir);
    return ToStatus(s, absl::StrCat("creating checkpoint ", dir));
  }
  return std::unique_ptr<RocksDbSnapshot>(
      new RocksDbSnapshot(checkpoint_id, dir, options_, state_names_, registry_));
}

void RocksDbKeyedBackend::NotifyCheckpointComplete(int64_t checkpoint_id) {
  registry_->Confirm(checkpoint_id);
}

void RocksDbKeyedBackend::Close() {
  if (closed_) return;
  closed_ = true;
  cache_.reset();                        // nothing of it is kept: the working folder goes too
  if (key_filter_) key_filter_->Stop();  // its walk reads the instance
  db_->Close();
  if (absl::Status s = RemoveDir(options_.local_dir); !s.ok()) {
    log::Get("state")->warn("{}", s.message());
  }
}

}  // namespace sluice::state
