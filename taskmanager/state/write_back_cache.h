// WriteBackCache: the hot entries of a RocksDB keyed state backend, in memory, in front of RocksDB
// (docs/state-backends.md, "The write-back cache"). Reads that hit it and every write to an entry
// it holds cost a hash lookup instead of a RocksDB memtable operation; what changed goes to RocksDB
// in one write batch at the latest when a snapshot starts, or when the cache is full.
//
// Entries are grouped by the stored key's prefix (key group, key), the backend's current key, so a
// record's accesses cost one hash lookup for the key and a small ordered map per key. Each entry
// is a state id and user key with either a value or "absent" (known to be missing, or deleted), and
// whether RocksDB has yet to hear of it (dirty).
//
// It is a plain container: the backend decides what to read from RocksDB and writes what
// VisitDirty hands it. Task thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/node_hash_map.h"

namespace sluice::state {

class WriteBackCache {
 public:
  struct Entry {
    std::string value;
    bool present = false;  //!< false: RocksDB has no value (or will not, once flushed)
    bool dirty = false;    //!< RocksDB has yet to get this value (or deletion)
  };

  explicit WriteBackCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

  //! The stored-key prefix of the current key (key group, length, key).
  void SetCurrentKey(std::string_view prefix);

  //! The current key's entry of (`state`, `user_key`); null when not cached.
  Entry* Find(int state, std::string_view user_key);
  //! The current key's entry, created absent and clean when not cached.
  Entry& Insert(int state, std::string_view user_key);
  //! Counts what an entry's value grew or shrank by (call after changing it).
  void Resize(size_t before, size_t after) { bytes_ += after - before; }
  //! Forgets the current key's entries of `state` (their values included, dirty or not).
  void EraseCurrent(int state);

  //! Hands every dirty entry to `write` with its full stored key; MarkClean once RocksDB has
  //! them (not before: a failed write must leave them dirty).
  using DirtyWriter =
      std::function<void(int state, std::string_view stored_key, const Entry& entry)>;
  void VisitDirty(const DirtyWriter& write);
  void MarkClean();
  //! The same for the current key's entries of `state`.
  void VisitDirtyOfCurrent(int state, const DirtyWriter& write);
  void MarkCleanOfCurrent(int state);

  //! Whether the cache holds more than its capacity (then flush and Clear).
  bool full() const { return bytes_ > capacity_; }
  //! Forgets everything (flush the dirty entries first).
  void Clear();

 private:
  //! One key's entries, by 2-byte state id + user key (so that one state's are contiguous).
  using Bucket = std::map<std::string, Entry, std::less<>>;
  static constexpr size_t kEntryOverhead = 64;   // map node, strings, flags
  static constexpr size_t kBucketOverhead = 96;  // hash node, map header, prefix string

  Bucket& Current();
  //! The slot key of (`state`, `user_key`), in a reused buffer.
  const std::string& SlotKey(int state, std::string_view user_key);
  void VisitDirtyIn(const std::string& prefix, Bucket::iterator first, Bucket::iterator last,
                    const DirtyWriter& write);
  //! The current key's entries of `state`.
  std::pair<Bucket::iterator, Bucket::iterator> StateRange(int state);

  const size_t capacity_;
  size_t bytes_ = 0;
  absl::node_hash_map<std::string, Bucket> buckets_;  // by stored-key prefix
  std::string prefix_;
  Bucket* current_ = nullptr;  // buckets_[prefix_], found on first use after SetCurrentKey
  std::string slot_buf_;
  std::string stored_buf_;
};

}  // namespace sluice::state
