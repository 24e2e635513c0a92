#include "jobmanager/job_master.h"

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/snapshot_restore.h"

namespace sluice::jobmanager {
namespace {

auto Log() { return log::Get("jobmaster"); }

SubtaskState FromProto(proto::TaskState s) {
  switch (s) {
    case proto::CREATED:
      return SubtaskState::kCreated;
    case proto::SCHEDULED:
      return SubtaskState::kScheduled;
    case proto::DEPLOYING:
      return SubtaskState::kDeploying;
    case proto::INITIALIZING:
      return SubtaskState::kInitializing;
    case proto::RUNNING:
      return SubtaskState::kRunning;
    case proto::FINISHED:
      return SubtaskState::kFinished;
    case proto::CANCELING:
      return SubtaskState::kCanceling;
    case proto::CANCELED:
      return SubtaskState::kCanceled;
    default:
      return SubtaskState::kFailed;
  }
}

constexpr std::chrono::seconds kCancelTimeout(30);

}  // namespace

JobMaster::JobMaster(JobSpec spec, std::vector<SlotAssignment> slots,
                     ResourceManager* resource_manager,
                     std::function<void(const std::string&)> on_terminal)
    : spec_(std::move(spec)),
      slots_(std::move(slots)),
      resource_manager_(resource_manager),
      on_terminal_(std::move(on_terminal)),
      executor_("job-" + spec_.job_id.substr(0, 8)),
      rpc_executor_("rpc-" + spec_.job_id.substr(0, 8)),
      io_executor_("spio-" + spec_.job_id.substr(0, 8)) {
  BuildVertices();
  NewAttempts();
  if (spec_.restore) {
    restore_ = spec_.restore;
    restore_base_dir_ = spec_.restore_base_dir;
  }
  auto strategy = CreateRestartStrategy(spec_.config);
  if (strategy.ok()) {
    restart_strategy_ = *std::move(strategy);
  } else {
    // Validated at submission; keep the job running without restarts rather than crash.
    Log()->warn("job {}: {}; restarts are off", spec_.job_id, strategy.status().message());
  }
  start_ms_ = WallClockMs();
  absl::MutexLock lock(&summary_mu_);
  summary_.set_id(spec_.job_id);
  summary_.set_name(spec_.name);
  summary_.set_state(std::string(JobStateName(state_)));
  summary_.set_start_time_ms(start_ms_);
}

JobMaster::~JobMaster() {
  if (coordinator_) coordinator_->Stop();
  executor_.Shutdown();
  rpc_executor_.Shutdown();
  io_executor_.Shutdown();
  coordinator_.reset();
}

void JobMaster::BuildVertices() {
  vertices_.clear();
  for (const auto& tv : spec_.plan.vertices) {
    Vertex v;
    v.plan = tv;
    v.subtasks.resize(static_cast<size_t>(tv.parallelism));
    vertices_.push_back(std::move(v));
  }
}

void JobMaster::NewAttempts() {
  for (auto& v : vertices_) {
    for (int i = 0; i < v.plan.parallelism; ++i) {
      std::string attempt =
          absl::StrCat(spec_.job_id, "-", v.plan.id, "-", i, "-", attempt_number_);
      v.subtasks[static_cast<size_t>(i)] = Subtask{};
      v.subtasks[static_cast<size_t>(i)].attempt_id = attempt;
      attempts_[attempt] = {v.plan.id, i};
    }
  }
}

void JobMaster::Start() {
  executor_.Post([this] {
    Log()->info("Job {} ({}) submitted: {} task(s), {} slot(s)", spec_.name, spec_.job_id,
                vertices_.size(), slots_.size());
    if (restart_strategy_) Log()->info("Restart strategy: {}", restart_strategy_->Describe());
    SetUpCheckpointing();
    SetJobState(JobState::kRunning);
    DeployAll();
  });
}

void JobMaster::SetUpCheckpointing() {
  if (!spec_.checkpoint_storage) return;
  checkpoint::CheckpointJobInfo job;
  job.job_id = spec_.job_id;
  job.job_name = spec_.name;
  job.package_sha256 = spec_.package_sha256;
  job.state_backend = spec_.config.GetString("state.backend.type");
  checkpoint::CheckpointCallbacks cb;
  cb.trigger = [this](int64_t id, int64_t ts) {
    executor_.Post([this, id, ts] {
      // A stop-with-savepoint's trigger is posted after StartSavepoint recorded it.
      auto sp = savepoints_.find(id);
      bool stop = sp != savepoints_.end() && sp->second.stop;
      bool drain = stop && sp->second.drain;
      ForEachRunning([&](const Vertex& v, int i, const Subtask& st) {
        rpc_executor_.Post([gw = slots_.at(static_cast<size_t>(i)).gateway, attempt = st.attempt_id,
                            id, ts, stop, drain, name = v.plan.name] {
          absl::Status s = gw->TriggerCheckpoint(attempt, id, ts, stop, drain);
          if (!s.ok()) Log()->debug("trigger of checkpoint {} at {}: {}", id, name, s.message());
        });
      });
    });
  };
  auto notify = [this](int64_t id, bool complete) {
    executor_.Post([this, id, complete] {
      ForEachRunning([&](const Vertex&, int i, const Subtask& st) {
        rpc_executor_.Post([gw = slots_.at(static_cast<size_t>(i)).gateway, attempt = st.attempt_id,
                            id, complete] {
          absl::Status s = gw->NotifyCheckpoint(attempt, id, complete);
          if (!s.ok()) Log()->debug("notify of checkpoint {}: {}", id, s.message());
        });
      });
    });
  };
  cb.notify_complete = [this, notify](int64_t id) {
    notify(id, true);
    executor_.Post([this, id] { OnCheckpointComplete(id); });
  };
  cb.notify_aborted = [this, notify](int64_t id, std::string reason) {
    notify(id, false);
    executor_.Post([this, id, reason] { OnCheckpointAborted(id, reason); });
  };
  cb.fail_job = [this](std::string reason) {
    executor_.Post([this, reason] {
      if (state_ == JobState::kRunning) HandleFailure(reason);
    });
  };
  auto coordinator = checkpoint::CheckpointCoordinator::Create(
      checkpoint::CheckpointConfig::FromConfiguration(spec_.config), job,
      spec_.checkpoint_storage.get(), std::move(cb));
  if (!coordinator.ok()) {
    FailJob(absl::StrCat("cannot set up checkpointing: ", coordinator.status().message()));
    return;
  }
  coordinator_ = *std::move(coordinator);
  if (restore_) coordinator_->RestoreFrom(restore_->checkpoint_id());
  SetCoordinatorTasks();
}

void JobMaster::SetCoordinatorTasks() {
  std::vector<checkpoint::TaskKey> tasks;
  std::vector<checkpoint::OperatorInfo> operators;
  for (const auto& v : vertices_) {
    for (int i = 0; i < v.plan.parallelism; ++i) tasks.push_back({v.plan.id, i});
    for (uint32_t node_id : v.plan.nodes) {
      const proto::JobNode& node = spec_.graph.nodes(static_cast<int>(node_id));
      checkpoint::OperatorInfo op;
      op.uid = OperatorUid(node);
      op.node_id = node.id();
      op.parallelism = v.plan.parallelism;
      op.max_parallelism = node.max_parallelism();
      operators.push_back(std::move(op));
    }
  }
  coordinator_->SetTasks(std::move(tasks), std::move(operators));
}

void JobMaster::MaybeStartCheckpointing() {
  if (!coordinator_ || state_ != JobState::kRunning) return;
  for (const auto& v : vertices_) {
    for (const auto& st : v.subtasks) {
      if (st.state != SubtaskState::kRunning && st.state != SubtaskState::kFinished) return;
    }
  }
  if (!rescale_text_.empty() && !rescale_) {
    Log()->info("Job {} ({}) runs at its new parallelism ({})", spec_.name, spec_.job_id,
                rescale_text_);
    rescale_text_.clear();
  }
  if (!checkpointing_started_) {
    checkpointing_started_ = true;
    coordinator_->Start();
  } else {
    coordinator_->Resume();
  }
}

void JobMaster::ForEachRunning(const std::function<void(const Vertex&, int, const Subtask&)>& fn) {
  for (const auto& v : vertices_) {
    for (int i = 0; i < v.plan.parallelism; ++i) {
      const Subtask& st = v.subtasks[static_cast<size_t>(i)];
      if (st.state != SubtaskState::kRunning) continue;
      if (lost_taskmanagers_.count(slots_.at(static_cast<size_t>(i)).taskmanager_id)) continue;
      fn(v, i, st);
    }
  }
}

void JobMaster::DeployAll() {
  auto locate = [this](uint32_t vertex, int subtask) {
    const SlotAssignment& s = slots_.at(static_cast<size_t>(subtask));
    (void)vertex;
    return SubtaskLocation{s.taskmanager_id, s.data_address};
  };
  for (auto& v : vertices_) {
    for (int i = 0; i < v.plan.parallelism; ++i) SetSubtaskState(v, i, SubtaskState::kScheduled);
  }
  for (auto& v : vertices_) {
    for (int i = 0; i < v.plan.parallelism; ++i) {
      if (state_ != JobState::kRunning) return;
      Subtask& st = v.subtasks[static_cast<size_t>(i)];
      const SlotAssignment& slot = slots_.at(static_cast<size_t>(i));
      proto::TaskDeployment d =
          MakeDeployment(spec_.plan, spec_.graph, v.plan.id, i,
                         absl::StrCat(spec_.job_id, ".", attempt_number_), locate);
      d.set_job_id(spec_.job_id);
      d.set_job_name(spec_.name);
      d.set_attempt_id(st.attempt_id);
      d.set_package_sha256(spec_.package_sha256);
      for (const auto& [k, val] : spec_.args) (*d.mutable_args())[k] = val;
      d.set_buffer_timeout_ms(spec_.buffer_timeout_ms);
      d.set_attempt_number(attempt_number_);
      if (spec_.checkpoint_storage) {
        auto* c = d.mutable_checkpointing();
        c->set_enabled(spec_.config.GetDurationMs("execution.checkpointing.interval") > 0);
        c->set_storage_root(spec_.checkpoint_storage->root());
        c->set_state_backend(spec_.config.GetString("state.backend.type"));
        c->set_incremental(spec_.config.GetBool("state.backend.incremental"));
      }
      if (restore_) {
        *d.mutable_restore() =
            jobmanager::RestoreFor(*restore_, restore_base_dir_, spec_.graph, v.plan, i);
      }
      SetSubtaskState(v, i, SubtaskState::kDeploying);
      std::string reason_prefix =
          absl::StrCat("deploying ", v.plan.name, " (", i + 1, "/", v.plan.parallelism,
                       ") to TaskManager ", slot.taskmanager_id, " failed: ");
      uint32_t vertex_id = v.plan.id;
      std::string attempt = st.attempt_id;
      rpc_executor_.Post(
          [this, d = std::move(d), gateway = slot.gateway, reason_prefix, vertex_id, i, attempt] {
            absl::Status s = gateway->Deploy(d);
            if (s.ok()) return;
            std::string reason = absl::StrCat(reason_prefix, s.message());
            executor_.Post([this, reason, vertex_id, i, attempt] {
              Vertex* vx = FindVertex(vertex_id);
              if (!vx || vx->subtasks[static_cast<size_t>(i)].attempt_id != attempt) return;
              SetSubtaskState(*vx, i, SubtaskState::kFailed, reason);
              HandleFailure(reason);
              CheckCompletion();
            });
          });
    }
  }
}

void JobMaster::SetSubtaskState(Vertex& v, int index, SubtaskState to, const std::string& failure) {
  Subtask& st = v.subtasks[static_cast<size_t>(index)];
  if (st.state == to) return;
  if (!IsLegalTransition(st.state, to)) {
    Log()->debug("{} ({}/{}) ignores transition from {} to {}", v.plan.name, index + 1,
                 v.plan.parallelism, SubtaskStateName(st.state), SubtaskStateName(to));
    return;
  }
  Log()->info("{} ({}/{}) switched from {} to {}.", v.plan.name, index + 1, v.plan.parallelism,
              SubtaskStateName(st.state), SubtaskStateName(to));
  st.state = to;
  if (!failure.empty()) st.failure = failure;
}

void JobMaster::SetJobState(JobState to) {
  if (state_ == to || !IsLegalTransition(state_, to)) return;
  Log()->info("Job {} ({}) switched from state {} to {}.", spec_.name, spec_.job_id,
              JobStateName(state_), JobStateName(to));
  state_ = to;
  if (IsTerminal(to)) {
    end_ms_ = WallClockMs();
    if (coordinator_) coordinator_->Stop();
    // Every job gets a folder under state.checkpoints.dir at submission (savepoints pass through
    // it too); one that retained nothing — no checkpointing, or nothing completed — leaves none.
    if (spec_.checkpoint_storage) spec_.checkpoint_storage->RemoveEmptyFolders();
    // Before anyone can see the terminal state: a submission that follows waits for these slots.
    resource_manager_->BeginRelease(spec_.job_id);
  }
  {
    absl::MutexLock lock(&summary_mu_);
    summary_.set_state(std::string(JobStateName(to)));
  }
  if (IsTerminal(to)) {
    // Free the TaskManagers' resources (network buffers of finished tasks) before the slots go back
    // to the pool, so that a job placed into them finds the memory free.
    std::map<std::string, std::shared_ptr<TaskManagerGateway>> gateways;
    for (const auto& s : slots_) {
      if (!lost_taskmanagers_.count(s.taskmanager_id)) gateways[s.taskmanager_id] = s.gateway;
    }
    rpc_executor_.Post([gateways, job_id = spec_.job_id, rm = resource_manager_] {
      for (const auto& [id, gw] : gateways) {
        absl::Status s = gw->ReleaseJob(job_id);
        if (!s.ok()) Log()->debug("release of job {} on {}: {}", job_id, id, s.message());
      }
      rm->ReleaseSlots(job_id);
    });
    if (on_terminal_) on_terminal_(spec_.job_id);
  }
}

void JobMaster::HandleFailure(const std::string& reason) {
  if (IsTerminal(state_) || state_ == JobState::kFailing || state_ == JobState::kCancelling) {
    return;
  }
  if (state_ == JobState::kRestarting) return;  // already tearing down for a restart
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

void JobMaster::FailJob(const std::string& reason) {
  if (IsTerminal(state_) || state_ == JobState::kFailing) return;
  if (failure_.empty()) failure_ = reason;
  Log()->warn("Job {} ({}) fails: {}", spec_.name, spec_.job_id, reason);
  SetJobState(state_ == JobState::kCancelling ? JobState::kCancelling : JobState::kFailing);
  CancelRemaining();
  CheckCompletion();
}

void JobMaster::Restart(const std::string& reason) {
  ++num_restarts_;
  restart_cause_ = reason;
  Log()->warn("Job {} ({}) restarts (restart #{}): {}", spec_.name, spec_.job_id, num_restarts_,
              reason);
  SetJobState(JobState::kRestarting);
  if (coordinator_) coordinator_->Suspend();
  redeploy_scheduled_ = false;
  CancelRemaining();
  CheckCompletion();
}

void JobMaster::RedeployAfterRestart() {
  if (state_ != JobState::kRestarting) return;
  // Free what the old attempts hold on the TaskManagers, then take slots anew (a lost
  // TaskManager's slots are gone; one that registered since may be used).
  std::map<std::string, std::shared_ptr<TaskManagerGateway>> gateways;
  for (const auto& s : slots_) {
    if (!lost_taskmanagers_.count(s.taskmanager_id)) gateways[s.taskmanager_id] = s.gateway;
  }
  rpc_executor_.Post([this, gateways] {
    for (const auto& [id, gw] : gateways) {
      absl::Status s = gw->ReleaseJob(spec_.job_id);
      if (!s.ok()) Log()->debug("release of job {} on {}: {}", spec_.job_id, id, s.message());
    }
    resource_manager_->ReleaseSlots(spec_.job_id);
    executor_.Post([this] { AllocateAndRedeploy(0); });
  });
}

void JobMaster::AllocateAndRedeploy(int tries) {
  if (state_ != JobState::kRestarting) return;
  auto slots = resource_manager_->AllocateSlots(spec_.job_id, spec_.plan.RequiredSlots());
  if (!slots.ok()) {
    if (tries % 20 == 0) {
      Log()->info("Job {} ({}) waits for slots: {}", spec_.name, spec_.job_id,
                  slots.status().message());
    }
    executor_.PostDelayed(std::chrono::milliseconds(250),
                          [this, tries] { AllocateAndRedeploy(tries + 1); });
    return;
  }
  slots_ = *std::move(slots);
  for (const auto& s : slots_) lost_taskmanagers_.erase(s.taskmanager_id);
  if (coordinator_) {
    auto latest = coordinator_->RecoverLatest();
    if (!latest.ok()) {
      FailJob(absl::StrCat("cannot read the latest checkpoint: ", latest.status().message()));
      return;
    }
    if (*latest) {
      restore_ = *latest;
      restore_base_dir_ = spec_.checkpoint_storage->root();
    }
    if (restore_) {
      Log()->info("Job {} ({}) restores checkpoint {}", spec_.name, spec_.job_id,
                  restore_->checkpoint_id());
    } else {
      Log()->info("Job {} ({}) restarts without state: no completed checkpoint", spec_.name,
                  spec_.job_id);
    }
  }
  ++attempt_number_;
  NewAttempts();
  SetJobState(JobState::kRunning);
  DeployAll();
}

void JobMaster::Cancel() {
  executor_.Post([this] {
    if (IsTerminal(state_) || state_ == JobState::kCancelling) return;
    if (state_ == JobState::kFailing) return;  // already tearing down
    SetJobState(JobState::kCancelling);
    CancelRemaining();
    CheckCompletion();
  });
}

void JobMaster::CancelRemaining() {
  for (auto& v : vertices_) {
    for (int i = 0; i < v.plan.parallelism; ++i) {
      Subtask& st = v.subtasks[static_cast<size_t>(i)];
      if (IsTerminal(st.state) || st.state == SubtaskState::kCanceling) continue;
      if (st.state == SubtaskState::kCreated || st.state == SubtaskState::kScheduled) {
        SetSubtaskState(v, i, SubtaskState::kCanceled);
        continue;
      }
      SetSubtaskState(v, i, SubtaskState::kCanceling);
      const SlotAssignment& slot = slots_.at(static_cast<size_t>(i));
      if (lost_taskmanagers_.count(slot.taskmanager_id)) continue;
      std::string what = absl::StrCat(v.plan.name, " (", i + 1, "/", v.plan.parallelism, ") on ",
                                      slot.taskmanager_id);
      rpc_executor_.Post([gw = slot.gateway, attempt = st.attempt_id, what] {
        absl::Status s = gw->Cancel(attempt);
        if (!s.ok()) Log()->warn("cancel of {} failed: {}", what, s.message());
      });
    }
  }
  // A TaskManager that never answers must not keep the job from reaching a terminal state.
  int attempt = attempt_number_;
  executor_.PostDelayed(kCancelTimeout, [this, attempt] {
    if (IsTerminal(state_) || attempt != attempt_number_) return;
    for (auto& v : vertices_) {
      for (int i = 0; i < v.plan.parallelism; ++i) {
        if (!IsTerminal(v.subtasks[static_cast<size_t>(i)].state)) {
          SetSubtaskState(v, i, SubtaskState::kFailed, "no answer to cancel");
        }
      }
    }
    CheckCompletion();
  });
}

void JobMaster::CheckCompletion() {
  bool all_terminal = true, all_finished = true;
  for (const auto& v : vertices_) {
    for (const auto& st : v.subtasks) {
      all_terminal &= IsTerminal(st.state);
      all_finished &= st.state == SubtaskState::kFinished;
    }
  }
  if (!all_terminal) return;
  if (state_ == JobState::kRunning && all_finished && rescale_ && rescale_->savepoint_complete) {
    RedeployRescaled();
  } else if (state_ == JobState::kRunning && all_finished) {
    SetJobState(JobState::kFinished);
  } else if (state_ == JobState::kFailing) {
    SetJobState(JobState::kFailed);
  } else if (state_ == JobState::kCancelling) {
    SetJobState(JobState::kCanceled);
  } else if (state_ == JobState::kRestarting && !redeploy_scheduled_) {
    redeploy_scheduled_ = true;
    int64_t delay = restart_strategy_ ? restart_strategy_->BackoffMs() : 0;
    Log()->info("Job {} ({}) redeploys in {} ms", spec_.name, spec_.job_id, delay);
    executor_.PostDelayed(std::chrono::milliseconds(delay), [this] { RedeployAfterRestart(); });
  }
}

std::string JobMaster::TaskManagerOf(int subtask) const {
  // Between a rescale's new vertices and its new slots, subtasks may outnumber the slots.
  auto i = static_cast<size_t>(subtask);
  return i < slots_.size() ? slots_[i].taskmanager_id : std::string();
}

JobMaster::Vertex* JobMaster::FindVertex(uint32_t id) {
  for (auto& v : vertices_) {
    if (v.plan.id == id) return &v;
  }
  return nullptr;
}

bool JobMaster::FindAttempt(const std::string& attempt_id, Vertex** v, int* index) {
  auto it = attempts_.find(attempt_id);
  if (it == attempts_.end()) return false;
  Vertex* vx = FindVertex(it->second.first);
  auto index_ok = [&] { return it->second.second < static_cast<int>(vx->subtasks.size()); };
  if (!vx || !index_ok() ||
      vx->subtasks[static_cast<size_t>(it->second.second)].attempt_id != attempt_id) {
    return false;  // an earlier attempt of a restarted job
  }
  *v = vx;
  *index = it->second.second;
  return true;
}

void JobMaster::OnTaskStateUpdate(const proto::TaskStateUpdate& update) {
  executor_.Post([this, update] {
    Vertex* v = nullptr;
    int index = 0;
    if (!FindAttempt(update.attempt_id(), &v, &index)) return;
    SubtaskState to = FromProto(update.state());
    std::string failure;
    if (to == SubtaskState::kFailed) {
      failure =
          absl::StrCat(v->plan.name, " (", index + 1, "/", v->plan.parallelism, ") on TaskManager ",
                       update.taskmanager_id(), " failed: ", update.failure());
    }
    SetSubtaskState(*v, index, to, failure);
    if (to == SubtaskState::kFailed) HandleFailure(failure);
    if (to == SubtaskState::kRunning) MaybeStartCheckpointing();
    if (to == SubtaskState::kFinished && coordinator_) {
      coordinator_->TaskFinished({v->plan.id, index});
    }
    CheckCompletion();
  });
}

void JobMaster::OnAcknowledgeCheckpoint(const proto::AcknowledgeCheckpointRequest& ack) {
  executor_.Post([this, ack] {
    Vertex* v = nullptr;
    int index = 0;
    if (!coordinator_ || !FindAttempt(ack.attempt_id(), &v, &index)) return;
    coordinator_->Acknowledge({v->plan.id, index}, ack.checkpoint_id(),
                              {ack.operators().begin(), ack.operators().end()}, ack.stats());
  });
}

void JobMaster::OnDeclineCheckpoint(const proto::DeclineCheckpointRequest& decline) {
  executor_.Post([this, decline] {
    Vertex* v = nullptr;
    int index = 0;
    if (!coordinator_ || !FindAttempt(decline.attempt_id(), &v, &index)) return;
    coordinator_->Decline({v->plan.id, index}, decline.checkpoint_id(), decline.reason());
  });
}

void JobMaster::OnMetrics(std::vector<proto::SubtaskMetrics> metrics) {
  executor_.Post([this, metrics = std::move(metrics)]() mutable {
    for (proto::SubtaskMetrics& m : metrics) {
      Vertex* v = nullptr;
      int index = 0;
      if (!FindAttempt(m.attempt_id(), &v, &index)) continue;
      v->subtasks[static_cast<size_t>(index)].metrics = std::move(m);
    }
  });
}

void JobMaster::OnTaskManagerLost(const std::string& tm_id, const std::string& reason) {
  executor_.Post([this, tm_id, reason] {
    lost_taskmanagers_.insert(tm_id);
    if (IsTerminal(state_)) return;
    bool affected = false;
    for (auto& v : vertices_) {
      for (int i = 0; i < v.plan.parallelism; ++i) {
        if (TaskManagerOf(i) != tm_id) continue;
        if (IsTerminal(v.subtasks[static_cast<size_t>(i)].state)) continue;
        affected = true;
        SetSubtaskState(v, i, SubtaskState::kFailed, reason);
      }
    }
    if (affected) {
      // The TaskManager's loss is the root cause even when its consumers noticed first.
      std::string& cause = state_ == JobState::kRestarting ? restart_cause_ : failure_;
      if (!cause.empty() && cause.find(tm_id) == std::string::npos) {
        cause = absl::StrCat(reason, "; first reported: ", cause);
      }
      if (state_ != JobState::kRestarting) HandleFailure(reason);
    }
    CheckCompletion();
  });
}

namespace {

proto::CheckpointInfo ToInfo(const checkpoint::CompletedCheckpointInfo& c) {
  proto::CheckpointInfo i;
  i.set_id(c.id);
  i.set_kind(c.kind);
  i.set_path(c.path);
  i.set_duration_ms(c.duration_ms);
  i.set_size_bytes(c.size_bytes);
  i.set_status("COMPLETED");
  i.set_trigger_time_ms(c.trigger_time_ms);
  return i;
}

proto::CheckpointInfo ToInfo(const checkpoint::CheckpointStats& c) {
  proto::CheckpointInfo i;
  i.set_id(c.id);
  i.set_kind(c.kind);
  i.set_duration_ms(c.duration_ms);
  i.set_size_bytes(c.state_size_bytes);
  i.set_status(std::string(checkpoint::CheckpointStatusName(c.status)));
  i.set_trigger_time_ms(c.trigger_time_ms);
  i.set_failure(c.failure_reason);
  return i;
}

}  // namespace

proto::CheckpointsResponse JobMaster::Checkpoints() {
  return executor_.Call([this] {
    proto::CheckpointsResponse r;
    r.set_restarts(num_restarts_);
    r.set_enabled(coordinator_ != nullptr);
    if (!coordinator_) return r;
    checkpoint::CoordinatorStats stats = coordinator_->Stats();
    for (auto it = savepoint_infos_.rbegin(); it != savepoint_infos_.rend(); ++it) {
      *r.add_completed() = *it;
    }
    for (const auto& c : stats.completed) *r.add_completed() = ToInfo(c);
    for (const auto& c : stats.in_progress) *r.add_in_progress() = ToInfo(c);
    for (const auto& c : stats.history) {
      proto::CheckpointInfo* info = r.add_history();
      *info = ToInfo(c);
      for (const auto& [task, st] : c.subtasks) {
        proto::SubtaskCheckpointInfo* sub = info->add_subtasks();
        Vertex* v = FindVertex(task.vertex_id);
        sub->set_vertex(v ? v->plan.name : std::to_string(task.vertex_id));
        sub->set_index(task.subtask_index);
        sub->set_sync_duration_ms(st.sync_duration_ms());
        sub->set_async_duration_ms(st.async_duration_ms());
        sub->set_alignment_duration_ms(st.alignment_duration_ms());
        sub->set_start_delay_ms(st.start_delay_ms());
        sub->set_state_size_bytes(st.state_size_bytes());
      }
    }
    r.set_failed(stats.failed_count);
    return r;
  });
}

proto::JobStatus JobMaster::Status() {
  return executor_.Call([this] {
    proto::JobStatus s;
    s.set_id(spec_.job_id);
    s.set_name(spec_.name);
    s.set_state(std::string(JobStateName(state_)));
    s.set_failure(failure_);
    s.set_last_restart_cause(restart_cause_);
    s.set_rescale(rescale_text_);
    s.set_start_time_ms(start_ms_);
    s.set_end_time_ms(end_ms_);
    s.set_num_restarts(num_restarts_);
    if (coordinator_) {
      checkpoint::CoordinatorStats stats = coordinator_->Stats();
      if (!stats.completed.empty()) *s.mutable_last_checkpoint() = ToInfo(stats.completed.front());
    }
    for (const auto& v : vertices_) {
      proto::VertexStatus* vs = s.add_vertices();
      vs->set_id(std::to_string(v.plan.id));
      vs->set_name(v.plan.name);
      vs->set_parallelism(v.plan.parallelism);
      for (int i = 0; i < v.plan.parallelism; ++i) {
        const Subtask& st = v.subtasks[static_cast<size_t>(i)];
        proto::SubtaskStatus* ss = vs->add_subtasks();
        ss->set_index(i);
        ss->set_state(std::string(SubtaskStateName(st.state)));
        ss->set_taskmanager(TaskManagerOf(i));
        ss->set_failure(st.failure);
        if (st.metrics) *ss->mutable_metrics() = *st.metrics;
      }
    }
    return s;
  });
}

proto::JobGraph JobMaster::Graph() {
  return executor_.Call([this] { return spec_.graph; });
}

proto::JobSummary JobMaster::Summary() {
  absl::MutexLock lock(&summary_mu_);
  return summary_;
}

}  // namespace sluice::jobmanager
