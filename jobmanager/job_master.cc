#include "jobmanager/job_master.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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
// How long a deployment whose connection broke waits to learn whether its TaskManager was lost.
constexpr std::chrono::seconds kLossGrace(1);

//! The side output a network edge reads, from the consumer node's input in the job graph.
std::string SideOutputOf(const proto::JobGraph& graph, const NetworkEdge& e) {
  for (const proto::JobNode& n : graph.nodes()) {
    if (n.id() != e.consumer_node) continue;
    if (e.input_index < 0 || e.input_index >= n.inputs_size()) return "";
    return n.inputs(e.input_index).side_output();
  }
  return "";
}

}  // namespace

JobMaster::JobMaster(JobSpec spec, std::vector<SlotAssignment> slots,
                     ResourceManager* resource_manager,
                     std::function<void(const std::string&)> on_terminal)
    : spec_(std::move(spec)),
      slots_(std::move(slots)),
      resource_manager_(resource_manager),
      on_terminal_(std::move(on_terminal)),
      machine_(spec_.job_id),
      executor_("job-" + spec_.job_id.substr(0, 8)),
      inbox_(std::make_shared<PostBox>(&executor_)),
      io_executor_("jmio-" + spec_.job_id.substr(0, 8)) {
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
  // The JobMaster's threads log with the job's id (log.format: json).
  for (SerialExecutor* e : {&executor_, &io_executor_}) {
    e->Post([id = spec_.job_id] { log::SetThreadContext("job_id", id); });
  }
  start_ms_ = WallClockMs();
  state_timestamps_[std::string(JobStateName(machine_.state()))] = start_ms_;
  absl::MutexLock lock(&summary_mu_);
  summary_.set_id(spec_.job_id);
  summary_.set_name(spec_.name);
  summary_.set_state(std::string(JobStateName(machine_.state())));
  summary_.set_start_time_ms(start_ms_);
}

JobMaster::~JobMaster() {
  inbox_->Close();  // no gateway's or I/O task's outcome reaches us from now on
  // First: a task on it may still use the coordinator (creating or stopping it).
  io_executor_.Shutdown();
  if (coordinator_) coordinator_->Stop();
  executor_.Shutdown();
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
  alignment_.ForgetAll();  // the attempts being replaced must not hold an alignment group back
  failure_origin_.reset();
  attempt_failure_.clear();
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
    if (!spec_.checkpoint_storage) {
      StartRunning();
      return;
    }
    // The coordinator reads the job's checkpoint folder when it is made.
    io_executor_.Post([this] {
      auto made =
          std::make_shared<absl::StatusOr<std::unique_ptr<checkpoint::CheckpointCoordinator>>>(
              CreateCoordinator());
      inbox_->Post([this, made] {
        if (!made->ok()) {
          FailJob(absl::StrCat("cannot set up checkpointing: ", made->status().message()));
          return;
        }
        InstallCoordinator(std::move(**made));
        StartRunning();
      });
    });
  });
}

void JobMaster::StartRunning() {
  if (machine_.state() != JobState::kCreated) return;  // cancelled meanwhile
  if (!SetJobState(JobState::kRunning)) return;
  DeployAll();
}

