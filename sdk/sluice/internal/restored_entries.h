// Restored heap entries, and how a heap table builds them lazily. Internal to the SDK; task thread
// only, except what a snapshot freezes (immutable, read on an I/O thread).
//  - RestoredEntries: the restored entries of one state, kept from InitializeState until the
//    operator asks for the state, in one buffer: each entry's key, user key and value one after
//    another, their sizes beside, and the runs of entries of one key group. A restore of millions
//    of keys costs two appends per entry instead of three strings.
//  - PendingKeyGroups: those entries handed to the state's heap table, which builds a key group's
//    part of its map on the first access to a key of that group. Records flow as soon as the
//    operator is open, not once every key is in the map.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::internal {

class RestoredEntries {
 public:
  void Add(int key_group, std::string_view key, std::string_view user_key, std::string_view value) {
    constexpr size_t kMax = std::numeric_limits<uint32_t>::max();
    if (key.size() > kMax || user_key.size() > kMax || value.size() > kMax) {
      throw std::length_error("restored state entry over 4 GiB");
    }
    if (runs_.empty() || runs_.back().key_group != key_group) {
      runs_.push_back(Run{key_group, sizes_.size(), bytes_.size()});
    }
    sizes_.push_back(Sizes{static_cast<uint32_t>(key.size()),
                           static_cast<uint32_t>(user_key.size()),
                           static_cast<uint32_t>(value.size())});
    bytes_.append(key).append(user_key).append(value);
  }

  size_t size() const { return sizes_.size(); }
  //! What the entries take in memory.
  size_t Bytes() const {
    return bytes_.capacity() + sizes_.capacity() * sizeof(Sizes) + runs_.capacity() * sizeof(Run);
  }

  //! Runs: entries of one key group added one after another. A key group may have several.
  size_t runs() const { return runs_.size(); }
  int RunKeyGroup(size_t run) const { return runs_[run].key_group; }
  //! Entries in `run`.
  size_t RunSize(size_t run) const {
    return (run + 1 < runs_.size() ? runs_[run + 1].first : sizes_.size()) - runs_[run].first;
  }

  //! fn(key_group, key, user_key, value) for each entry of `run`, in the order they were added.
  template <typename F>
  void ForEachInRun(size_t run, F&& fn) const {
    const Run& r = runs_[run];
    const size_t end = run + 1 < runs_.size() ? runs_[run + 1].first : sizes_.size();
    const std::string_view all(bytes_);
    size_t at = r.offset;
    for (size_t i = r.first; i < end; ++i) {
      const Sizes& s = sizes_[i];
      const std::string_view key = all.substr(at, s.key);
      const std::string_view user_key = all.substr(at + s.key, s.user_key);
      const std::string_view value = all.substr(at + s.key + s.user_key, s.value);
      at += size_t{s.key} + s.user_key + s.value;
      fn(r.key_group, key, user_key, value);
    }
  }
  //! The same for every entry.
  template <typename F>
  void ForEach(F&& fn) const {
    for (size_t run = 0; run < runs_.size(); ++run) ForEachInRun(run, fn);
  }

 private:
  struct Sizes {
    uint32_t key, user_key, value;
  };
  struct Run {
    int key_group;
    size_t first;   // index of its first entry in sizes_
    size_t offset;  // of its first entry in bytes_
  };
  std::string bytes_;
  std::vector<Sizes> sizes_;
  std::vector<Run> runs_;
};

//! Restored entries not built into a heap table's map yet, by key group. Take(kg) hands out a key
//! group's entries once; Freeze() what is still pending, for a snapshot to write as it is.
class PendingKeyGroups {
 public:
  //! What was pending when a snapshot froze it: immutable, readable on any thread.
  class Frozen {
   public:
    Frozen() = default;
    Frozen(std::shared_ptr<const RestoredEntries> entries, std::vector<uint32_t> runs)
        : entries_(std::move(entries)), runs_(std::move(runs)) {}
    //! fn(key_group, key, user_key, value) for each entry.
    template <typename F>
    void ForEach(F&& fn) const {
      for (uint32_t run : runs_) entries_->ForEachInRun(run, fn);
    }

   private:
    std::shared_ptr<const RestoredEntries> entries_;
    std::vector<uint32_t> runs_;
  };

  PendingKeyGroups() = default;
  explicit PendingKeyGroups(RestoredEntries entries)
      : entries_(std::make_shared<const RestoredEntries>(std::move(entries))) {
    for (size_t run = 0; run < entries_->runs(); ++run) {
      const int kg = entries_->RunKeyGroup(run);
      if (kg < 0) throw std::out_of_range("restored state entry in a negative key group");
      if (static_cast<size_t>(kg) >= by_key_group_.size()) by_key_group_.resize(kg + 1);
      if (by_key_group_[kg].empty()) ++remaining_;
      by_key_group_[kg].push_back(static_cast<uint32_t>(run));
    }
    if (remaining_ == 0) Release();
  }

  //! No entry is pending any more.
  bool empty() const { return remaining_ == 0; }
  //! What the pending entries take in memory (all of them until the last key group is taken).
  size_t Bytes() const { return entries_ ? entries_->Bytes() : 0; }

  //! If key group `kg` is still pending: reserve(n), n being its number of entries, then
  //! fn(key_group, key, user_key, value) for each of them; afterwards it is not pending.
  template <typename R, typename F>
  void Take(int kg, R&& reserve, F&& fn) {
    if (kg < 0 || static_cast<size_t>(kg) >= by_key_group_.size()) return;
    std::vector<uint32_t> runs;
    runs.swap(by_key_group_[kg]);
    if (runs.empty()) return;
    --remaining_;
    const std::shared_ptr<const RestoredEntries> entries = entries_;  // Release() may drop ours
    if (remaining_ == 0) Release();
    size_t n = 0;
    for (uint32_t run : runs) n += entries->RunSize(run);
    reserve(n);
    for (uint32_t run : runs) entries->ForEachInRun(run, fn);
  }
  template <typename F>
  void Take(int kg, F&& fn) {
    Take(
        kg, [](size_t) {}, fn);
  }
  //! The same for every pending key group.
  template <typename F>
  void TakeAll(F&& fn) {
    TakeAll([](int, size_t) {}, fn);
  }
  template <typename R, typename F>
  void TakeAll(R&& reserve, F&& fn) {
    for (size_t kg = 0; kg < by_key_group_.size() && !empty(); ++kg) {
      Take(
          static_cast<int>(kg), [&](size_t n) { reserve(static_cast<int>(kg), n); }, fn);
    }
  }

  Frozen Freeze() const {
    if (empty()) return {};
    std::vector<uint32_t> runs;
    for (const auto& of_group : by_key_group_)
      runs.insert(runs.end(), of_group.begin(), of_group.end());
    return Frozen(entries_, std::move(runs));
  }

 private:
  void Release() {
    entries_.reset();
    by_key_group_ = {};
  }

  std::shared_ptr<const RestoredEntries> entries_;
  std::vector<std::vector<uint32_t>> by_key_group_;  // runs of each key group still pending
  size_t remaining_ = 0;                             // key groups with runs in by_key_group_
};

}  // namespace sluice::internal
