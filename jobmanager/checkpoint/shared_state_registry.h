// SharedStateRegistry: reference counts of the files under a job's "shared/" folder (incremental
// RocksDB SST files) that completed checkpoints name. A file stays while any registered
// checkpoint references it and may be deleted once the last one is released.
//
// Owned by the CheckpointCoordinator and used on its executor only (not thread-safe). It holds
// paths, never deletes files itself: the coordinator deletes what Release() returns.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace sluice::jobmanager::checkpoint {

class SharedStateRegistry {
 public:
  //! Adds references of `checkpoint_id` to `paths` (repeated paths and repeated registrations of
  //! a path by the same checkpoint count once).
  void Register(int64_t checkpoint_id, const std::vector<std::string>& paths);

  //! Drops every reference of `checkpoint_id`; returns the paths no checkpoint references any
  //! more, sorted. Releasing an unknown checkpoint returns nothing.
  std::vector<std::string> Release(int64_t checkpoint_id);

  //! Whether a registered checkpoint references `path`.
  bool IsReferenced(const std::string& path) const;
  //! How many checkpoints reference `path`.
  int ReferenceCount(const std::string& path) const;
  //! Number of distinct referenced paths.
  size_t size() const { return references_.size(); }

 private:
  std::map<std::string, std::set<int64_t>> references_;  // path -> checkpoints naming it
  std::map<int64_t, std::set<std::string>> by_checkpoint_;
};

}  // namespace sluice::jobmanager::checkpoint
