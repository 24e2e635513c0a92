#include "jobmanager/checkpoint/coordinator.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
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

namespace {

using internal::IsUnreadable;
using internal::Log;
using snapshot::MetadataPath;

constexpr char kKindCheckpoint[] = "checkpoint";

std::string FormatMs(int64_t ms) { return absl::FormatDuration(absl::Milliseconds(ms)); }

std::string TaskName(TaskKey task) {
  return absl::StrCat("vertex ", task.vertex_id, " subtask ", task.subtask_index);
}

//! The id of a "chk-<n>" folder name (exactly as CheckpointFolder spells it).
std::optional<int64_t> ParseCheckpointFolder(const std::string& name) {
  absl::string_view digits = name;
  int64_t id = 0;
  if (!absl::ConsumePrefix(&digits, "chk-") || !absl::SimpleAtoi(digits, &id) || id <= 0 ||
      snapshot::CheckpointFolder(id) != name) {
    return std::nullopt;
  }
  return id;
}

//! Sizes of the files some subtask states name: private ones summed, shared ones once each.
struct FileTally {
  uint64_t private_bytes = 0;
  std::map<std::string, uint64_t> shared;  // path -> size

  void Add(const proto::OperatorSubtaskState& state) {
    for (const proto::KeyedStateHandle& keyed : state.keyed()) {
      if (keyed.has_key_groups()) private_bytes += keyed.key_groups().file().size();
      if (!keyed.has_rocksdb()) continue;
      for (const proto::RocksDbFile& f : keyed.rocksdb().private_files()) {
        private_bytes += f.file().size();
      }
      for (const proto::RocksDbFile& f : keyed.rocksdb().shared_files()) {
        shared.emplace(f.file().path(), f.file().size());
      }
    }
  }
  void Add(const std::vector<proto::OperatorSubtaskState>& states) {
    for (const auto& s : states) Add(s);
  }
  void Add(const proto::CheckpointMetadata& metadata) {
    for (const proto::OperatorSnapshot& op : metadata.operators()) {
      for (const proto::OperatorSubtaskState& s : op.subtasks()) Add(s);
    }
  }
  uint64_t TotalBytes() const {
    uint64_t total = private_bytes;
    for (const auto& [path, size] : shared) total += size;
    return total;
  }
  std::vector<std::string> SharedPaths() const {
    std::vector<std::string> paths;
    for (const auto& [path, size] : shared) paths.push_back(path);
    return paths;
  }
};

//! SnapshotStorage::List does not take the root itself (""), so a file-system root is listed as
//! an entry of its parent folder.
absl::StatusOr<std::vector<std::string>> ListRoot(snapshot::SnapshotStorage& storage) {
  return storage.List("");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Configuration, status names.

CheckpointConfig CheckpointConfig::FromConfiguration(const config::Configuration& c) {
  CheckpointConfig r;
  r.interval_ms = c.GetDurationMs("execution.checkpointing.interval");
  r.timeout_ms = c.GetDurationMs("execution.checkpointing.timeout");
  r.min_pause_ms = c.GetDurationMs("execution.checkpointing.min-pause");
  r.max_concurrent =
      static_cast<int>(c.GetInt("execution.checkpointing.max-concurrent-checkpoints"));
  r.tolerable_failures =
      static_cast<int>(c.GetInt("execution.checkpointing.tolerable-failed-checkpoints"));
  r.num_retained = static_cast<int>(c.GetInt("state.checkpoints.num-retained"));
  return r;
}

absl::Status CheckpointConfig::Validate() const {
  auto bad = [](const char* field, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint config ", field, ": ", what));
  };
  if (interval_ms < 0) return bad("interval_ms", "must be at least 0");
  if (timeout_ms < 1) return bad("timeout_ms", "must be at least 1");
  if (min_pause_ms < 0) return bad("min_pause_ms", "must be at least 0");
  if (max_concurrent < 1) return bad("max_concurrent", "must be at least 1");
  if (tolerable_failures < 0) return bad("tolerable_failures", "must be at least 0");
  if (num_retained < 1) return bad("num_retained", "must be at least 1");
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// A checkpoint in progress.

struct CheckpointCoordinator::Pending {
  struct Ack {
    std::vector<proto::OperatorSubtaskState> states;
    proto::SubtaskCheckpointStats stats;
  };

  int64_t id = 0;
  int64_t trigger_time_ms = 0;
  CheckpointStatus status = CheckpointStatus::kInProgress;
  std::set<TaskKey> awaiting;
  std::map<TaskKey, Ack> acks;
  std::vector<OperatorInfo> operators;  // as of the trigger
  TriggerOptions options;
  SnapshotCallback done;  // of a snapshot triggered on demand
  int total_subtasks = 0;
  FileTally files;  // named by the acknowledgements

  void SetStatus(CheckpointStatus to) {
    if (!IsLegalTransition(status, to)) {
      Log()->error("checkpoint {}: illegal transition from {} to {}", id,
                   CheckpointStatusName(status), CheckpointStatusName(to));
      return;
    }
    status = to;
  }
};

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
      savepoint_executor_("chksp-" + job_.job_id.substr(0, 8)) {}

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
  while (executor_.Call([this] { return io_in_flight_; }) > 0) io_executor_.Call([] {});
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
  Log()->info("Triggering checkpoint {} (job {}) at {}: {} subtask(s) to acknowledge", id,
              job_.job_id, timestamp, p->total_subtasks);
  // After a stop's barrier the sources stop: nothing is triggered after it.
  if (options.stop) stopping_after_ = id;
  pending_.emplace(id, std::move(p));
  StatsChanged();
  PublishStats();
  if (callbacks_.trigger) callbacks_.trigger(id, timestamp, options);
  ScheduleWakeup();
  return id;
}

void CheckpointCoordinator::OnTick() {
  if (lifecycle_ == Lifecycle::kStopped) return;
  const int64_t now = clock_();
  ExpireOverdue(now);
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

// ---------------------------------------------------------------------------------------------
// Failures and file cleanup.

void CheckpointCoordinator::Abort(int64_t id, const std::string& reason, bool counts_as_failure) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  std::unique_ptr<Pending> p = std::move(it->second);
  pending_.erase(it);
  p->SetStatus(CheckpointStatus::kFailed);
  const int64_t now = clock_();
  last_end_ms_ = now;
  CheckpointStats stats = StatsOf(*p, now);
  stats.failure_reason = reason;
  stats_.RecordFailed(std::move(stats));
  StatsChanged();
  if (counts_as_failure) {
    Log()->warn("Checkpoint {} of job {} failed: {}", id, job_.job_id, reason);
  } else {
    Log()->info("Checkpoint {} of job {} aborted: {}", id, job_.job_id, reason);
  }
  // Its folder, and the shared files it uploaded that no other checkpoint names.
  cleaner_.DiscardCheckpoint(id);
  cleaner_.DiscardShared(p->files.SharedPaths(), Users());
  cleaner_.CheckpointEnded(Users());
  PublishStats();
  if (callbacks_.notify_aborted) callbacks_.notify_aborted(id, reason);
  if (p->done) {
    SnapshotResult result;
    result.checkpoint_id = id;
    result.path = absl::AbortedError(reason);
    result.duration_ms = now - p->trigger_time_ms;
    p->done(std::move(result));
  }
  if (counts_as_failure) CountFailure(id, reason);
}

void CheckpointCoordinator::AbortAll(const std::string& reason) {
  while (!pending_.empty()) Abort(pending_.begin()->first, reason, false);
}

void CheckpointCoordinator::CountFailure(int64_t id, const std::string& reason) {
  const int before = failures_.consecutive_failures();
  const bool exceeded = failures_.OnFailure(id);
  StatsChanged();
  if (!exceeded) {
    if (failures_.consecutive_failures() > before) {
      Log()->info("Job {}: {} consecutive checkpoint failure(s), {} tolerated", job_.job_id,
                  failures_.consecutive_failures(), failures_.tolerable_failures());
    }
    return;
  }
  std::string message = absl::StrCat("exceeded checkpoint tolerable failure threshold: ", reason);
  Log()->error("Job {}: {}", job_.job_id, message);
  PublishStats();
  if (callbacks_.fail_job) callbacks_.fail_job(std::move(message));
}

// The acknowledgement of a checkpoint that is no longer in progress. Unless the checkpoint is
// retained, its files are orphans: the folder (recreated by a late upload) and the shared files
// nobody references go.
void CheckpointCoordinator::DiscardLateAcknowledge(
    TaskKey task, int64_t id, const std::vector<proto::OperatorSubtaskState>& states) {
  if (id >= next_id_) {
    Log()->warn("Ignoring acknowledgement by {} of checkpoint {}, which was never triggered",
                TaskName(task), id);
    return;
  }
  if (store_.Find(id) != nullptr) {
    Log()->debug("Checkpoint {}: ignoring duplicate acknowledgement of {}", id, TaskName(task));
    return;
  }
  Log()->info("Job {}: discarding late acknowledgement by {} of checkpoint {}", job_.job_id,
              TaskName(task), id);
  FileTally files;
  files.Add(states);
  cleaner_.DiscardCheckpoint(id);
  cleaner_.DiscardShared(files.SharedPaths(), Users());
}

SharedFileUsers CheckpointCoordinator::Users() const {
  SharedFileUsers users;
  users.named = [this](const std::string& path) {
    return shared_.IsReferenced(path) || NamedByPending(path);
  };
  if (!pending_.empty()) {
    users.oldest_in_progress = pending_.begin()->first;
    users.newest_in_progress = pending_.rbegin()->first;
  }
  return users;
}

bool CheckpointCoordinator::NamedByPending(const std::string& path) const {
  for (const auto& [id, p] : pending_) {
    if (p->files.shared.count(path)) return true;
  }
  return false;
}

void CheckpointCoordinator::PostIo(std::function<void()> io, std::function<void()> then,
                                   SerialExecutor* on) {
  // Savepoint copies are not counted: a test holding one up still drains everything else.
  const bool counted = on == nullptr;
  if (counted) ++io_in_flight_;
  (counted ? &io_executor_ : on)->Post([this, io = std::move(io), then = std::move(then), counted] {
    io();
    executor_.Post([this, then, counted] {
      if (counted) --io_in_flight_;
      if (then) then();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Statistics (what restarts restore: coordinator_recovery.cc).

CoordinatorStats CheckpointCoordinator::Stats() const {
  std::shared_ptr<const CoordinatorStats> published;
  {
    absl::MutexLock lock(&published_mu_);
    published = published_;
  }
  CoordinatorStats s = published ? *published : CoordinatorStats();
  const int64_t now = clock_();
  for (CheckpointStats& c : s.in_progress) c.duration_ms = now - c.trigger_time_ms;
  return s;
}

// Acknowledgements come in bursts (one per subtask): the figures are published once the burst
// has been taken, not once per acknowledgement — and at once before a callback, so that an owner
// that reads them when told of a change sees it.
void CheckpointCoordinator::StatsChanged() {
  stats_dirty_ = true;
  if (publish_posted_) return;
  publish_posted_ = true;
  executor_.Post([this] {
    publish_posted_ = false;
    if (stats_dirty_) PublishStats();
  });
}

void CheckpointCoordinator::PublishStats() {
  stats_dirty_ = false;
  const int64_t now = clock_();
  auto s = std::make_shared<CoordinatorStats>();
  for (const CompletedCheckpointStore::Entry* e : store_.NewestFirst()) {
    s->completed.push_back(e->info);
  }
  s->pinned = store_.Pinned();
  for (const auto& [id, p] : pending_) s->in_progress.push_back(StatsOf(*p, now));
  s->history = stats_.History();
  s->completed_count = stats_.completed_count();
  s->failed_count = stats_.failed_count();
  s->consecutive_failures = failures_.consecutive_failures();
  absl::MutexLock lock(&published_mu_);
  published_ = std::move(s);
}

CheckpointStats CheckpointCoordinator::StatsOf(const Pending& pending, int64_t now) const {
  CheckpointStats s;
  s.id = pending.id;
  s.kind = kKindCheckpoint;
  s.status = pending.status;
  s.trigger_time_ms = pending.trigger_time_ms;
  s.duration_ms = now - pending.trigger_time_ms;
  s.state_size_bytes = pending.files.TotalBytes();
  s.acknowledged = static_cast<int>(pending.acks.size());
  s.total_subtasks = pending.total_subtasks;
  for (const auto& [task, ack] : pending.acks) s.subtasks[task] = ack.stats;
  return s;
}

CompletedCheckpointInfo CheckpointCoordinator::InfoOf(
    const proto::CheckpointMetadata& metadata) const {
  FileTally files;
  files.Add(metadata);
  CompletedCheckpointInfo info;
  info.id = metadata.checkpoint_id();
  info.kind = metadata.kind();
  info.path = absl::StrCat(storage_->root(), "/", snapshot::CheckpointFolder(info.id));
  info.trigger_time_ms = metadata.timestamp_ms();
  info.size_bytes = files.TotalBytes();
  return info;
}

absl::StatusOr<std::vector<StoredCheckpoint>> CheckpointCoordinator::ScanStorage(
    snapshot::SnapshotStorage& storage) {
  absl::StatusOr<std::vector<std::string>> names = ListRoot(storage);
  if (!names.ok()) {
    return absl::Status(names.status().code(),
                        absl::StrCat("cannot list checkpoints in ", storage.root(), ": ",
                                     names.status().message()));
  }
  std::vector<StoredCheckpoint> found;
  for (const std::string& name : *names) {
    std::optional<int64_t> id = ParseCheckpointFolder(name);
    if (!id) continue;
    StoredCheckpoint s{*id, snapshot::ReadMetadata(storage, MetadataPath(*id))};
    if (s.metadata.ok() && s.metadata->checkpoint_id() != *id) {
      s.metadata = absl::DataLossError(
          absl::StrCat("its metadata names checkpoint ", s.metadata->checkpoint_id()));
    }
    found.push_back(std::move(s));
  }
  std::sort(found.begin(), found.end(),
            [](const StoredCheckpoint& a, const StoredCheckpoint& b) { return a.id < b.id; });
  return found;
}

}  // namespace sluice::jobmanager::checkpoint