int64_t JobMaster::IllegalTransitions() {
  return executor_.Call([this] { return machine_.illegal_transitions(); });
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
      if (machine_.state() != JobState::kRunning) return;
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
      d.set_auto_watermark_interval_ms(spec_.auto_watermark_interval_ms);
      d.set_attempt_number(attempt_number_);
      if (spec_.checkpoint_storage) {
        auto* c = d.mutable_checkpointing();
        c->set_enabled(spec_.config.GetDurationMs("execution.checkpointing.interval") > 0);
        c->set_storage_root(spec_.checkpoint_storage->root());
        c->set_state_backend(spec_.config.GetString("state.backend.type"));
        c->set_incremental(spec_.config.GetBool("state.backend.incremental"));
        c->set_rocksdb_localdir(spec_.config.GetString("state.backend.rocksdb.localdir"));
        c->set_rocksdb_write_cache_bytes(
            spec_.config.GetMemoryBytes("state.backend.rocksdb.write-back-cache.size"));
        c->set_rocksdb_transfer_threads(static_cast<int32_t>(
            spec_.config.GetInt("state.backend.rocksdb.checkpoint.transfer.thread.num")));
        c->set_rocksdb_partitioned_index_filters(
            spec_.config.GetBool("state.backend.rocksdb.memory.partitioned-index-filters"));
        c->set_rocksdb_key_filter(spec_.config.GetBool("state.backend.rocksdb.key-filter"));
      }
      if (restore_) {
        *d.mutable_restore() =
            jobmanager::RestoreFor(*restore_, restore_base_dir_, spec_.graph, v.plan, i);
      }
      SetSubtaskState(v, i, SubtaskState::kDeploying);
      std::string reason_prefix =
          absl::StrCat("deploying ", SubtaskDisplayName(v.plan.name, i, v.plan.parallelism),
                       " to TaskManager ", slot.taskmanager_id, " failed: ");
      uint32_t vertex_id = v.plan.id;
      std::string attempt = st.attempt_id;
      std::string tm_id = slot.taskmanager_id;
      slot.gateway->Deploy(std::move(d), [this, inbox = inbox_, reason_prefix, vertex_id, i,
                                          attempt, tm_id](const absl::Status& s) {
        if (s.ok()) return;
        std::string reason = absl::StrCat(reason_prefix, s.message());
        bool connection_broke =
            absl::IsUnavailable(s) || absl::IsCancelled(s) || absl::IsDeadlineExceeded(s);
        inbox->Post([this, reason, vertex_id, i, attempt, tm_id, connection_broke] {
          auto fail = [this, reason, vertex_id, i, attempt, tm_id] {
            Vertex* vx = FindVertex(vertex_id);
            if (!vx || vx->subtasks[static_cast<size_t>(i)].attempt_id != attempt) return;
            // The TaskManager's loss, once known, is the cause (it names a crash's signal) if it
            // failed the subtask already; a loss before the job started did not.
            if (lost_taskmanagers_.count(tm_id) &&
                IsTerminal(vx->subtasks[static_cast<size_t>(i)].state)) {
              return;
            }
            SetSubtaskState(*vx, i, SubtaskState::kFailed, reason);
            HandleFailure(reason);
            CheckCompletion();
          };
          // A broken connection usually means the TaskManager died; the ResourceManager learns
          // why a moment later. Give it that moment before blaming the deployment.
          if (connection_broke) {
            executor_.PostDelayed(kLossGrace, fail);
          } else {
            fail();
          }
        });
      });
    }
  }
}

bool JobMaster::SetSubtaskState(Vertex& v, int index, SubtaskState to, const std::string& failure) {
  Subtask& st = v.subtasks[static_cast<size_t>(index)];
  if (st.state == to) return false;
  if (!IsLegalTransition(st.state, to)) {
    Log()->debug("{} ignores transition from {} to {}",
                 SubtaskDisplayName(v.plan.name, index, v.plan.parallelism),
                 SubtaskStateName(st.state), SubtaskStateName(to));
    return false;
  }
  Log()->info("{} switched from {} to {}.",
              SubtaskDisplayName(v.plan.name, index, v.plan.parallelism),
              SubtaskStateName(st.state), SubtaskStateName(to));
  st.state = to;
  if (!failure.empty()) st.failure = failure;
  if (to == SubtaskState::kDeploying) st.start_ms = WallClockMs();
  if (IsTerminal(to)) st.end_ms = WallClockMs();
  if (to == SubtaskState::kFailed && !failure_origin_) {
    failure_origin_ = FailureOrigin{SubtaskDisplayName(v.plan.name, index, v.plan.parallelism),
                                    TaskManagerOf(index)};
  }
  if (IsTerminal(to)) alignment_.Forget(st.attempt_id);  // an ended source holds nobody back
  return true;
}

