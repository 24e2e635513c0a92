#include "common/snapshot/key_groups_format.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/snapshot/crc32.h"
#include "common/snapshot/storage.h"

namespace sluice::snapshot {
namespace {

using EntryFn = std::function<void(int, const std::string&, std::string_view, std::string_view,
                                   std::string_view)>;

//! Key groups in `range` (0 when end < start); int64 so that no range overflows.
int64_t RangeSize(const proto::KeyGroupRange& range) {
  return range.end() < range.start() ? 0 : int64_t{range.end()} - range.start() + 1;
}

//! Reads the entries of one key group, bounds-checking every read.
class EntryReader {
 public:
  //! `group`: the bytes [begin, end) of the file, `begin` being their offset in the file.
  EntryReader(std::string_view group, uint64_t begin, int key_group,
              const proto::KeyGroupsStateHandle& handle)
      : group_(group), begin_(begin), key_group_(key_group), handle_(handle) {}

  //! Checks every entry; calls `fn` for each when not null.
  absl::Status Run(const EntryFn* fn) {
    while (pos_ < group_.size()) {
      const size_t entry_start = pos_;
      uint16_t state = 0;
      std::string_view key, user_key, value;
      if (!ReadU16(&state)) return Malformed(entry_start, "truncated state index");
      if (state >= handle_.state_names_size()) {
        return Malformed(entry_start, absl::StrFormat("state index %d, but the file has %d states",
                                                      state, handle_.state_names_size()));
      }
      if (!ReadField(&key)) return Malformed(entry_start, "key runs past the key group's end");
      if (!ReadField(&user_key)) {
        return Malformed(entry_start, "user key runs past the key group's end");
      }
      if (!ReadField(&value)) return Malformed(entry_start, "value runs past the key group's end");
      if (fn != nullptr) (*fn)(key_group_, handle_.state_names(state), key, user_key, value);
    }
    return absl::OkStatus();
  }

 private:
  bool ReadU16(uint16_t* out) {
    if (group_.size() - pos_ < 2) return false;
    *out = static_cast<uint16_t>(Byte(0) | Byte(1) << 8);
    pos_ += 2;
    return true;
  }

  //! A u32 length and that many bytes.
  bool ReadField(std::string_view* out) {
    if (group_.size() - pos_ < 4) return false;
    const uint32_t length = Byte(0) | Byte(1) << 8 | Byte(2) << 16 | Byte(3) << 24;
    pos_ += 4;
    if (group_.size() - pos_ < length) return false;
    *out = group_.substr(pos_, length);
    pos_ += length;
    return true;
  }

  uint32_t Byte(size_t i) const { return static_cast<uint8_t>(group_[pos_ + i]); }

  absl::Status Malformed(size_t entry_start, std::string_view what) const {
    return absl::DataLossError(
        absl::StrFormat("keyed-state file '%s' is damaged: key group %d, entry at byte %d: %s",
                        handle_.file().path(), key_group_, begin_ + entry_start, what));
  }

