// RocksDbKeyedBackend: the host's keyed state backend for state.backend.type: rocksdb
// (docs/checkpointing.md, "Keyed state"). One RocksDB instance per keyed operator per subtask, in
// its own local working folder; one column family per state. A key is
//   u16 key group | u32 key length | key | user key        (big endian)
// so that a key group's entries are contiguous (ranges are clipped with DeleteRange) and a key's
// MapState entries come out in user-key byte order. Values are bytes; Append concatenates through
// a merge operator.
//
// Snapshots are taken in two parts, as Flink's RocksIncrementalSnapshotStrategy: SnapshotSync (task
// thread, short) flushes the memtables and hard-links a RocksDB checkpoint next to the working
// folder; RocksDbSnapshot::Upload (an I/O thread) copies its files to snapshot storage and builds
// the RocksDbStateHandle. Incremental snapshots upload each SST file once to "shared/" and refer to
// it from later checkpoints once the checkpoint that uploaded it is confirmed complete.
//
// Ownership and threads: the task owns the backend and calls everything but Upload on its thread.
// A RocksDbSnapshot is owned by whoever uploads it; it shares only the upload registry (mutex
// guarded) with the backend and outlives it safely. RocksDB headers stay in the .cc file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/snapshot/storage.h"
#include "sluice/runtime.h"
#include "sluice_proto/checkpoint.pb.h"

namespace sluice::state {

class TtlCompactionFilters;

//! The RocksDB memory of all state backends of a TaskManager (or of a job process), as Flink's
//! managed memory for RocksDB (state.backend.rocksdb.memory.managed): one LRU block cache of
//! `capacity` bytes that also holds index and filter blocks, and one write-buffer manager that
//! charges every instance's memtables to that cache (`write_buffer_ratio` of it at most). The
//! instances together then stay near `capacity`, however many there are. Thread-safe.
class RocksDbSharedMemory {
 public:
  static std::shared_ptr<RocksDbSharedMemory> Create(size_t capacity, double write_buffer_ratio,
                                                     double high_prio_pool_ratio);
  ~RocksDbSharedMemory();
  //! Changes the bound (a job process's share grows with the slots its job holds).
  void SetCapacity(size_t capacity);
  size_t capacity() const;
  //! Bytes in the cache now: blocks, and the memtables charged to it.
  size_t usage() const;

  struct Impl;  // the RocksDB objects (rocksdb_backend.cc)

