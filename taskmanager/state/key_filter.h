// KeyFilter: the stored keys a RocksDB keyed state instance may hold, in memory
// (docs/state-backends.md, "The key filter"). A "no" is certain, a "maybe" is wrong for about 1 %
// of absent keys, so the backend answers a read of an absent key without asking RocksDB, whose own
// answer for such a key walks the memtables and one bloom filter per level-0 file and per level.
//
// A chain of blocked Bloom filters (one 64-byte block per key, 6 bits in it, ~10 bits per key): the
// first holds 64 Ki keys, each next one four times the one before, started when the last is full.
// A key is never removed (a deleted or expired key stays a "maybe"). Not thread-safe: one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace sluice::state {

class KeyFilter {
 public:
  //! `first_capacity`: keys of the first filter of the chain (at least 512).
  explicit KeyFilter(size_t first_capacity = size_t{1} << 16);
  KeyFilter(KeyFilter&&) noexcept;
  KeyFilter& operator=(KeyFilter&&) noexcept;
  ~KeyFilter();

  //! Adds `key` unless it may be in already (so that rewriting a key does not grow the filter).
  void Add(std::string_view key);
  //! False: `key` was never added. True: it may have been.
  bool MayContain(std::string_view key) const;
  //! Moves `other`'s filters into this chain: this then holds both sets.
  void Absorb(KeyFilter&& other);

  //! Bytes of the filters' bit arrays.
  size_t bytes() const { return bytes_; }
  //! Keys added (those that were not "maybe" already).
  size_t keys() const { return keys_; }

 private:
  struct Part;
  void Grow();

  size_t next_capacity_;
  std::vector<std::unique_ptr<Part>> parts_;
  size_t bytes_ = 0;
  size_t keys_ = 0;
};

}  // namespace sluice::state
