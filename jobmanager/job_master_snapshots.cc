// JobMaster: savepoints, stop-with-savepoint and rescaling. A savepoint is a checkpoint triggered
// on demand whose files are then copied, with its `_metadata` (kind "savepoint"), into a
// self-contained folder; stop-with-savepoint also tells the subtasks to stop after it. A rescale is
// a stop-with-savepoint after which the JobMaster redeploys the job at the new parallelism from
// that checkpoint, keyed state moving by key group.
#include <chrono>
#include <future>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/job_master.h"
#include "jobmanager/snapshot_restore.h"

namespace sluice::jobmanager {
namespace {

auto Log() { return log::Get("jobmaster"); }

constexpr std::chrono::minutes kSavepointWait(10);
constexpr int kTriggerTries = 600;  // x 100 ms while another checkpoint is in progress

using Promise = std::promise<absl::StatusOr<std::string>>;

absl::StatusOr<std::string> Await(const std::shared_ptr<Promise>& p) {
  auto f = p->get_future();
  if (f.wait_for(kSavepointWait) != std::future_status::ready) {
    return absl::DeadlineExceededError("the savepoint did not complete within 10 minutes");
  }
  return f.get();
}

}  // namespace

absl::StatusOr<std::string> JobMaster::TriggerSavepoint(const std::string& dir, bool stop,
                                                        bool drain) {
  auto done = std::make_shared<Promise>();
  executor_.Post([this, dir, stop, drain, done] {
    const RescalePhase phase = machine_.rescale();
    if (phase == RescalePhase::kStopping || phase == RescalePhase::kWaitingForFinish) {
      done->set_value(absl::FailedPreconditionError("the job is being rescaled"));
      return;
    }
    PendingSavepoint sp;
    sp.dir = dir;
    sp.stop = stop;
    sp.drain = drain;
    sp.done = done;
    StartSavepoint(std::move(sp), 0);
  });
  return Await(done);
}

absl::StatusOr<std::string> JobMaster::Rescale(int parallelism, proto::JobGraph graph,
                                               ExecutionPlan plan) {
  auto done = std::make_shared<Promise>();
  executor_.Post(
      [this, parallelism, graph = std::move(graph), plan = std::move(plan), done]() mutable {
        if (machine_.rescale() != RescalePhase::kIdle) {
          done->set_value(absl::FailedPreconditionError("the job is being rescaled already"));
          return;
        }
        if (absl::Status s = CheckSlotsFor(plan); !s.ok()) {
          done->set_value(s);
          return;
        }
        int old_parallelism = slots_.empty() ? 0 : static_cast<int>(slots_.size());
        std::string text = absl::StrCat(old_parallelism, " -> ", plan.RequiredSlots());
        rescale_ = RescaleTarget{parallelism, std::move(graph), std::move(plan)};
        if (!machine_.TransitionTo(RescalePhase::kStopping, text)) {
          done->set_value(absl::InternalError("the rescale could not start"));
          return;
        }
        Log()->info("Job {} ({}) rescales: {}", spec_.name, spec_.job_id, text);
        PendingSavepoint sp;
        sp.rescale = true;
        sp.stop = true;
        sp.done = done;
        StartSavepoint(std::move(sp), 0);
      });
  return Await(done);
}

absl::Status JobMaster::CheckSlotsFor(const ExecutionPlan& plan) {
  int needed = plan.RequiredSlots();
  int free = 0;
  for (const auto& tm : resource_manager_->List()) free += tm.free_slots();
  int held = static_cast<int>(slots_.size());
  if (needed > free + held) {
    return absl::FailedPreconditionError(
        absl::StrCat("not enough task slots: at the new parallelism the job needs ", needed,
                     " slot(s); it holds ", held, " and ", free, " more are free"));
  }
  return absl::OkStatus();
}

void JobMaster::StartSavepoint(PendingSavepoint sp, int tries) {
  auto fail = [&](const absl::Status& s) {
    if (sp.done) sp.done->set_value(s);
    if (sp.rescale && machine_.rescale() == RescalePhase::kStopping) {
      machine_.TransitionTo(RescalePhase::kIdle);
    }
  };
  if (sp.rescale && machine_.rescale() != RescalePhase::kStopping) {
    return fail(absl::AbortedError(absl::StrCat("the rescale of job ", spec_.job_id,
                                                " was abandoned: the job is ",
                                                std::string(JobStateName(machine_.state())))));
  }
  if (machine_.state() != JobState::kRunning || !coordinator_) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("job ", spec_.job_id, " is ", std::string(JobStateName(machine_.state())),
                     ", not RUNNING")));
  }
  for (const auto& v : vertices_) {
    for (const auto& st : v.subtasks) {
      if (st.state != SubtaskState::kRunning) {
        return fail(absl::FailedPreconditionError(
            absl::StrCat("not every subtask of job ", spec_.job_id, " is RUNNING yet (",
                         v.plan.name, " is ", std::string(SubtaskStateName(st.state)), ")")));
      }
    }
  }
  // A savepoint's files are copied after it completed: pinned from then on, retention keeps it
  // while periodic checkpoints go on. A rescale restores whatever is newest and needs no pin.
  checkpoint::TriggerOptions options;
  options.pin_on_completion = !sp.rescale;
  options.stop = sp.stop;
  options.drain = sp.drain;
  absl::StatusOr<int64_t> id = coordinator_->TriggerNow(options);
  if (absl::IsResourceExhausted(id.status()) && tries < kTriggerTries) {
    // A periodic checkpoint is in progress: try again when it is over.
    executor_.PostDelayed(std::chrono::milliseconds(100), [this, sp, tries]() mutable {
      StartSavepoint(std::move(sp), tries + 1);
    });
    return;
  }
  if (!id.ok()) return fail(id.status());
  Log()->info("Job {} ({}): {} {} triggered", spec_.name, spec_.job_id,
              sp.stop ? "stop-with-savepoint" : "savepoint", *id);
  savepoints_[*id] = std::move(sp);
}

