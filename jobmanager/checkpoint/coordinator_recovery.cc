// CheckpointCoordinator: what a job restart restores (docs/checkpointing.md, "Damaged snapshots"):
// the newest retained checkpoint, its `_metadata` repaired from the coordinator's copy, its files
// checked — or, only with accept-duplicates, the newest older one that can be restored.
#include <memory>
#include <optional>
#include <string>
#include <utility>
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

//! A RecoverLatest() under way: the retained checkpoints as they were when it began, and how far
//! it got.
struct CheckpointCoordinator::Recovery {
  bool accept_duplicates = false;
  RecoverCallback done;
  std::vector<proto::CheckpointMetadata> newest_first;
  size_t next = 0;     // the one being checked
  std::string damage;  // of the newest one
  bool ever_completed = false;
};

void CheckpointCoordinator::RecoverLatest(bool accept_duplicates, RecoverCallback done) {
  executor_.Post([this, accept_duplicates, done = std::move(done)]() mutable {
    auto r = std::make_shared<Recovery>();
    r->accept_duplicates = accept_duplicates;
    r->done = std::move(done);
    for (const CompletedCheckpointStore::Entry* e : store_.NewestFirst()) {
      r->newest_first.push_back(e->metadata);
    }
    r->ever_completed = ever_completed_;
    RecoverNext(std::move(r));
  });
}

// Checks the next candidate on the I/O executor; continues here with its outcome.
void CheckpointCoordinator::RecoverNext(std::shared_ptr<Recovery> r) {
  auto finish = [this, r](absl::StatusOr<std::optional<proto::CheckpointMetadata>> result) {
    if (lifecycle_ == Lifecycle::kStopped) return;  // no callback after Stop()
    PublishStats();
    if (r->done) r->done(std::move(result));
  };
  if (r->next >= r->newest_first.size()) {
    if (r->ever_completed) {
      // Never nothing once a checkpoint completed: its output is committed.
      return finish(absl::FailedPreconditionError(
          r->damage.empty()
              ? std::string("no completed checkpoint is retained any more")
              : absl::StrCat(r->damage, "; no older retained checkpoint can be restored")));
    }
    return finish(std::optional<proto::CheckpointMetadata>());
  }
  auto checked = std::make_shared<absl::Status>();
  PostIo([this, r, checked] { *checked = CheckRestorable(r->newest_first[r->next]); },
         [this, r, checked, finish] {
           const proto::CheckpointMetadata& md = r->newest_first[r->next];
           const int64_t id = md.checkpoint_id();
           if (checked->ok()) {
             if (!r->damage.empty()) {
               Log()->warn(
                   "Job {}: restoring checkpoint {} instead (accept-duplicates): output "
                   "committed after it is written again",
                   job_.job_id, id);
             }
             // Retention keeps it until the restored job's first checkpoint completes.
             if (!PinForRestore(id)) {
               Log()->warn("Job {}: checkpoint {} to restore is no longer retained", job_.job_id,
                           id);
             }
             return finish(std::optional<proto::CheckpointMetadata>(md));
           }
           if (!snapshot::IsDamage(*checked)) return finish(*checked);
           const std::string what =
               absl::StrCat("checkpoint ", id, " cannot be restored: ", checked->message());
           if (r->damage.empty()) r->damage = what;
           if (!r->accept_duplicates) return finish(absl::FailedPreconditionError(what));
           Log()->warn("Job {}: {}", job_.job_id, what);
           DropDamagedNow(id);
           ++r->next;
           RecoverNext(r);
         });
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
  executor_.Post([this, id] { DropDamagedNow(id); });
}

// Its files stay for inspection; only the references go.
void CheckpointCoordinator::DropDamagedNow(int64_t id) {
  if (restore_pin_ == id) restore_pin_.reset();  // Remove() drops its pins
  if (store_.Remove(id)) shared_.Release(id);
  StatsChanged();
}

}  // namespace sluice::jobmanager::checkpoint