 private:
  friend class RocksDbKeyedBackend;
  explicit RocksDbSharedMemory(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct RocksDbBackendOptions {
  //! The instance's working folder; wiped on Open, removed on Close. Required.
  std::string local_dir;
  //! The key groups of this subtask, within [0, max_parallelism). Required.
  proto::KeyGroupRange range;
  //! The operator's max parallelism (number of key groups), in [1, 32768]. Default 128.
  int max_parallelism = 128;
  //! Incremental snapshots (SST files shared between checkpoints). Default false.
  bool incremental = false;
  //! Names the uploaded files, e.g. "<uid>-<subtask>"; a safe path component. Required.
  std::string name;
  //! Whether the restored snapshot's shared files live in the storage this instance's checkpoints
  //! go to (a restart from the job's own checkpoint), so that incremental checkpoints may refer to
  //! them. False for a savepoint or another job's checkpoint: their files are uploaded anew.
  bool restored_files_in_checkpoint_storage = false;
  //! Size of the instance's block cache. Default 32 MiB. Unused with `shared_memory`.
  size_t block_cache_bytes = size_t{32} << 20;
  //! The TaskManager's RocksDB memory, shared with its other instances; null: the instance has
  //! a block cache of its own (`block_cache_bytes`) and unbounded memtables.
  std::shared_ptr<RocksDbSharedMemory> shared_memory;
  //! Size of the write-back cache of hot entries in front of RocksDB (write_back_cache.h); 0: none,
  //! every access goes to RocksDB. Default 8 MiB.
  size_t write_cache_bytes = size_t{8} << 20;
  //! Files uploaded at once by a snapshot and downloaded at once by a restore
  //! (state.backend.rocksdb.checkpoint.transfer.thread.num).
  int transfer_threads = 4;
  //! With `shared_memory`: partitioned index and filter blocks (a two-level index), so that the
  //! shared cache holds the 4 KiB parts a read needs, not whole filters
  //! (state.backend.rocksdb.memory.partitioned-index-filters).
  bool partitioned_index_filters = true;
  //! An in-memory filter of the keys the instance holds, so that a read of an absent key does not
  //! go to RocksDB (rocksdb_key_filter.h; state.backend.rocksdb.key-filter). Default true.
  bool key_filter = true;
};

class WriteBackCache;
class RocksDbKeyFilter;

//! SST files uploaded to "shared/" by incremental snapshots, by local file name. Internal; shared
//! by a backend and its snapshots, thread-safe.
class UploadRegistry;

//! The synchronous part of a snapshot: a RocksDB checkpoint (hard links) in a local folder beside
//! the working folder. Upload once on any thread; the folder is removed by Upload or, if Upload
//! never runs, by the destructor.
class RocksDbSnapshot {
 public:
  RocksDbSnapshot(const RocksDbSnapshot&) = delete;
  RocksDbSnapshot& operator=(const RocksDbSnapshot&) = delete;
  ~RocksDbSnapshot();

  //! Copies the checkpoint's files to `storage`: private files to
  //! "<checkpoint_folder>/<name>/<file>", new SST files of an incremental snapshot to
  //! "shared/<name>-<id>-<file>". Returns the handle to acknowledge. Removes the local folder.
  absl::StatusOr<proto::KeyedStateHandle> Upload(snapshot::SnapshotStorage& storage,
                                                 const std::string& checkpoint_folder);

  int64_t checkpoint_id() const { return checkpoint_id_; }
  //! The local checkpoint folder (gone after Upload).
  const std::string& local_dir() const { return dir_; }

 private:
  friend class RocksDbKeyedBackend;
  RocksDbSnapshot(int64_t checkpoint_id, std::string dir, const RocksDbBackendOptions& options,
                  std::vector<std::string> state_names, std::shared_ptr<UploadRegistry> registry);
  absl::StatusOr<proto::RocksDbStateHandle> UploadFiles(snapshot::SnapshotStorage& storage,
                                                        const std::string& checkpoint_folder);
  void RemoveLocalDir();

  int64_t checkpoint_id_;
  std::string dir_;
  std::string name_;
  proto::KeyGroupRange range_;
  bool incremental_;
  int transfer_threads_;
  std::vector<std::string> state_names_;
  std::shared_ptr<UploadRegistry> registry_;
  bool removed_ = false;
};

//! Keyed state in a RocksDB instance. Data-path methods throw std::runtime_error when RocksDB
//! fails (the task fails and restarts from the last checkpoint). Task thread only.
class RocksDbKeyedBackend final : public KeyedStateBackend {
 public:
  //! Opens the instance in `options.local_dir`. With no `restore` handles a fresh, empty one.
  //! Otherwise from the handles overlapping `options.range` (files read from `restore_storage`):
  //! one RocksDB snapshot becomes the base (key groups outside the range are deleted), the
  //! in-range entries of the others and of backend-neutral KeyGroupsStateHandles are copied in.
  static absl::StatusOr<std::unique_ptr<RocksDbKeyedBackend>> Open(
      RocksDbBackendOptions options, snapshot::SnapshotStorage* restore_storage,
      const std::vector<proto::KeyedStateHandle>& restore);

  RocksDbKeyedBackend(const RocksDbKeyedBackend&) = delete;
  RocksDbKeyedBackend& operator=(const RocksDbKeyedBackend&) = delete;
  ~RocksDbKeyedBackend() override;

  int RegisterState(const std::string& name) override;
  void SetCurrentKey(const uint8_t* key, size_t size, int key_group) override;
  bool Get(int state, std::string_view user_key, std::string* value) override;
  void Put(int state, std::string_view user_key, std::string_view value) override;
  void Append(int state, std::string_view user_key, std::string_view bytes) override;
  void Delete(int state, std::string_view user_key) override;
  void DeleteAll(int state) override;
  void ForEachUserKey(
      int state,
      const std::function<void(std::string_view user_key, std::string_view value)>& fn) override;
  void ForEachKey(int state, const std::function<void(std::string_view key)>& fn) override;
  //! Compactions of the state's column family drop what expired (ttl_compaction_filter.h).
  void SetTimeToLive(int state, int64_t ttl_ms, int64_t query_time_after_entries,
                     size_t (*element_size)(const uint8_t* data, size_t size)) override;
  //! Compacts every column family fully now (tests; RocksDB compacts by itself otherwise).
  void CompactAll();

  //! Copies the in-range entries of a key-groups file already read (`file_bytes`, described by
  //! `handle`), but not the host's timers. For callers that read the file anyway.
  absl::Status InsertKeyGroups(std::string_view file_bytes,
                               const proto::KeyGroupsStateHandle& handle);

  //! Synchronous part of checkpoint `checkpoint_id`: flushes the memtables and creates a RocksDB
  //! checkpoint in "<local_dir>-chk-<id>".
  absl::StatusOr<std::unique_ptr<RocksDbSnapshot>> SnapshotSync(int64_t checkpoint_id);
  //! Checkpoint `checkpoint_id` is complete: later incremental snapshots may refer to its SSTs.
  void NotifyCheckpointComplete(int64_t checkpoint_id);
  //! Closes the instance and removes the working folder. Idempotent; the destructor calls it.
  void Close();

  //! Writes what the write-back cache holds dirty to RocksDB (one batch); with `clear`, also
  //! forgets every cached entry.
  void FlushCache(bool clear = false);

  //! The key filter (null when off), for tests and metrics.
  const RocksDbKeyFilter* key_filter() const { return key_filter_.get(); }
  //! Registered state names, by id.
  const std::vector<std::string>& state_names() const { return state_names_; }
  const RocksDbBackendOptions& options() const { return options_; }

 private:
  struct Db;  // the RocksDB objects
  explicit RocksDbKeyedBackend(RocksDbBackendOptions options);

  absl::Status Restore(snapshot::SnapshotStorage* storage,
                       const std::vector<proto::KeyedStateHandle>& handles);
  absl::Status RestoreBase(snapshot::SnapshotStorage& storage,
                           const proto::RocksDbStateHandle& handle);
  //! Copies the in-range entries of another instance, downloaded into the temporary `dir`.
  absl::Status CopyFromInstance(snapshot::SnapshotStorage& storage,
                                const proto::RocksDbStateHandle& handle, const std::string& dir);
  absl::Status InsertKeyGroups(snapshot::SnapshotStorage& storage,
                               const proto::KeyGroupsStateHandle& handle);
  //! Deletes the key groups outside our range (after restoring a wider instance).
  absl::Status ClipToRange();
  absl::Status OpenDb(bool create);
  absl::StatusOr<int> AddState(const std::string& name);
  //! The stored key of `user_key` under the current key, in a reused buffer.
  const std::string& KeyOf(std::string_view user_key);
  //! FlushCache for the Status-returning paths (snapshots, restores).
  absl::Status FlushCacheStatus(bool clear);
  //! Flushes and empties the cache when it holds more than its capacity.
  void EvictIfFull();
  //! Visits the stored entries of `state` under the current key, in key order.
  void ScanCurrentKey(
      int state, const std::function<void(std::string_view stored, std::string_view value)>& fn);
  static void EncodeKey(int key_group, std::string_view key, std::string_view user_key,
                        std::string* out);

  RocksDbBackendOptions options_;
  std::unique_ptr<Db> db_;
  std::vector<std::string> state_names_;
  std::shared_ptr<UploadRegistry> registry_;
  std::unique_ptr<WriteBackCache> cache_;         // null without one
  std::unique_ptr<RocksDbKeyFilter> key_filter_;  // null without one
  std::shared_ptr<TtlCompactionFilters> ttl_filters_;
  //! Current-key prefix (key group, key length, key) followed by the last user key.
  std::string key_buf_;
  size_t prefix_size_ = 0;
  bool closed_ = false;
};

}  // namespace sluice::state