bool JobMaster::SetJobState(JobState to) {
  const JobState from = machine_.state();
  if (from == to) return true;
  if (!machine_.TransitionTo(to)) return false;
  Log()->info("Job {} ({}) switched from state {} to {}.", spec_.name, spec_.job_id,
              JobStateName(from), JobStateName(to));
  state_timestamps_[std::string(JobStateName(to))] = WallClockMs();
  if (IsTerminal(to)) {
    end_ms_ = WallClockMs();
    // Stopping the coordinator waits for the deletion of the checkpoints it aborts; every job gets
    // a folder under state.checkpoints.dir at submission (savepoints pass through it too), and
    // one that retained nothing — no checkpointing, or nothing completed — leaves none.
    io_executor_.Post([coordinator = coordinator_.get(), storage = spec_.checkpoint_storage] {
      if (coordinator) coordinator->Stop();
      if (storage) storage->RemoveEmptyFolders();
    });
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
    ReleaseOnTaskManagers(
        [job_id = spec_.job_id, rm = resource_manager_] { rm->ReleaseSlots(job_id); });
    if (on_terminal_) on_terminal_(spec_.job_id);
  }
  return true;
}

void JobMaster::Cancel() {
  executor_.Post([this] {
    if (!machine_.CanCancel()) return;  // over, or already tearing down
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
      std::string what = SubtaskDisplayName(v.plan.name, i, v.plan.parallelism);
      slot.gateway->Cancel(st.attempt_id, [what](const absl::Status& s) {
        if (!s.ok()) Log()->warn("{}: {}", what, s.message());
      });
    }
  }
  // A TaskManager that never answers must not keep the job from reaching a terminal state.
  int attempt = attempt_number_;
  executor_.PostDelayed(kCancelTimeout, [this, attempt] {
    if (machine_.IsTerminal() || attempt != attempt_number_) return;
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
  using Next = JobStateMachine::WhenAllTerminal;
  switch (machine_.Decide(all_finished)) {
    case Next::kNothing:
      return;
    case Next::kFinish:
      SetJobState(JobState::kFinished);
      return;
    case Next::kFail:
      SetJobState(JobState::kFailed);
      return;
    case Next::kCancel:
      SetJobState(JobState::kCanceled);
      return;
    case Next::kRedeployRescaled:
      RedeployRescaled();
      return;
    case Next::kScheduleRedeploy: {
      machine_.RedeployScheduled();
      int64_t delay = restart_strategy_ ? restart_strategy_->BackoffMs() : 0;
      Log()->info("Job {} ({}) redeploys in {} ms", spec_.name, spec_.job_id, delay);
      waiting_for_ = absl::StrCat("the restart delay of ", delay, " ms (restart-strategy)");
      executor_.PostDelayed(std::chrono::milliseconds(delay), [this] { RedeployAfterRestart(); });
      return;
    }
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
          absl::StrCat(SubtaskDisplayName(v->plan.name, index, v->plan.parallelism),
                       " on TaskManager ", update.taskmanager_id(), " failed: ", update.failure());
    }
    // A job process crashed: consumers of its tasks may have reported their lost connections
    // first, and the job failed or restarted for that. The crash is the cause.
    if (update.root_cause() && !attempt_failure_.empty() && attempt_failure_ != failure) {
      ReplaceFailureText(attempt_failure_, failure);
      attempt_failure_ = failure;
    }
    // A report of an attempt that has ended already (FAILED from the TaskManager of a job process
    // that died after the attempt finished) changes nothing.
    if (!SetSubtaskState(*v, index, to, failure)) return;
    if (to == SubtaskState::kFailed && update.snapshot_damaged()) {
      OnRestoreDamaged(failure);
    } else if (to == SubtaskState::kFailed) {
      HandleFailure(failure);
    }
    if (to == SubtaskState::kRunning) MaybeStartCheckpointing();
    if (to == SubtaskState::kFinished && coordinator_) {
      coordinator_->TaskFinished({v->plan.id, index});
    }
    CheckCompletion();
  });
}

void JobMaster::OnMetrics(std::vector<proto::SubtaskMetrics> metrics) {
  executor_.Post([this, metrics = std::move(metrics)]() mutable {
    for (proto::SubtaskMetrics& m : metrics) {
      if (m.alignment_only()) continue;  // for the alignment group only, not shown
      Vertex* v = nullptr;
      int index = 0;
      if (!FindAttempt(m.attempt_id(), &v, &index)) continue;
      v->subtasks[static_cast<size_t>(index)].metrics = std::move(m);
    }
  });
}

