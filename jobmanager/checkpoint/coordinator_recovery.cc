// CheckpointCoordinator: what a job restart restores (docs/checkpointing.md, "Damaged snapshots"):
// the newest retained checkpoint, its `_metadata` repaired from the coordinator's copy, its files
// checked — or, only with accept-duplicates, the newest older one that can be restored.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/checkpoint/coordinator.h"
#include "jobmanager/checkpoint/coordinator_internal.h"

namespace sluice::jobmanager::checkpoint {

using internal::IsUnreadable;
using internal::Log;
using snapshot::MetadataPath;

std::optional<proto::CheckpointMetadata> CheckpointCoordinator::LatestCompleted() {
  return RunSync([this]() -> std::optional<proto::CheckpointMetadata> {
    std::vector<const CompletedCheckpointStore::Entry*> all = store_.NewestFirst();
    if (all.empty()) return std::nullopt;
    return all.front()->metadata;
  });
}

std::optional<proto::CheckpointMetadata> CheckpointCoordinator::CompletedMetadata(int64_t id) {
  return RunSync([this, id]() -> std::optional<proto::CheckpointMetadata> {
    const CompletedCheckpointStore::Entry* e = store_.Find(id);
    if (e == nullptr) return std::nullopt;
    return e->metadata;
  });
}

absl::StatusOr<std::optional<proto::CheckpointMetadata>> CheckpointCoordinator::RecoverLatest(
    bool accept_duplicates) {
  struct Retained {
    std::vector<proto::CheckpointMetadata> newest_first;
    bool ever_completed = false;
  };
  const Retained retained = RunSync([this] {
    Retained r;
    for (const CompletedCheckpointStore::Entry* e : store_.NewestFirst()) {
      r.newest_first.push_back(e->metadata);
    }
    r.ever_completed = ever_completed_;
    return r;
  });
  std::string damage;  // of the newest one
  for (const proto::CheckpointMetadata& md : retained.newest_first) {
    const int64_t id = md.checkpoint_id();
    absl::Status s = io_executor_.Call([this, &md] { return CheckRestorable(md); });
    if (s.ok()) {
      if (!damage.empty()) {
        Log()->warn(
            "Job {}: restoring checkpoint {} instead (accept-duplicates): output committed "
            "after it is written again",
            job_.job_id, id);
      }
      return std::optional<proto::CheckpointMetadata>(md);
    }
    if (!snapshot::IsDamage(s)) return s;
    const std::string what = absl::StrCat("checkpoint ", id, " cannot be restored: ", s.message());
    if (damage.empty()) damage = what;
    if (!accept_duplicates) return absl::FailedPreconditionError(what);
    Log()->warn("Job {}: {}", job_.job_id, what);
    RunSync([this, id] { DropDamagedNow(id); });
  }
  if (retained.ever_completed) {
    // Never nothing once a checkpoint completed: its output is committed.
    return absl::FailedPreconditionError(
        damage.empty() ? std::string("no completed checkpoint is retained any more")
                       : absl::StrCat(damage, "; no older retained checkpoint can be restored"));
  }
  return std::optional<proto::CheckpointMetadata>();
}

absl::Status CheckpointCoordinator::CheckRestorable(const proto::CheckpointMetadata& metadata) {
  const int64_t id = metadata.checkpoint_id();
  const std::string path = MetadataPath(id);
  absl::StatusOr<proto::CheckpointMetadata> on_disk = snapshot::ReadMetadata(*storage_, path);
  std::string problem;
  if (!on_disk.ok()) {
    if (!IsUnreadable(on_disk.status())) return on_disk.status();
    problem = std::string(on_disk.status().message());
  } else if (on_disk->SerializeAsString() != metadata.SerializeAsString()) {
    problem = absl::StrCat(path, " differs from what the JobManager wrote");
  }
  if (!problem.empty()) {
    // The coordinator's copy is what the checkpoint is; the file only persists it.
    absl::Status rewritten = snapshot::WriteMetadata(*storage_, path, metadata);
    Log()->warn("Job {}: the metadata of checkpoint {} is damaged ({}); {}", job_.job_id, id,
                problem,
                rewritten.ok() ? std::string("rewrote it from the JobManager's copy")
                               : absl::StrCat("cannot rewrite it: ", rewritten.message()));
  }
  return snapshot::VerifySnapshotFiles(*storage_, metadata, /*checksums=*/false);
}

void CheckpointCoordinator::DropDamaged(int64_t id) {
  RunSync([this, id] { DropDamagedNow(id); });
}

bool CheckpointCoordinator::Pin(int64_t id) {
  return RunSync([this, id] { return store_.Pin(id); });
}

void CheckpointCoordinator::Unpin(int64_t id) {
  RunSync([this, id] {
    DeleteDropped(store_.Unpin(id));
    DeleteDeferred();
  });
}

// Its files stay for inspection; only the references go.
void CheckpointCoordinator::DropDamagedNow(int64_t id) {
  if (store_.Remove(id)) shared_.Release(id);
}

}  // namespace sluice::jobmanager::checkpoint
