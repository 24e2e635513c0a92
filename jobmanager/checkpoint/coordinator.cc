#include "jobmanager/checkpoint/coordinator.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/checkpoint/coordinator_internal.h"
#include "jobmanager/checkpoint/savepoint_writer.h"

namespace sluice::jobmanager::checkpoint {

namespace internal {

bool IsUnreadable(const absl::Status& status) {
  return snapshot::IsDamage(status) || absl::IsFailedPrecondition(status);
}

}  // namespace internal

using internal::FileTally;
using internal::FormatMs;
using internal::kKindCheckpoint;
using internal::Log;
using internal::TaskName;
using snapshot::MetadataPath;

// ---------------------------------------------------------------------------------------------
// Construction and lifecycle.

absl::StatusOr<std::unique_ptr<CheckpointCoordinator>> CheckpointCoordinator::Create(
    CheckpointConfig config, CheckpointJobInfo job, snapshot::SnapshotStorage* storage,
    CheckpointCallbacks callbacks, CheckpointClock clock, SavepointWriter writer) {
  if (storage == nullptr) return absl::InvalidArgumentError("no snapshot storage");
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  absl::StatusOr<std::vector<StoredCheckpoint>> stored = ScanStorage(*storage);
  if (!stored.ok()) return stored.status();
  std::unique_ptr<CheckpointCoordinator> c(new CheckpointCoordinator(
      config, std::move(job), storage, std::move(callbacks), std::move(clock), std::move(writer)));
  c->Adopt(*std::move(stored));
  return c;
}

CheckpointCoordinator::CheckpointCoordinator(CheckpointConfig config, CheckpointJobInfo job,
                                             snapshot::SnapshotStorage* storage,
                                             CheckpointCallbacks callbacks, CheckpointClock clock,
                                             SavepointWriter writer)
    : config_(config),
      job_(std::move(job)),
      storage_(storage),
      callbacks_(std::move(callbacks)),
      clock_(clock ? std::move(clock) : CheckpointClock(WallClockMs)),
      writer_(writer ? std::move(writer) : SavepointWriter(WriteSavepoint)),
      store_(config_.num_retained),
      cleaner_(job_.job_id, storage, [this](std::function<void()> io) { PostIo(std::move(io)); }),
      failures_(config_.tolerable_failures),
      executor_("chk-" + job_.job_id.substr(0, 8)),
      io_executor_("chkio-" + job_.job_id.substr(0, 8)),
      savepoint_executor_("chksp-" + job_.job_id.substr(0, 8)) {
  // Its threads log with the job's id (log.format: json).
  for (SerialExecutor* e : {&executor_, &io_executor_, &savepoint_executor_}) {
    e->Post([id = job_.job_id] { log::SetThreadContext("job_id", id); });
  }
}

CheckpointCoordinator::~CheckpointCoordinator() {
  executor_.Shutdown();
  savepoint_executor_.Shutdown();
  io_executor_.Shutdown();
}

// Runs before anything is posted to the executor, so it may touch its state directly.
void CheckpointCoordinator::Adopt(std::vector<StoredCheckpoint> stored) {
  std::vector<StoredCheckpoint*> readable;
  for (StoredCheckpoint& s : stored) {
    next_id_ = std::max(next_id_, s.id + 1);
    if (s.metadata.ok()) {
      readable.push_back(&s);
    } else {
      Log()->info("Job {}: ignoring {}: {}", job_.job_id, snapshot::CheckpointFolder(s.id),
                  s.metadata.status().message());
    }
  }
  const size_t keep = std::min(readable.size(), static_cast<size_t>(config_.num_retained));
  for (size_t i = readable.size() - keep; i < readable.size(); ++i) {
    const proto::CheckpointMetadata& md = *readable[i]->metadata;
    FileTally files;
    files.Add(md);
    shared_.Register(md.checkpoint_id(), files.SharedPaths());
    store_.Add(md.checkpoint_id(), {md, InfoOf(md)});
    failures_.OnCompleted(md.checkpoint_id());
    ever_completed_ = true;
  }
  Log()->info("Job {}: {} completed checkpoint(s) on {} retained, next checkpoint id {}",
              job_.job_id, store_.size(), storage_->root(), next_id_);
  PublishStats();
}

bool CheckpointCoordinator::SetLifecycle(Lifecycle to) {
  using L = Lifecycle;
  bool legal = false;
  switch (lifecycle_) {
    case L::kCreated:
      legal = to == L::kRunning || to == L::kSuspended || to == L::kStopped;
      break;
    case L::kRunning:
      legal = to == L::kSuspended || to == L::kStopped;
      break;
    case L::kSuspended:
      legal = to == L::kRunning || to == L::kStopped;
      break;
    case L::kStopped:
      break;
  }
  if (legal) lifecycle_ = to;
  return legal;
}

void CheckpointCoordinator::SetTasks(std::vector<TaskKey> tasks,
                                     std::vector<OperatorInfo> operators) {
  executor_.Post([this, tasks = std::move(tasks), operators = std::move(operators)]() mutable {
    std::sort(tasks.begin(), tasks.end());
    tasks.erase(std::unique(tasks.begin(), tasks.end()), tasks.end());
    tasks_ = std::move(tasks);
    finished_.clear();
    operators_ = std::move(operators);
    OnTick();
  });
}

void CheckpointCoordinator::TaskFinished(TaskKey task) {
  executor_.Post([this, task] { OnTaskFinished(task); });
}

// The first checkpoint is due `interval` from the call, not from when the executor gets to it.
void CheckpointCoordinator::Start() {
  executor_.Post([this, now = clock_()] {
    if (!SetLifecycle(Lifecycle::kRunning)) return;
    if (config_.interval_ms > 0) next_periodic_ms_ = now + config_.interval_ms;
    Log()->info("Job {}: checkpointing every {} (timeout {}, min pause {}, max concurrent {})",
                job_.job_id, FormatMs(config_.interval_ms), FormatMs(config_.timeout_ms),
                FormatMs(config_.min_pause_ms), config_.max_concurrent);
    ScheduleWakeup();
  });
}

void CheckpointCoordinator::Suspend() {
  executor_.Post([this] {
    if (!SetLifecycle(Lifecycle::kSuspended)) return;
    FailQueued(absl::FailedPreconditionError("checkpointing is suspended while the job restarts"));
    next_periodic_ms_.reset();
    stopping_after_.reset();
    finished_.clear();
    AbortAll("job restarting");
  });
}

void CheckpointCoordinator::Resume() { Start(); }

void CheckpointCoordinator::Stop() {
  RunSync([this] {
    if (!SetLifecycle(Lifecycle::kStopped)) return;
    FailQueued(absl::FailedPreconditionError("the checkpoint coordinator is stopped"));
    next_periodic_ms_.reset();
    AbortAll("checkpoint coordinator stopped");
    ReleaseRestorePin();
  });
  // Savepoint copies under way end, and their outcomes (posted back meanwhile) are delivered.
  savepoint_executor_.Call([] {});
  RunSync([] {});
  io_executor_.Call([] {});  // the deletions of the aborted checkpoints have run
}

void CheckpointCoordinator::RestoreFrom(int64_t checkpoint_id) {
  executor_.Post([this, checkpoint_id] { next_id_ = std::max(next_id_, checkpoint_id + 1); });
}

// ---------------------------------------------------------------------------------------------
// Triggering and time.

void CheckpointCoordinator::Tick() {
  RunSync([this] { OnTick(); });
}

void CheckpointCoordinator::Drain() {
  // The figures are published too: a test reads them next.
  auto in_flight = [this] {
    if (stats_dirty_) PublishStats();
    return io_in_flight_;
  };
  while (executor_.Call(in_flight) > 0) io_executor_.Call([] {});
}

size_t CheckpointCoordinator::MaxConcurrent() const {
  return config_.min_pause_ms > 0 ? 1 : static_cast<size_t>(config_.max_concurrent);
}

absl::Status CheckpointCoordinator::CheckCanTrigger() const {
  if (lifecycle_ == Lifecycle::kSuspended) {
    return absl::FailedPreconditionError("checkpointing is suspended while the job restarts");
  }
  if (lifecycle_ == Lifecycle::kStopped) {
    return absl::FailedPreconditionError("the checkpoint coordinator is stopped");
  }
  if (stopping_after_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the job stops after checkpoint ", *stopping_after_));
  }
  if (tasks_.size() <= finished_.size()) {
    return absl::FailedPreconditionError("the job has no running tasks to checkpoint");
  }
  if (pending_.size() >= MaxConcurrent()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(pending_.size(), " checkpoint(s) in progress, at most ", MaxConcurrent()));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> CheckpointCoordinator::Trigger(TriggerOptions options,
                                                       SnapshotCallback done) {
  if (absl::Status s = CheckCanTrigger(); !s.ok()) return s;
  auto p = std::make_unique<Pending>();
  p->id = next_id_++;
  p->options = options;
  p->done = std::move(done);
  p->trigger_time_ms = clock_();
  for (const TaskKey& task : tasks_) {
    if (!finished_.count(task)) p->awaiting.insert(task);
  }
  p->total_subtasks = static_cast<int>(p->awaiting.size());
  p->operators = operators_;
  const int64_t id = p->id;
  const int64_t timestamp = p->trigger_time_ms;
  log::ScopedContext checkpoint_context("checkpoint_id", std::to_string(id));
  Log()->info("Triggering checkpoint {} (job {}) at {}: {} subtask(s) to acknowledge", id,
              job_.job_id, timestamp, p->total_subtasks);
  // After a stop's barrier the sources stop: nothing is triggered after it.
  if (options.stop) stopping_after_ = id;
  pending_.emplace(id, std::move(p));
  PublishStats();
  if (callbacks_.trigger) callbacks_.trigger(id, timestamp, options);
  ScheduleWakeup();
  return id;
}

void CheckpointCoordinator::OnTick() {
  if (lifecycle_ == Lifecycle::kStopped) return;
  const int64_t now = clock_();
  ExpireOverdue(now);
  MaybeTriggerQueued();  // before the periodic trigger: it has waited longer
  MaybeTriggerPeriodic(now);
  ScheduleWakeup();
}

void CheckpointCoordinator::ExpireOverdue(int64_t now) {
  std::vector<int64_t> expired;
  for (const auto& [id, p] : pending_) {
    if (now >= p->trigger_time_ms + config_.timeout_ms) expired.push_back(id);
  }
  for (int64_t id : expired) {
    Abort(id, absl::StrCat("expired after ", FormatMs(config_.timeout_ms)), true);
  }
}

// A periodic trigger that is due but blocked (too many in progress, min pause) stays due, so it
// happens as soon as a checkpoint ends and the pause allows.
void CheckpointCoordinator::MaybeTriggerPeriodic(int64_t now) {
  if (lifecycle_ != Lifecycle::kRunning || !next_periodic_ms_ || now < *next_periodic_ms_) return;
  if (config_.min_pause_ms > 0 && last_end_ms_ && now < *last_end_ms_ + config_.min_pause_ms) {
    return;
  }
  if (!CheckCanTrigger().ok()) return;
  next_periodic_ms_ = now + config_.interval_ms;
  (void)Trigger();
}

std::optional<int64_t> CheckpointCoordinator::NextDeadline() const {
  std::optional<int64_t> next;
  auto consider = [&next](int64_t t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [id, p] : pending_) consider(p->trigger_time_ms + config_.timeout_ms);
  if (!queued_snapshots_.empty() && !absl::IsResourceExhausted(CheckCanTrigger())) {
    consider(clock_());
  }
  if (lifecycle_ == Lifecycle::kRunning && next_periodic_ms_ && CheckCanTrigger().ok()) {
    int64_t t = *next_periodic_ms_;
    if (config_.min_pause_ms > 0 && last_end_ms_) {
      t = std::max(t, *last_end_ms_ + config_.min_pause_ms);
    }
    consider(t);
  }
  return next;
}

// Keeps one timer posted for the earliest deadline; a timer that finds nothing due posts the
// next one.
void CheckpointCoordinator::ScheduleWakeup() {
  if (lifecycle_ == Lifecycle::kStopped) return;
  const int64_t now = clock_();
  std::optional<int64_t> due = NextDeadline();
  if (!due || (wakeup_ms_ && *wakeup_ms_ <= *due)) return;
  wakeup_ms_ = *due;
  const auto delay = std::chrono::milliseconds(std::max<int64_t>(0, *due - now));
  executor_.PostDelayed(delay, [this, at = *due] {
    if (wakeup_ms_ == at) wakeup_ms_.reset();
    OnTick();
  });
}

// ---------------------------------------------------------------------------------------------
// Acknowledgements and completion.

void CheckpointCoordinator::Acknowledge(TaskKey task, int64_t checkpoint_id,
                                        std::vector<proto::OperatorSubtaskState> states,
                                        proto::SubtaskCheckpointStats stats) {
  executor_.Post(
      [this, task, checkpoint_id, states = std::move(states), stats = std::move(stats)]() mutable {
        OnAcknowledge(task, checkpoint_id, std::move(states), std::move(stats));
      });
}

void CheckpointCoordinator::Decline(TaskKey task, int64_t checkpoint_id, std::string reason) {
  executor_.Post([this, task, checkpoint_id, reason = std::move(reason)] {
    OnDecline(task, checkpoint_id, reason);
  });
}

void CheckpointCoordinator::TriggerFailed(TaskKey task, int64_t checkpoint_id, std::string reason) {
  executor_.Post([this, task, checkpoint_id, reason = std::move(reason)] {
    auto it = pending_.find(checkpoint_id);
    if (it == pending_.end() || it->second->status != CheckpointStatus::kInProgress ||
        !it->second->awaiting.count(task)) {
      return;  // ended meanwhile, or the task answered after all
    }
    Abort(checkpoint_id, absl::StrCat("trigger failed: ", reason), false);
    OnTick();
  });
}

void CheckpointCoordinator::OnAcknowledge(TaskKey task, int64_t id,
                                          std::vector<proto::OperatorSubtaskState> states,
                                          proto::SubtaskCheckpointStats stats) {
  log::ScopedContext checkpoint_context("checkpoint_id", std::to_string(id));
  auto it = pending_.find(id);
  if (it == pending_.end()) {
    DiscardLateAcknowledge(task, id, states);
    return;
  }
  Pending& p = *it->second;
  if (p.status != CheckpointStatus::kInProgress || p.awaiting.erase(task) == 0) {
    // A duplicate names the same files as the acknowledgement already taken: nothing to delete.
    Log()->debug("Checkpoint {}: ignoring duplicate or unexpected acknowledgement of {}", id,
                 TaskName(task));
    return;
  }
  p.files.Add(states);
  p.acks[task] = Pending::Ack{std::move(states), std::move(stats)};
  StatsChanged();
  Log()->debug("Checkpoint {}: acknowledged by {} ({}/{})", id, TaskName(task), p.acks.size(),
               p.total_subtasks);
  if (p.awaiting.empty()) Finalize(p);
  OnTick();
}

void CheckpointCoordinator::OnDecline(TaskKey task, int64_t id, const std::string& reason) {
  log::ScopedContext checkpoint_context("checkpoint_id", std::to_string(id));
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second->status != CheckpointStatus::kInProgress ||
      (!it->second->awaiting.count(task) && !it->second->acks.count(task))) {
    Log()->debug("Checkpoint {}: ignoring decline by {}: {}", id, TaskName(task), reason);
    return;
  }
  Abort(id, absl::StrCat("declined by ", TaskName(task), ": ", reason), true);
  OnTick();
}

void CheckpointCoordinator::OnTaskFinished(TaskKey task) {
  if (std::find(tasks_.begin(), tasks_.end(), task) == tasks_.end()) return;
  finished_.insert(task);
  std::vector<int64_t> complete;
  std::vector<int64_t> empty;
  for (const auto& [id, p] : pending_) {
    if (p->status != CheckpointStatus::kInProgress || p->awaiting.erase(task) == 0) continue;
    if (p->awaiting.empty()) (p->acks.empty() ? empty : complete).push_back(id);
  }
  for (int64_t id : complete) Finalize(*pending_.at(id));
  for (int64_t id : empty) Abort(id, "every subtask finished", false);
  OnTick();
}

// Every subtask acknowledged: `_metadata` is written on the I/O executor, then the checkpoint
// completes (OnMetadataWritten).
void CheckpointCoordinator::Finalize(Pending& pending) {
  pending.SetStatus(CheckpointStatus::kFinalizing);
  StatsChanged();
  const int64_t id = pending.id;
  auto metadata = std::make_shared<const proto::CheckpointMetadata>(BuildMetadata(pending));
  auto written = std::make_shared<absl::Status>();
  PostIo([this, id, metadata, written] { *written = WriteAndVerify(id, *metadata); },
         [this, id, metadata, written] { OnMetadataWritten(id, metadata, *written); });
}

absl::Status CheckpointCoordinator::WriteAndVerify(int64_t id,
                                                   const proto::CheckpointMetadata& metadata) {
  const std::string path = MetadataPath(id);
  if (absl::Status s = snapshot::WriteMetadata(*storage_, path, metadata); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("writing the metadata failed: ", s.message()));
  }
  absl::StatusOr<proto::CheckpointMetadata> back = snapshot::ReadMetadata(*storage_, path);
  if (!back.ok()) {
    return absl::Status(back.status().code(), absl::StrCat("the metadata written does not read "
                                                           "back: ",
                                                           back.status().message()));
  }
  if (back->SerializeAsString() != metadata.SerializeAsString()) {
    return absl::DataLossError("the metadata written reads back differently");
  }
  if (absl::Status s = snapshot::VerifySnapshotFiles(*storage_, metadata, /*checksums=*/false);
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("a state file it names is damaged: ", s.message()));
  }
  return absl::OkStatus();
}

