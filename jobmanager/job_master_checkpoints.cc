// JobMaster: the checkpoint coordinator's callbacks — triggers and notifications sent to the
// subtasks through their TaskManagers' gateways, acknowledgements passed on — and the job's
// checkpoint statistics.
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "jobmanager/job_master.h"
#include "jobmanager/snapshot_restore.h"

namespace sluice::jobmanager {
namespace {

auto Log() { return log::Get("jobmaster"); }

}  // namespace

absl::StatusOr<std::unique_ptr<checkpoint::CheckpointCoordinator>> JobMaster::CreateCoordinator() {
  checkpoint::CheckpointJobInfo job;
  job.job_id = spec_.job_id;
  job.job_name = spec_.name;
  job.package_sha256 = spec_.package_sha256;
  job.state_backend = spec_.config.GetString("state.backend.type");
  // The callbacks run on the coordinator's executor; everything they touch lives on ours.
  checkpoint::CheckpointCallbacks cb;
  cb.trigger = [this](int64_t id, int64_t ts, const checkpoint::TriggerOptions& options) {
    executor_.Post([this, id, ts, options] { TriggerAll(id, ts, options); });
  };
  cb.notify_complete = [this](int64_t id, const proto::CheckpointMetadata& metadata) {
    executor_.Post([this, id, metadata] { OnCoordinatorCompleted(id, metadata); });
  };
  cb.notify_aborted = [this](int64_t id, std::string) {
    executor_.Post([this, id] { NotifyAll(id, false); });
  };
  cb.fail_job = [this](std::string reason) {
    executor_.Post([this, reason] { HandleFailure(reason); });
  };
  return checkpoint::CheckpointCoordinator::Create(
      checkpoint::CheckpointConfig::FromConfiguration(spec_.config), job,
      spec_.checkpoint_storage.get(), std::move(cb));
}

void JobMaster::InstallCoordinator(std::unique_ptr<checkpoint::CheckpointCoordinator> coordinator) {
  coordinator_ = std::move(coordinator);
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
  if (!coordinator_ || machine_.state() != JobState::kRunning) return;
  for (const auto& v : vertices_) {
    for (const auto& st : v.subtasks) {
      if (st.state != SubtaskState::kRunning && st.state != SubtaskState::kFinished) return;
    }
  }
  if (machine_.rescale() == RescalePhase::kRedeploying) {
    Log()->info("Job {} ({}) runs at its new parallelism ({})", spec_.name, spec_.job_id,
                machine_.rescale_text());
    machine_.TransitionTo(RescalePhase::kIdle);
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

void JobMaster::TriggerAll(int64_t id, int64_t timestamp_ms,
                           const checkpoint::TriggerOptions& options) {
  const bool stop = options.stop;
  const bool drain = options.stop && options.drain;
  ForEachRunning([&](const Vertex& v, int i, const Subtask& st) {
    checkpoint::TaskKey task{v.plan.id, i};
    std::string what = SubtaskDisplayName(v.plan.name, i, v.plan.parallelism);
    auto done = [this, inbox = inbox_, task, id, what](const absl::Status& s) {
      if (s.ok()) return;
      // The PostBox runs this only while the JobMaster is alive.
      inbox->Post([this, task, id, what, s] {
        if (!coordinator_) return;
        std::string reason = absl::StrCat("its trigger did not reach ", what, ": ", s.message());
        Log()->warn("Job {} ({}): checkpoint {} is aborted: {}", log::Untrusted(spec_.name),
                    spec_.job_id, id, reason);
        coordinator_->TriggerFailed(task, id, reason);
      });
    };
    slots_.at(static_cast<size_t>(i))
        .gateway->TriggerCheckpoint(st.attempt_id, id, timestamp_ms, stop, drain, done);
  });
}

void JobMaster::NotifyAll(int64_t id, bool complete) {
  ForEachRunning([&](const Vertex& v, int i, const Subtask& st) {
    std::string what = SubtaskDisplayName(v.plan.name, i, v.plan.parallelism);
    slots_.at(static_cast<size_t>(i))
        .gateway->NotifyCheckpoint(st.attempt_id, id, complete, [what](const absl::Status& s) {
          // A lost completion notice delays a sink's commit until the next one arrives.
          if (!s.ok()) Log()->warn("{}: {}", what, s.message());
        });
  });
}

// A stop-with-savepoint's subtasks finish once told: the coordinator tells only once the
// savepoint folder is written.
void JobMaster::OnCoordinatorCompleted(int64_t id, const proto::CheckpointMetadata&) {
  NotifyAll(id, true);
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
  i.set_num_subtasks(c.total_subtasks);
  i.set_num_acknowledged_subtasks(c.acknowledged);
  return i;
}

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
        sub->set_vertex_id(std::to_string(task.vertex_id));
        sub->set_index(task.subtask_index);
        sub->set_sync_duration_ms(st.sync_duration_ms());
        sub->set_async_duration_ms(st.async_duration_ms());
        sub->set_alignment_duration_ms(st.alignment_duration_ms());
        sub->set_start_delay_ms(st.start_delay_ms());
        sub->set_state_size_bytes(st.state_size_bytes());
      }
    }
    r.set_failed(stats.failed_count);
    r.set_completed_count(stats.completed_count);
    if (restore_) {
      proto::CheckpointInfo* restored = r.mutable_restored();
      restored->set_id(restore_->checkpoint_id());
      restored->set_path(restore_base_dir_);
      restored->set_status("RESTORED");
      restored->set_kind(restore_->kind());
      restored->set_trigger_time_ms(restore_->timestamp_ms());
    }
    return r;
  });
}

}  // namespace sluice::jobmanager
