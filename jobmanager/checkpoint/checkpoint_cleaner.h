// CheckpointCleaner: deletes what the coordinator discards — the folder of a checkpoint that was
// aborted or that retention dropped, and shared (incremental) files no checkpoint names any more —
// on an I/O executor, never on the coordinator's thread (Flink's CheckpointsCleaner). A shared file
// nobody references may still be named by an acknowledgement to come of a checkpoint in progress
// (an incremental snapshot based on the checkpoint just dropped), so while checkpoints are in
// progress its deletion waits until they ended.
//
// Owned by the CheckpointCoordinator and used on its executor only (not thread-safe). Deletions are
// handed to `post_io`, which runs them in order on the coordinator's I/O executor: a deletion
// posted after a `_metadata` write runs after it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/snapshot/storage.h"

namespace sluice::jobmanager::checkpoint {

//! Who may still need a shared file, as the coordinator knows it when it discards files.
struct SharedFileUsers {
  //! True when a retained checkpoint, or an acknowledgement already in of one in progress, names
  //! the file. Empty: nobody does.
  std::function<bool(const std::string& path)> named;
  //! Oldest and newest checkpoint in progress; unset when none is.
  std::optional<int64_t> oldest_in_progress;
  std::optional<int64_t> newest_in_progress;
};

class CheckpointCleaner {
 public:
  //! Runs `io` on the I/O executor.
  using PostIo = std::function<void(std::function<void()> io)>;

  //! `storage`: the job's checkpoint folder (not owned, must outlive the cleaner and every task it
  //! posted). `job_id` names the job in log lines.
  CheckpointCleaner(std::string job_id, snapshot::SnapshotStorage* storage, PostIo post_io);

  //! Deletes the folder `chk-<id>` (private files and `_metadata`).
  void DiscardCheckpoint(int64_t id);
  //! Shared files a discarded checkpoint named: each is deleted unless `users` names it — at once
  //! when no checkpoint is in progress, else once those in progress now ended (CheckpointEnded).
  //! A path outside the shared folder is never deleted (WARN).
  void DiscardShared(const std::vector<std::string>& paths, const SharedFileUsers& users);
  //! A checkpoint ended: deletes the deferred files no checkpoint still in progress can name.
  void CheckpointEnded(const SharedFileUsers& users);

  //! Shared files waiting for checkpoints in progress to end (tests, statistics).
  size_t deferred() const { return deferred_.size(); }

 private:
  void Delete(std::vector<std::string> paths);

  const std::string job_id_;
  snapshot::SnapshotStorage* const storage_;
  const PostIo post_io_;
  // Unreferenced shared files kept until the checkpoints up to this id, in progress when they
  // were released, ended.
  std::map<std::string, int64_t> deferred_;
};

}  // namespace sluice::jobmanager::checkpoint