void CheckpointCoordinator::OnMetadataWritten(
    int64_t id, std::shared_ptr<const proto::CheckpointMetadata> metadata,
    const absl::Status& written) {
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second->status != CheckpointStatus::kFinalizing) {
    // Aborted meanwhile; its folder's deletion was posted after the write, so it runs after it.
    Log()->debug("Checkpoint {}: metadata written after the checkpoint was aborted", id);
    return;
  }
  if (!written.ok()) {
    Abort(id, std::string(written.message()), true);
  } else {
    std::unique_ptr<Pending> p = std::move(it->second);
    pending_.erase(it);
    Complete(std::move(p), *metadata);
  }
  OnTick();
}

void CheckpointCoordinator::Complete(std::unique_ptr<Pending> p,
                                     const proto::CheckpointMetadata& metadata) {
  log::ScopedContext checkpoint_context("checkpoint_id", std::to_string(p->id));
  p->SetStatus(CheckpointStatus::kCompleted);
  const int64_t now = clock_();
  const int64_t id = p->id;
  last_end_ms_ = now;
  failures_.OnCompleted(id);
  ever_completed_ = true;
  // Registered before older checkpoints are released, so files they share survive.
  shared_.Register(id, p->files.SharedPaths());
  CompletedCheckpointInfo info = InfoOf(metadata);
  info.duration_ms = now - p->trigger_time_ms;
  info.size_bytes = p->files.TotalBytes();
  // A savepoint stays pinned while its files are copied (Announce).
  const std::vector<int64_t> dropped =
      store_.Add(id, {metadata, info}, /*pin=*/!p->options.savepoint_dir.empty());
  stats_.RecordCompleted(StatsOf(*p, now));
  StatsChanged();
  Log()->info("Completed checkpoint {} for job {} ({} bytes in {} ms).", id, job_.job_id,
              info.size_bytes, info.duration_ms);
  // The restored job took its first checkpoint: what it restored may go as retention says.
  if (restore_pin_ && *restore_pin_ < id) ReleaseRestorePin();
  if (p->options.restore_after) PinForRestore(id);
  SubsumeOlderThan(id);
  DeleteDropped(dropped);
  cleaner_.CheckpointEnded(Users());
  Announce(id, p->trigger_time_ms, p->options, std::move(p->done), metadata);
}

