// JobMaster: savepoints, stop-with-savepoint and rescaling. A savepoint is a checkpoint triggered
// on demand whose files the coordinator then copies, with its `_metadata` (kind "savepoint"), into
// a self-contained folder; stop-with-savepoint also tells the subtasks to stop after it. A rescale
// is a stop-with-savepoint after which the JobMaster redeploys the job at the new parallelism from
// that checkpoint, keyed state moving by key group. The JobMaster asks; the coordinator answers
// through callbacks posted back here, so nothing here waits for it.
#include <chrono>
#include <future>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/job_master.h"

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

void JobMaster::FailSavepoint(const PendingSavepoint& sp, const absl::Status& status) {
  if (sp.done) sp.done->set_value(status);
  if (sp.rescale && machine_.rescale() == RescalePhase::kStopping) {
    machine_.TransitionTo(RescalePhase::kIdle);
  }
}

void JobMaster::StartSavepoint(PendingSavepoint sp, int tries) {
  if (sp.rescale && machine_.rescale() != RescalePhase::kStopping) {
    return FailSavepoint(sp, absl::AbortedError(absl::StrCat(
                                 "the rescale of job ", spec_.job_id, " was abandoned: the job is ",
                                 std::string(JobStateName(machine_.state())))));
  }
  if (machine_.state() != JobState::kRunning || !coordinator_) {
    return FailSavepoint(sp, absl::FailedPreconditionError(absl::StrCat(
                                 "job ", spec_.job_id, " is ",
                                 std::string(JobStateName(machine_.state())), ", not RUNNING")));
  }
  for (const auto& v : vertices_) {
    for (const auto& st : v.subtasks) {
      if (st.state != SubtaskState::kRunning) {
        return FailSavepoint(
            sp, absl::FailedPreconditionError(absl::StrCat(
                    "not every subtask of job ", spec_.job_id, " is RUNNING yet (", v.plan.name,
                    " is ", std::string(SubtaskStateName(st.state)), ")")));
      }
    }
  }
  // The coordinator copies a savepoint's files itself, its checkpoint pinned meanwhile; a
  // rescale's checkpoint stays pinned until the job restored from it took its first checkpoint.
  checkpoint::TriggerOptions options;
  options.savepoint_dir = sp.dir;
  options.stop = sp.stop;
  options.drain = sp.drain;
  options.restore_after = sp.rescale;
  // Both run on the coordinator's executor: the outcome comes back to ours.
  auto triggered = [this, inbox = inbox_, sp, tries](absl::StatusOr<int64_t> id) {
    inbox->Post([this, sp, tries, id] { OnSavepointTriggered(sp, tries, id); });
  };
  auto done = [this, inbox = inbox_, sp](checkpoint::SnapshotResult result) {
    inbox->Post([this, sp, result = std::move(result)] { OnSavepointDone(sp, result); });
  };
  coordinator_->TriggerSnapshot(std::move(options), std::move(triggered), std::move(done));
}

void JobMaster::OnSavepointTriggered(const PendingSavepoint& sp, int tries,
                                     const absl::StatusOr<int64_t>& id) {
  if (absl::IsResourceExhausted(id.status()) && tries < kTriggerTries) {
    // A periodic checkpoint is in progress: try again when it is over.
    executor_.PostDelayed(std::chrono::milliseconds(100),
                          [this, sp, tries] { StartSavepoint(sp, tries + 1); });
    return;
  }
  if (!id.ok()) return FailSavepoint(sp, id.status());
  Log()->info("Job {} ({}): {} {} triggered", spec_.name, spec_.job_id,
              sp.stop ? "stop-with-savepoint" : "savepoint", *id);
}

void JobMaster::OnSavepointDone(const PendingSavepoint& sp, const checkpoint::SnapshotResult& r) {
  const int64_t id = r.checkpoint_id;
  if (!r.metadata) {
    // Aborted: the reason is in the path's status.
    const std::string reason(r.path.status().message());
    sp.done->set_value(absl::AbortedError(absl::StrCat("savepoint ", id, " failed: ", reason)));
    if (sp.stop) {
      // The sources stopped after the savepoint's barrier: go back to the latest checkpoint.
      if (sp.rescale && machine_.rescale() == RescalePhase::kStopping) {
        machine_.TransitionTo(RescalePhase::kIdle);
      }
      HandleFailure(
          absl::StrCat(sp.rescale ? "rescale" : "stop-with-savepoint", " failed: ", reason));
    }
    return;
  }
  if (sp.rescale) {
    if (machine_.rescale() != RescalePhase::kStopping) {
      sp.done->set_value(absl::AbortedError(
          absl::StrCat("the rescale of job ", spec_.job_id, " was abandoned: the job is ",
                       std::string(JobStateName(machine_.state())))));
      return;
    }
    machine_.TransitionTo(RescalePhase::kWaitingForFinish);
    restore_ = *r.metadata;
    restore_base_dir_ = spec_.checkpoint_storage->root();
    sp.done->set_value(r.path);
    CheckCompletion();  // the subtasks may all have finished already
    return;
  }
  if (sp.stop && !r.path.ok()) {
    // The sources have stopped: fail over to the stop's checkpoint (complete, retained, not yet
    // committed: its restore commits it). The job does not finish without its savepoint.
    HandleFailure(absl::StrCat("stop-with-savepoint failed: savepoint ", id,
                               " could not be written: ", r.path.status().message()));
  }
  if (r.path.ok()) {
    Log()->info("Job {} ({}): savepoint {} written to {}", spec_.name, spec_.job_id, id,
                log::Untrusted(*r.path));
    uint64_t size = 0;
    for (const auto& op : r.metadata->operators()) {
      for (const auto& st : op.subtasks()) size += snapshot::FileBytes(st);
    }
    proto::CheckpointInfo info;
    info.set_id(id);
    info.set_kind("savepoint");
    info.set_path(*r.path);
    info.set_status("COMPLETED");
    info.set_duration_ms(r.duration_ms);
    info.set_size_bytes(size);
    info.set_trigger_time_ms(r.metadata->timestamp_ms());
    savepoint_infos_.push_back(info);
  } else {
    Log()->warn("Job {} ({}): savepoint {} could not be written: {}", spec_.name, spec_.job_id, id,
                log::Untrusted(r.path.status().message(), 1024));
  }
  sp.done->set_value(r.path);
}

void JobMaster::RedeployRescaled() {
  if (!machine_.TransitionTo(RescalePhase::kRedeploying)) return;
  if (!SetJobState(JobState::kRestarting)) return;
  waiting_for_ = "the rescaled job to be deployed";
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
