// CompletedCheckpointStore: the retained completed checkpoints of a job — their metadata (the
// coordinator's own copy, authoritative over the `_metadata` files) and figures — and which of
// them retention drops: all but the newest `num_retained`, except those pinned while they are
// read (a savepoint's files being copied). Flink's CompletedCheckpointStore, in memory; the
// coordinator deletes the files of what it drops.
//
// Owned by the CheckpointCoordinator; used on its executor only (not thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "jobmanager/checkpoint/checkpoint_stats.h"
#include "sluice_proto/checkpoint.pb.h"

namespace sluice::jobmanager::checkpoint {

class CompletedCheckpointStore {
 public:
  struct Entry {
    proto::CheckpointMetadata metadata;
    CompletedCheckpointInfo info;
  };

  //! `num_retained`: completed checkpoints kept beyond the pinned ones (>= 1).
  explicit CompletedCheckpointStore(int num_retained) : num_retained_(num_retained) {}

  //! Adds checkpoint `id` (pinned once with `pin`); returns the ids retention drops now, oldest
  //! first.
  std::vector<int64_t> Add(int64_t id, Entry entry, bool pin = false);
  //! Pins retained checkpoint `id` once more; false when it is not retained.
  bool Pin(int64_t id);
  //! Undoes one Pin(); returns the ids retention drops now.
  std::vector<int64_t> Unpin(int64_t id);
  //! Forgets `id` whatever retention says (a damaged checkpoint); false when not retained.
  bool Remove(int64_t id);

  const Entry* Find(int64_t id) const;
  //! Retained checkpoints pinned now, oldest first.
  std::vector<int64_t> Pinned() const;
  //! Newest first.
  std::vector<const Entry*> NewestFirst() const;
  size_t size() const { return retained_.size(); }
  int num_retained() const { return num_retained_; }

 private:
  std::vector<int64_t> Enforce();

  const int num_retained_;
  std::map<int64_t, Entry> retained_;
  std::map<int64_t, int> pins_;  // retained checkpoints being read -> Pin() calls not yet undone
};

}  // namespace sluice::jobmanager::checkpoint
