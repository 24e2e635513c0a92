#include "jobmanager/job_master.h"

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace sluice::jobmanager {
namespace {

auto Log() { return log::Get("jobmaster"); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
      rpc_executor_("rpc-" + spec_.job_id.substr(0, 8)) {
  for (const auto& tv : spec_.plan.vertices) {
    Vertex v;
    v.plan = tv;
    v.subtasks.resize(static_cast<size_t>(tv.parallelism));
    for (int i = 0; i < tv.parallelism; ++i) {
      std::string attempt = absl::StrCat(spec_.job_id, "-", tv.id, "-", i, "-0");
      v.subtasks[static_cast<size_t>(i)].attempt_id = attempt;
      attempts_[attempt] = {tv.id, i};
    }
    vertices_.push_back(std::move(v));
  }
  start_ms_ = NowMs();
  absl::MutexLock lock(&summary_mu_);
  summary_.set_id(spec_.job_id);
  summary_.set_name(spec_.name);
  summary_.set_state(std::string(JobStateName(state_)));
  summary_.set_start_time_ms(start_ms_);
}

JobMaster::~JobMaster() {
  executor_.Shutdown();
  rpc_executor_.Shutdown();
}

void JobMaster::Start() {
  executor_.Post([this] {
    Log()->info("Job {} ({}) submitted: {} task(s), {} slot(s)", spec_.name, spec_.job_id,
                vertices_.size(), slots_.size());
    SetJobState(JobState::kRunning);
    DeployAll();
  });
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
      proto::TaskDeployment d = MakeDeployment(spec_.plan, spec_.graph, v.plan.id, i,
                                               absl::StrCat(spec_.job_id, ".0"), locate);
      d.set_job_id(spec_.job_id);
      d.set_job_name(spec_.name);
      d.set_attempt_id(st.attempt_id);
      d.set_package_sha256(spec_.package_sha256);
      for (const auto& [k, val] : spec_.args) (*d.mutable_args())[k] = val;
      d.set_buffer_timeout_ms(spec_.buffer_timeout_ms);
      SetSubtaskState(v, i, SubtaskState::kDeploying);
      std::string reason_prefix =
          absl::StrCat("deploying ", v.plan.name, " (", i + 1, "/", v.plan.parallelism,
                       ") to TaskManager ", slot.taskmanager_id, " failed: ");
      uint32_t vertex_id = v.plan.id;
      rpc_executor_.Post(
          [this, d = std::move(d), gateway = slot.gateway, reason_prefix, vertex_id, i] {
            absl::Status s = gateway->Deploy(d);
            if (s.ok()) return;
            std::string reason = absl::StrCat(reason_prefix, s.message());
            executor_.Post([this, reason, vertex_id, i] {
              Vertex* vx = FindVertex(vertex_id);
              if (!vx) return;
              SetSubtaskState(*vx, i, SubtaskState::kFailed, reason);
              FailJob(reason);
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
    end_ms_ = NowMs();
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

void JobMaster::FailJob(const std::string& reason) {
  if (IsTerminal(state_) || state_ == JobState::kFailing) return;
  if (failure_.empty()) failure_ = reason;
  Log()->warn("Job {} ({}) fails: {}", spec_.name, spec_.job_id, reason);
  SetJobState(state_ == JobState::kCancelling ? JobState::kCancelling : JobState::kFailing);
  CancelRemaining();
  CheckCompletion();
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
  executor_.PostDelayed(kCancelTimeout, [this] {
    if (IsTerminal(state_)) return;
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
  if (state_ == JobState::kRunning && all_finished) {
    SetJobState(JobState::kFinished);
  } else if (state_ == JobState::kFailing) {
    SetJobState(JobState::kFailed);
  } else if (state_ == JobState::kCancelling) {
    SetJobState(JobState::kCanceled);
  }
}

JobMaster::Vertex* JobMaster::FindVertex(uint32_t id) {
  for (auto& v : vertices_) {
    if (v.plan.id == id) return &v;
  }
  return nullptr;
}

void JobMaster::OnTaskStateUpdate(const proto::TaskStateUpdate& update) {
  executor_.Post([this, update] {
    auto it = attempts_.find(update.attempt_id());
    if (it == attempts_.end()) return;
    Vertex* v = FindVertex(it->second.first);
    int index = it->second.second;
    SubtaskState to = FromProto(update.state());
    std::string failure;
    if (to == SubtaskState::kFailed) {
      failure =
          absl::StrCat(v->plan.name, " (", index + 1, "/", v->plan.parallelism, ") on TaskManager ",
                       update.taskmanager_id(), " failed: ", update.failure());
    }
    SetSubtaskState(*v, index, to, failure);
    if (to == SubtaskState::kFailed) FailJob(failure);
    CheckCompletion();
  });
}

void JobMaster::OnMetrics(std::vector<proto::SubtaskMetrics> metrics) {
  executor_.Post([this, metrics = std::move(metrics)]() mutable {
    for (proto::SubtaskMetrics& m : metrics) {
      auto it = attempts_.find(m.attempt_id());
      if (it == attempts_.end()) continue;  // an attempt this job no longer runs
      Vertex* v = FindVertex(it->second.first);
      Subtask& st = v->subtasks[static_cast<size_t>(it->second.second)];
      if (st.attempt_id == m.attempt_id()) st.metrics = std::move(m);
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
        if (slots_.at(static_cast<size_t>(i)).taskmanager_id != tm_id) continue;
        if (IsTerminal(v.subtasks[static_cast<size_t>(i)].state)) continue;
        affected = true;
        SetSubtaskState(v, i, SubtaskState::kFailed, reason);
      }
    }
    if (affected) {
      // The TaskManager's loss is the root cause even when its consumers noticed first.
      if (!failure_.empty() && failure_.find(tm_id) == std::string::npos) {
        failure_ = absl::StrCat(reason, "; first reported: ", failure_);
      }
      FailJob(reason);
    }
    CheckCompletion();
  });
}

proto::JobStatus JobMaster::Status() {
  return executor_.Call([this] {
    proto::JobStatus s;
    s.set_id(spec_.job_id);
    s.set_name(spec_.name);
    s.set_state(std::string(JobStateName(state_)));
    s.set_failure(failure_);
    s.set_start_time_ms(start_ms_);
    s.set_end_time_ms(end_ms_);
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
        ss->set_taskmanager(slots_.at(static_cast<size_t>(i)).taskmanager_id);
        ss->set_failure(st.failure);
        if (st.metrics) *ss->mutable_metrics() = *st.metrics;
      }
    }
    return s;
  });
}

proto::JobSummary JobMaster::Summary() {
  absl::MutexLock lock(&summary_mu_);
  return summary_;
}

}  // namespace sluice::jobmanager