void JobMaster::CorrectFailureReason(const std::string& old_reason, const std::string& new_reason) {
  executor_.Post([this, old_reason, new_reason] { ReplaceFailureText(old_reason, new_reason); });
}

void JobMaster::ReplaceFailureText(const std::string& old_reason, const std::string& new_reason) {
  auto fix = [&](std::string& text) {
    text = absl::StrReplaceAll(text, {{old_reason, new_reason}});
  };
  fix(failure_);
  fix(restart_cause_);
  for (proto::JobException& e : exceptions_) fix(*e.mutable_message());
  for (auto& v : vertices_) {
    for (auto& s : v.subtasks) fix(s.failure);
  }
}

void JobMaster::OnTaskManagerLost(const std::string& tm_id, const std::string& reason) {
  executor_.Post([this, tm_id, reason] {
    lost_taskmanagers_.insert(tm_id);
    // Not deployed yet: its deployments fail at once (the gateway is closed), which restarts the
    // job on other slots.
    if (machine_.IsTerminal() || machine_.state() == JobState::kCreated) return;
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
      const bool restarting = machine_.state() == JobState::kRestarting;
      std::string& cause = restarting ? restart_cause_ : failure_;
      if (!cause.empty() && cause.find(tm_id) == std::string::npos) {
        cause = absl::StrCat(reason, "; first reported: ", cause);
      }
      HandleFailure(reason);
    }
    CheckCompletion();
  });
}

proto::JobStatus JobMaster::Status() {
  return executor_.Call([this] {
    proto::JobStatus s;
    s.set_id(spec_.job_id);
    s.set_name(spec_.name);
    s.set_state(std::string(JobStateName(machine_.state())));
    s.set_failure(failure_);
    s.set_last_restart_cause(restart_cause_);
    if (machine_.state() == JobState::kRestarting) s.set_waiting_for(waiting_for_);
    s.set_rescale(machine_.rescale_text());
    s.set_start_time_ms(start_ms_);
    s.set_end_time_ms(end_ms_);
    s.set_num_restarts(num_restarts_);
    for (const auto& [state, ms] : state_timestamps_) (*s.mutable_state_timestamps())[state] = ms;
    for (const proto::JobException& e : exceptions_) *s.add_exceptions() = e;
    if (coordinator_) {
      checkpoint::CoordinatorStats stats = coordinator_->Stats();
      if (!stats.completed.empty()) *s.mutable_last_checkpoint() = ToInfo(stats.completed.front());
    }
    for (const auto& v : vertices_) {
      proto::VertexStatus* vs = s.add_vertices();
      vs->set_id(std::to_string(v.plan.id));
      vs->set_name(v.plan.name);
      vs->set_parallelism(v.plan.parallelism);
      vs->set_max_parallelism(v.plan.max_parallelism);
      for (const NetworkEdge& e : spec_.plan.edges) {
        if (e.consumer_vertex != v.plan.id) continue;
        proto::VertexInput* in = vs->add_inputs();
        in->set_vertex_id(std::to_string(e.producer_vertex));
        in->set_ship_strategy(proto::Partitioner_Name(e.partitioner));
        in->set_side_output(SideOutputOf(spec_.graph, e));
      }
      for (int i = 0; i < v.plan.parallelism; ++i) {
        const Subtask& st = v.subtasks[static_cast<size_t>(i)];
        proto::SubtaskStatus* ss = vs->add_subtasks();
        ss->set_index(i);
        ss->set_state(std::string(SubtaskStateName(st.state)));
        ss->set_taskmanager(TaskManagerOf(i));
        ss->set_failure(st.failure);
        if (st.metrics) *ss->mutable_metrics() = *st.metrics;
        ss->set_attempt(attempt_number_);
        ss->set_start_time_ms(st.start_ms);
        ss->set_end_time_ms(st.end_ms);
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
