// JobMaster: failures and restarts. A failure the restart strategy allows cancels every subtask,
// waits out the backoff, chooses what to restore and redeploys; otherwise the job fails. What a
// restart restores follows one rule (docs/checkpointing.md, "Damaged snapshots"): the newest
// completed checkpoint — whose output the sinks may already have committed — or nothing older.
// A damaged newest checkpoint stops the job with a reason that names it and the ways out, unless
// state.checkpoints.recovery.accept-duplicates allows falling back to an older one.
#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/job_master.h"

namespace sluice::jobmanager {
namespace {

auto Log() { return log::Get("jobmaster"); }

}  // namespace

void JobMaster::HandleFailure(const std::string& reason) {
  if (!machine_.AcceptsFailure()) return;  // nothing runs yet, or already tearing down
  if (attempt_failure_.empty()) attempt_failure_ = reason;
  if (restart_strategy_) {
    RestartStrategy::Decision d = restart_strategy_->OnFailure();
    if (d.restart) {
      Restart(reason);
      return;
    }
    Log()->warn("Job {} ({}): the restart strategy {} allows no more restarts", spec_.name,
                spec_.job_id, restart_strategy_->Describe());
  }
  FailJob(reason);
}

void JobMaster::RecordException(const std::string& reason, bool restarted) {
  constexpr size_t kMaxExceptions = 16;
  proto::JobException e;
  e.set_timestamp_ms(WallClockMs());
  e.set_message(reason);
  e.set_restarted(restarted);
  if (failure_origin_) {
    e.set_task(failure_origin_->task);
    e.set_taskmanager(failure_origin_->taskmanager);
  }
  failure_origin_.reset();
  exceptions_.push_front(std::move(e));
  if (exceptions_.size() > kMaxExceptions) exceptions_.pop_back();
}

void JobMaster::FailJob(const std::string& reason) {
  if (machine_.IsTerminal() || machine_.state() == JobState::kFailing) return;
  RecordException(reason, false);
  if (failure_.empty()) failure_ = reason;
  // Reasons quote user code (exception texts) and paths: escaped, they cannot forge log lines.
  Log()->warn("Job {} ({}) fails: {}", spec_.name, spec_.job_id, log::Untrusted(reason, 4096));
  if (machine_.state() == JobState::kRestarting) {
    // Between two attempts: FAILED once every subtask of the last one is terminal.
    machine_.FailInsteadOfRestart();
    CheckCompletion();
    return;
  }
  // A cancel under way ends CANCELED all the same.
  if (machine_.state() != JobState::kCancelling) SetJobState(JobState::kFailing);
  CancelRemaining();
  CheckCompletion();
}

void JobMaster::Restart(const std::string& reason) {
  RecordException(reason, true);
  ++num_restarts_;
  restart_cause_ = reason;
  Log()->warn("Job {} ({}) restarts (restart #{}): {}", spec_.name, spec_.job_id, num_restarts_,
              log::Untrusted(reason, 4096));
  if (!SetJobState(JobState::kRestarting)) return;
  waiting_for_ = "the tasks of the failed attempt to stop";
  if (coordinator_) coordinator_->Suspend();
  CancelRemaining();
  CheckCompletion();
}

void JobMaster::ReleaseOnTaskManagers(std::function<void()> then) {
  std::map<std::string, std::shared_ptr<TaskManagerGateway>> gateways;
  for (const auto& s : slots_) {
    if (!lost_taskmanagers_.count(s.taskmanager_id)) gateways[s.taskmanager_id] = s.gateway;
  }
  if (gateways.empty()) {
    then();
    return;
  }
  // Each gateway answers on its own thread: the last answer runs `then`.
  auto left = std::make_shared<std::atomic<size_t>>(gateways.size());
  auto last = std::make_shared<std::function<void()>>(std::move(then));
  for (const auto& [id, gw] : gateways) {
    gw->ReleaseJob(spec_.job_id, [left, last, job_id = spec_.job_id](const absl::Status& s) {
      if (!s.ok()) Log()->debug("release of job {}: {}", job_id, s.message());
      if (left->fetch_sub(1) == 1) (*last)();
    });
  }
}

void JobMaster::RedeployAfterRestart() {
  if (machine_.state() != JobState::kRestarting) return;
  waiting_for_ = "the previous attempt's slots to be released and the snapshot to restore";
  auto release_and_redeploy = [this] {
    // Free what the old attempts hold on the TaskManagers, then take slots anew (a lost
    // TaskManager's slots are gone; one that registered since may be used).
    ReleaseOnTaskManagers([this, inbox = inbox_] {
      resource_manager_->ReleaseSlots(spec_.job_id);
      inbox->Post([this] { AllocateAndRedeploy(0); });
    });
  };
  if (!coordinator_) {
    release_and_redeploy();
    return;
  }
  // The coordinator checks the checkpoint's files (and may rewrite its `_metadata`) on its I/O
  // executor, and pins what it chose: retention keeps it until the restored job's first
  // checkpoint completes.
  coordinator_->RecoverLatest(
      AcceptDuplicates(), [this, inbox = inbox_, release_and_redeploy](
                              absl::StatusOr<std::optional<proto::CheckpointMetadata>> latest) {
        inbox->Post([this, latest = std::move(latest), release_and_redeploy] {
          if (machine_.state() != JobState::kRestarting) return;  // cancelled meanwhile
          if (ChooseRestore(latest)) release_and_redeploy();
        });
      });
}

bool JobMaster::ChooseRestore(
    const absl::StatusOr<std::optional<proto::CheckpointMetadata>>& latest) {
  if (!latest.ok()) {
    if (!absl::IsFailedPrecondition(latest.status())) {
      FailJob(absl::StrCat("cannot read the latest checkpoint: ", latest.status().message()));
      return false;
    }
    std::vector<checkpoint::CompletedCheckpointInfo> retained = coordinator_->Stats().completed;
    FailJob(DamagedSnapshotReason(retained.empty() ? 0 : retained.front().id,
                                  std::string(latest.status().message())));
    return false;
  }
  if (*latest) {
    restore_ = **latest;
    restore_base_dir_ = spec_.checkpoint_storage->root();
  }
  if (restore_) {
    Log()->info("Job {} ({}) restores {} {}", spec_.name, spec_.job_id, restore_->kind(),
                restore_->checkpoint_id());
  } else {
    Log()->info("Job {} ({}) restarts without state: it never completed a checkpoint", spec_.name,
                spec_.job_id);
  }
  return true;
}

void JobMaster::AllocateAndRedeploy(int tries) {
  if (machine_.state() != JobState::kRestarting) return;
  auto slots = resource_manager_->AllocateSlots(spec_.job_id, spec_.plan.RequiredSlots());
  if (!slots.ok()) {
    waiting_for_ = absl::StrCat("task slots: ", slots.status().message());
    if (tries % 20 == 0) {
      Log()->info("Job {} ({}) waits for slots: {}", spec_.name, spec_.job_id,
                  slots.status().message());
    }
    executor_.PostDelayed(std::chrono::milliseconds(250),
                          [this, tries] { AllocateAndRedeploy(tries + 1); });
    return;
  }
  slots_ = *std::move(slots);
  waiting_for_.clear();
  for (const auto& s : slots_) lost_taskmanagers_.erase(s.taskmanager_id);
  ++attempt_number_;
  NewAttempts();
  if (!SetJobState(JobState::kRunning)) return;
  DeployAll();
}

void JobMaster::OnRestoreDamaged(const std::string& detail) {
  const JobState state = machine_.state();
  if (machine_.IsTerminal() || state == JobState::kFailing || state == JobState::kCancelling) {
    return;
  }
  if (!restore_) {  // cannot happen: nothing was restored
    HandleFailure(detail);
    return;
  }
  const bool own_checkpoint = restore_->kind() == "checkpoint" && spec_.checkpoint_storage &&
                              restore_base_dir_ == spec_.checkpoint_storage->root();
  std::string what = absl::StrCat(restore_->kind(), " ", restore_->checkpoint_id(), " (",
                                  restore_base_dir_, ") cannot be restored: ", detail);
  if (own_checkpoint && coordinator_ && AcceptDuplicates()) {
    Log()->warn(
        "Job {} ({}): {}; state.checkpoints.recovery.accept-duplicates is set: falling "
        "back to an older checkpoint, its output after that one is written again",
        spec_.name, spec_.job_id, log::Untrusted(what, 4096));
    coordinator_->DropDamaged(restore_->checkpoint_id());
    HandleFailure(what);
    return;
  }
  if (!own_checkpoint) {
    // The snapshot the job was started from: every restart would fail the same way.
    FailJob(absl::StrCat(what,
                         ". The job stops: a restart would read the same damaged files. "
                         "Start it from another savepoint or retained checkpoint."));
    return;
  }
  FailJob(DamagedSnapshotReason(restore_->checkpoint_id(), what));
}

std::string JobMaster::DamagedSnapshotReason(int64_t damaged_id, const std::string& what) {
  std::string older;  // the newest retained checkpoint before the damaged one
  if (coordinator_) {
    for (const checkpoint::CompletedCheckpointInfo& c : coordinator_->Stats().completed) {
      if (c.id >= damaged_id) continue;
      older = c.path;
      break;
    }
  }
  std::string reason = absl::StrCat(
      what,
      ". Its output may already be committed by the sinks: restoring an older snapshot would "
      "write it again, so the job stops instead of duplicating output. Ways out: start the job "
      "from a savepoint (sluice run PACKAGE --from-savepoint PATH); or, accepting duplicates, ");
  if (!older.empty()) {
    absl::StrAppend(&reason,
                    "from the older retained checkpoint (sluice run PACKAGE "
                    "--from-savepoint ",
                    older, "), or ");
  }
  absl::StrAppend(&reason,
                  "with -D state.checkpoints.recovery.accept-duplicates=true, which "
                  "falls back to an older retained checkpoint by itself.");
  return reason;
}

}  // namespace sluice::jobmanager