proto::CheckpointMetadata CheckpointCoordinator::BuildMetadata(const Pending& pending) const {
  proto::CheckpointMetadata md;
  md.set_format_version(snapshot::kMetadataFormatVersion);
  md.set_job_id(job_.job_id);
  md.set_job_name(job_.job_name);
  md.set_checkpoint_id(pending.id);
  md.set_kind(kKindCheckpoint);
  md.set_timestamp_ms(pending.trigger_time_ms);
  md.set_package_sha256(job_.package_sha256);
  md.set_state_backend(job_.state_backend);
  std::map<std::string, proto::OperatorSnapshot*> by_uid;
  for (const OperatorInfo& op : pending.operators) {
    proto::OperatorSnapshot* s = md.add_operators();
    s->set_uid(op.uid);
    s->set_node_id(op.node_id);
    s->set_parallelism(op.parallelism);
    s->set_max_parallelism(op.max_parallelism);
    by_uid[op.uid] = s;
  }
  for (const auto& [task, ack] : pending.acks) {
    for (const proto::OperatorSubtaskState& state : ack.states) {
      proto::OperatorSnapshot*& op = by_uid[state.uid()];
      if (op == nullptr) {
        Log()->warn("Checkpoint {}: {} acknowledged state of unknown operator '{}' (node {})",
                    pending.id, TaskName(task), state.uid(), state.node_id());
        op = md.add_operators();
        op->set_uid(state.uid());
        op->set_node_id(state.node_id());
      }
      *op->add_subtasks() = state;
    }
  }
  for (proto::OperatorSnapshot& op : *md.mutable_operators()) {
    std::sort(op.mutable_subtasks()->pointer_begin(), op.mutable_subtasks()->pointer_end(),
              [](const proto::OperatorSubtaskState* a, const proto::OperatorSubtaskState* b) {
                return a->subtask_index() < b->subtask_index();
              });
  }
  return md;
}

void CheckpointCoordinator::SubsumeOlderThan(int64_t id) {
  std::vector<int64_t> older;
  for (const auto& [pending_id, p] : pending_) {
    if (pending_id < id) older.push_back(pending_id);
  }
  for (int64_t o : older) Abort(o, absl::StrCat("subsumed by checkpoint ", id), false);
}

void CheckpointCoordinator::DeleteDropped(const std::vector<int64_t>& ids) {
  for (int64_t id : ids) {
    Log()->info("Job {}: removing checkpoint {} (retaining {})", job_.job_id, id,
                config_.num_retained);
    cleaner_.DiscardCheckpoint(id);
    cleaner_.DiscardShared(shared_.Release(id), Users());
  }
  if (!ids.empty()) StatsChanged();
}

}  // namespace sluice::jobmanager::checkpoint