void JobMaster::OnCheckpointComplete(int64_t id, const proto::CheckpointMetadata& md) {
  auto it = savepoints_.find(id);
  if (it == savepoints_.end()) return;
  PendingSavepoint sp = std::move(it->second);
  savepoints_.erase(it);
  if (sp.rescale) {
    if (machine_.rescale() != RescalePhase::kStopping) {
      sp.done->set_value(absl::AbortedError(
          absl::StrCat("the rescale of job ", spec_.job_id, " was abandoned: the job is ",
                       std::string(JobStateName(machine_.state())))));
      return;
    }
    machine_.TransitionTo(RescalePhase::kWaitingForFinish);
    restore_ = md;
    restore_base_dir_ = spec_.checkpoint_storage->root();
    std::string path = absl::StrCat(restore_base_dir_, "/", snapshot::CheckpointFolder(id));
    sp.done->set_value(path);
    CheckCompletion();  // the subtasks may all have finished already
    return;
  }
  // The coordinator pinned it at completion: no newer checkpoint deletes its files while they are
  // copied. After a stop's savepoint no checkpoint is taken: its subtasks finish.
  if (sp.stop && coordinator_) coordinator_->Suspend();
  uint64_t size = 0;
  for (const auto& op : md.operators()) {
    for (const auto& st : op.subtasks()) size += snapshot::FileBytes(st);
  }
  io_executor_.Post([this, sp, md, size] {
    absl::StatusOr<std::string> path = WriteSavepoint(md, *spec_.checkpoint_storage, sp.dir);
    int64_t duration = WallClockMs() - md.timestamp_ms();
    executor_.Post([this, sp, path, id = md.checkpoint_id(), duration, size] {
      if (coordinator_) coordinator_->Unpin(id);
      if (sp.stop && path.ok()) {
        NotifyAll(id, true);  // the subtasks commit and finish
      } else if (sp.stop) {
        // The sources have stopped: fail over to the stop's checkpoint (complete, retained, not
        // yet committed: its restore commits it). The job does not finish without its savepoint.
        HandleFailure(absl::StrCat("stop-with-savepoint failed: savepoint ", id,
                                   " could not be written: ", path.status().message()));
      }
      if (path.ok()) {
        Log()->info("Job {} ({}): savepoint {} written to {}", spec_.name, spec_.job_id, id,
                    log::Untrusted(*path));
        proto::CheckpointInfo info;
        info.set_id(id);
        info.set_kind("savepoint");
        info.set_path(*path);
        info.set_status("COMPLETED");
        info.set_duration_ms(duration);
        info.set_size_bytes(size);
        savepoint_infos_.push_back(info);
      } else {
        Log()->warn("Job {} ({}): savepoint {} could not be written: {}", spec_.name, spec_.job_id,
                    id, log::Untrusted(path.status().message(), 1024));
      }
      sp.done->set_value(path);
    });
  });
}

void JobMaster::OnCheckpointAborted(int64_t id, const std::string& reason) {
  auto it = savepoints_.find(id);
  if (it == savepoints_.end()) return;
  PendingSavepoint sp = std::move(it->second);
  savepoints_.erase(it);
  sp.done->set_value(absl::AbortedError(absl::StrCat("savepoint ", id, " failed: ", reason)));
  if (sp.stop) {
    // The sources stopped after the savepoint's barrier: go back to the latest checkpoint.
    if (sp.rescale && machine_.rescale() == RescalePhase::kStopping) {
      machine_.TransitionTo(RescalePhase::kIdle);
    }
    HandleFailure(
        absl::StrCat(sp.rescale ? "rescale" : "stop-with-savepoint", " failed: ", reason));
  }
}

void JobMaster::RedeployRescaled() {
  if (!machine_.TransitionTo(RescalePhase::kRedeploying)) return;
  if (!SetJobState(JobState::kRestarting)) return;
  spec_.graph = std::move(rescale_.graph);
  spec_.plan = std::move(rescale_.plan);
  rescale_ = RescaleTarget{};
  BuildVertices();
  if (coordinator_) {
    coordinator_->Suspend();
    SetCoordinatorTasks();
  }
  // Slots and deployment as for a restart; the latest checkpoint is the rescale's savepoint.
  RedeployAfterRestart();
}

}  // namespace sluice::jobmanager