  const std::string_view group_;
  const uint64_t begin_;
  const int key_group_;
  const proto::KeyGroupsStateHandle& handle_;
  size_t pos_ = 0;
};

absl::Status BadHandle(const proto::KeyGroupsStateHandle& handle, std::string_view what) {
  return absl::DataLossError(
      absl::StrFormat("keyed-state file '%s' is damaged: %s", handle.file().path(), what));
}

//! Checks that the offsets fit the range and the file.
absl::Status CheckOffsets(const proto::KeyGroupsStateHandle& handle, uint64_t file_size) {
  const proto::KeyGroupRange& range = handle.range();
  if (range.start() < 0) {
    return BadHandle(
        handle, absl::StrFormat("negative key group range [%d, %d]", range.start(), range.end()));
  }
  if (handle.offsets_size() != RangeSize(range)) {
    return BadHandle(handle, absl::StrFormat("%d offsets for the %d key groups of [%d, %d]",
                                             handle.offsets_size(), RangeSize(range), range.start(),
                                             range.end()));
  }
  for (int i = 0; i < handle.offsets_size(); ++i) {
    const uint64_t offset = handle.offsets(i);
    if (offset > file_size) {
      return BadHandle(handle, absl::StrFormat("key group %d starts at byte %d, past the end (%d)",
                                               range.start() + i, offset, file_size));
    }
    if (i > 0 && offset < handle.offsets(i - 1)) {
      return BadHandle(handle, absl::StrFormat("key group %d starts at byte %d, before key group "
                                               "%d (byte %d)",
                                               range.start() + i, offset, range.start() + i - 1,
                                               handle.offsets(i - 1)));
    }
  }
  return absl::OkStatus();
}

//! Runs an EntryReader over each key group in [first, last] of the handle's range.
absl::Status ReadGroups(std::string_view file, const proto::KeyGroupsStateHandle& handle, int first,
                        int last, const EntryFn* fn) {
  for (int key_group = first; key_group <= last; ++key_group) {
    const int i = key_group - handle.range().start();
    const uint64_t begin = handle.offsets(i);
    const uint64_t end = i + 1 < handle.offsets_size() ? handle.offsets(i + 1) : file.size();
    EntryReader reader(file.substr(begin, end - begin), begin, key_group, handle);
    if (absl::Status s = reader.Run(fn); !s.ok()) return s;
    if (key_group == last) break;  // Guards ++key_group against overflow at INT_MAX.
  }
  return absl::OkStatus();
}

}  // namespace

KeyGroupsFileBuilder::KeyGroupsFileBuilder(proto::KeyGroupRange range) : range_(std::move(range)) {
  if (range_.start() < 0) {
    throw std::invalid_argument(
        absl::StrCat("key group range [", range_.start(), ", ", range_.end(), "] starts below 0"));
  }
  groups_.resize(RangeSize(range_));
}

void KeyGroupsFileBuilder::Add(int key_group, std::string_view state, std::string_view key,
                               std::string_view user_key, std::string_view value) {
  if (key_group < range_.start() || key_group > range_.end()) {
    throw std::out_of_range(absl::StrCat("key group ", key_group, " is outside the range [",
                                         range_.start(), ", ", range_.end(), "]"));
  }
  constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
  if (key.size() > kMax || user_key.size() > kMax || value.size() > kMax) {
    throw std::length_error("keyed-state entry field exceeds 4 GiB");
  }
  const uint16_t index = StateIndex(state);
  // One resize per entry, then the fields in place: a savepoint writes millions of entries.
  std::string& out = groups_[key_group - range_.start()];
  const size_t at = out.size();
  out.resize(at + 2 + 12 + key.size() + user_key.size() + value.size());
  char* p = out.data() + at;
  auto put = [&p](uint64_t v, size_t bytes) {
    for (size_t i = 0; i < bytes; ++i) *p++ = static_cast<char>(v >> (8 * i));
  };
  auto field = [&](std::string_view f) {
    put(f.size(), 4);
    if (!f.empty()) std::memcpy(p, f.data(), f.size());
    p += f.size();
  };
  put(index, 2);
  field(key);
  field(user_key);
  field(value);
  ++entries_;
}

uint16_t KeyGroupsFileBuilder::StateIndex(std::string_view state) {
  // Writers add the entries of one state after another: the last one is checked first.
  if (last_index_ < state_names_.size() && state_names_[last_index_] == state) return last_index_;
  if (auto it = state_indexes_.find(state); it != state_indexes_.end()) {
    last_index_ = it->second;
    return it->second;
  }
  if (state_names_.size() > std::numeric_limits<uint16_t>::max()) {
    throw std::length_error("a keyed-state file holds at most 65536 state names");
  }
  const auto index = static_cast<uint16_t>(state_names_.size());
  state_names_.emplace_back(state);
  state_indexes_.emplace(state, index);
  last_index_ = index;
  return index;
}

std::string KeyGroupsFileBuilder::Finish(proto::KeyGroupsStateHandle* handle) {
  *handle->mutable_range() = range_;
  handle->clear_offsets();
  handle->clear_crc32s();
  handle->clear_state_names();
  size_t total = 0;
  for (const std::string& group : groups_) total += group.size();
  std::string file;
  file.reserve(total);
  for (std::string& group : groups_) {
    handle->add_offsets(file.size());
    handle->add_crc32s(Crc32(group));
    file.append(group);
    std::string().swap(group);  // Frees the group's memory now.
  }
  for (std::string& name : state_names_) handle->add_state_names(std::move(name));
  state_names_.clear();
  state_indexes_.clear();
  last_index_ = 0;
  entries_ = 0;
  return file;
}

absl::Status ForEachEntry(std::string_view file_bytes, const proto::KeyGroupsStateHandle& handle,
                          proto::KeyGroupRange wanted, const EntryFn& fn) {
  if (absl::Status s = CheckOffsets(handle, file_bytes.size()); !s.ok()) return s;
  const int first = std::max(handle.range().start(), wanted.start());
  const int last = std::min(handle.range().end(), wanted.end());
  if (first > last) return absl::OkStatus();
  // Validate everything first so that `fn` never sees part of a damaged file.
  if (absl::Status s = ReadGroups(file_bytes, handle, first, last, nullptr); !s.ok()) return s;
  return ReadGroups(file_bytes, handle, first, last, &fn);
}

absl::StatusOr<std::string> ReadKeyGroups(SnapshotStorage& storage,
                                          const proto::KeyGroupsStateHandle& handle,
                                          proto::KeyGroupRange wanted,
                                          proto::KeyGroupsStateHandle* part) {
  const proto::KeyGroupRange& range = handle.range();
  const int first = std::max(range.start(), wanted.start());
  const int last = std::min(range.end(), wanted.end());
  if (handle.crc32s_size() == 0 || first > last ||
      (first == range.start() && last == range.end())) {
    *part = handle;
    return storage.ReadFile(handle.file().path(), &handle.file());
  }
  if (handle.crc32s_size() != handle.offsets_size()) {
    return BadHandle(handle, absl::StrFormat("%d checksums for %d key groups", handle.crc32s_size(),
                                             handle.offsets_size()));
  }
  if (absl::Status s = CheckOffsets(handle, handle.file().size()); !s.ok()) return s;
  const int n = handle.offsets_size();
  auto end_of = [&handle, n](int i) {
    return i + 1 < n ? handle.offsets(i + 1) : handle.file().size();
  };
  const int i_first = first - range.start();
  const int i_last = last - range.start();
  const uint64_t begin = handle.offsets(i_first);
  absl::StatusOr<std::string> bytes =
      storage.ReadFileRange(handle.file(), begin, end_of(i_last) - begin);
  if (!bytes.ok()) return bytes.status();
  part->Clear();
  part->mutable_range()->set_start(first);
  part->mutable_range()->set_end(last);
  *part->mutable_file() = handle.file();  // for messages; its size and crc32 are the whole file's
  *part->mutable_state_names() = handle.state_names();
  const std::string_view all(*bytes);
  for (int i = i_first; i <= i_last; ++i) {
    const uint64_t at = handle.offsets(i) - begin;
    const uint64_t size = end_of(i) - handle.offsets(i);
    const uint32_t crc = Crc32(all.substr(at, size));
    if (crc != handle.crc32s(i)) {
      return BadHandle(
          handle,
          absl::StrFormat("key group %d (bytes [%d, %d)) has crc32 0x%08x, the "
                          "snapshot recorded 0x%08x",
                          range.start() + i, handle.offsets(i), end_of(i), crc, handle.crc32s(i)));
    }
    part->add_offsets(at);
    part->add_crc32s(handle.crc32s(i));
  }
  return bytes;
}

}  // namespace sluice::snapshot
