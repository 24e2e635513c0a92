// The backend-neutral keyed-state file of a proto::KeyGroupsStateHandle: entries grouped by key
// group, one offset per key group (entry layout in proto/checkpoint.proto). The heap backend
// writes it; any backend can read the key groups it owns out of it on restore or rescale.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice_proto/checkpoint.pb.h"

namespace sluice::snapshot {

class SnapshotStorage;

//! Builds the file of one subtask's keyed state in memory. Entries may be added in any key-group
//! order. Owned and used by one thread (the subtask's snapshot writer).
class KeyGroupsFileBuilder {
 public:
  //! `range`: the subtask's key groups; start >= 0 (std::invalid_argument otherwise). A range
  //! with end < start is empty.
  explicit KeyGroupsFileBuilder(proto::KeyGroupRange range);

  //! Adds an entry of state `state` (interned; at most 65536 names) to `key_group`.
  //! std::out_of_range when `key_group` is outside the range, std::length_error when a field
  //! exceeds 4 GiB or there are too many state names.
  void Add(int key_group, std::string_view state, std::string_view key, std::string_view user_key,
           std::string_view value);
  //! Entries added so far.
  size_t entries() const { return entries_; }

  //! Concatenates the key groups in order and returns the file; fills handle->range, offsets,
  //! crc32s and state_names (not file, known once stored). Leaves the builder empty, ready for
  //! reuse.
  std::string Finish(proto::KeyGroupsStateHandle* handle);

 private:
  uint16_t StateIndex(std::string_view state);

  proto::KeyGroupRange range_;
  std::vector<std::string> groups_;  // Encoded entries of key group range_.start() + i.
  std::vector<std::string> state_names_;
  std::map<std::string, uint16_t, std::less<>> state_indexes_;
  size_t last_index_ = 0;  // of the state of the last entry added
  size_t entries_ = 0;
};

//! Visits, in key-group order, the entries of the key groups in both handle.range and `wanted`,
//! reading `file_bytes` (the whole file of `handle`). Everything is validated before `fn` is first
//! called: the offsets (one per key group, non-decreasing, within the file), then every entry of
//! the wanted key groups (lengths and state index). DataLoss naming the file, the key group and
//! the byte offset when anything is malformed; `fn` is not called then.
absl::Status ForEachEntry(
    std::string_view file_bytes, const proto::KeyGroupsStateHandle& handle,
    proto::KeyGroupRange wanted,
    const std::function<void(int key_group, const std::string& state, std::string_view key,
                             std::string_view user_key, std::string_view value)>& fn);

//! Reads what a restore of the key groups `wanted` needs of `handle`'s file from `storage`. When
//! the handle has a checksum per key group and only some of its key groups are wanted: only their
//! bytes, each key group checked against its checksum (DataLoss naming the file and the key
//! group), and `*part` becomes the handle of just those bytes (their key groups, offsets from the
//! first). Otherwise (files written before the checksums, every key group wanted): the whole
//! file, checked against its crc32, and `*part` is a copy of `handle`. Either way, pass the bytes
//! and `*part` to ForEachEntry.
absl::StatusOr<std::string> ReadKeyGroups(SnapshotStorage& storage,
                                          const proto::KeyGroupsStateHandle& handle,
                                          proto::KeyGroupRange wanted,
                                          proto::KeyGroupsStateHandle* part);

}  // namespace sluice::snapshot
