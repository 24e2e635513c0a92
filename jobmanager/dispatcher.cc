#include "jobmanager/dispatcher.h"

#include <chrono>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/snapshot/metadata.h"
#include "jobmanager/graph_builder.h"
#include "jobmanager/snapshot_restore.h"

namespace sluice::jobmanager {
namespace {
auto Log() { return log::Get("dispatcher"); }
}  // namespace

Dispatcher::Dispatcher(DispatcherOptions options, BlobStore* blobs,
                       ResourceManager* resource_manager)
    : options_(options), blobs_(blobs), resource_manager_(resource_manager) {}

Dispatcher::~Dispatcher() {
  absl::MutexLock lock(&mu_);
  jobs_.clear();
}

namespace {

//! A job name is shown in tables and logs: printable characters only, and bounded.
absl::Status CheckJobName(const std::string& name, size_t max_bytes) {
  if (name.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the job name is ", name.size(), " bytes long; at most ", max_bytes, " are accepted"));
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the job name '", log::Untrusted(name, 64),
          "' contains a control character (a line break, a tab, ...); use printable characters"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::chrono::milliseconds Dispatcher::BuilderTimeout(
    std::chrono::system_clock::time_point client_deadline) const {
  // Leave the client a margin to hear the answer (and the submission's other steps).
  constexpr auto kMargin = std::chrono::seconds(5);
  if (client_deadline == std::chrono::system_clock::time_point::max()) {
    return options_.graph_builder_timeout;
  }
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      client_deadline - std::chrono::system_clock::now() - kMargin);
  return std::max(std::chrono::milliseconds(1), std::min(options_.graph_builder_timeout, left));
}

absl::StatusOr<proto::SubmitResponse> Dispatcher::Submit(
    const proto::SubmitHeader& header, const std::string& package_sha256,
    std::chrono::system_clock::time_point client_deadline) {
  if (header.parallelism() < 0) {
    return absl::InvalidArgumentError("parallelism must be a positive integer");
  }
  JobSpec spec;
  spec.job_id = NewId();
  absl::StatusOr<config::Configuration> job_config = JobConfiguration(header);
  if (!job_config.ok()) {
    Log()->warn("submission rejected: {}", log::Untrusted(job_config.status().message(), 1024));
    return job_config.status();
  }
  spec.config = *std::move(job_config);
  int parallelism = header.parallelism() > 0
                        ? header.parallelism()
                        : static_cast<int>(spec.config.GetInt("parallelism.default"));
  auto path = blobs_->PathOf(package_sha256);
  if (!path.ok()) return path.status();
  std::map<std::string, std::string> args(header.args().begin(), header.args().end());
  int max_parallelism = static_cast<int>(spec.config.GetInt("pipeline.max-parallelism"));
  auto graph = BuildJobGraph(*path, args, parallelism, std::max(max_parallelism, 0),
                             BuilderTimeout(client_deadline));
  if (!graph.ok()) {
    // The builder's stderr is the user's code speaking: never raw into our log.
    Log()->warn("submission rejected: {}", log::Untrusted(graph.status().message(), 1024));
    return graph.status();
  }
  spec.name = header.name().empty() ? graph->name() : header.name();
  spec.package_sha256 = package_sha256;
  spec.args = std::move(args);
  if (absl::Status s = CheckJobName(spec.name, options_.max_job_name_bytes); !s.ok()) {
    Log()->warn("submission rejected: {}", log::Untrusted(s.message(), 1024));
    return s;
  }
  if (absl::Status s = OpenCheckpointStorage(spec); !s.ok()) {
    Log()->warn("submission of '{}' rejected: {}", spec.name, log::Untrusted(s.message(), 1024));
    return s;
  }
  // The job's checkpoint folder exists now: a submission rejected from here on removes it.
  auto remove_folder = absl::MakeCleanup([&spec] {
    if (spec.checkpoint_storage) spec.checkpoint_storage->RemoveEmptyFolders();
  });
  if (absl::Status s = PrepareRestore(header, spec, *graph); !s.ok()) {
    Log()->warn("submission of '{}' rejected: {}", spec.name, log::Untrusted(s.message(), 1024));
    return s;
  }
  auto plan = BuildExecutionPlan(*graph);
  if (!plan.ok()) return plan.status();
  spec.graph = *std::move(graph);
  spec.plan = *std::move(plan);
  spec.buffer_timeout_ms = spec.graph.buffer_timeout_ms() >= 0
                               ? spec.graph.buffer_timeout_ms()
                               : spec.config.GetDurationMs("execution.buffer-timeout");
  spec.auto_watermark_interval_ms =
      spec.graph.auto_watermark_interval_ms() >= 0
          ? spec.graph.auto_watermark_interval_ms()
          : spec.config.GetDurationMs("pipeline.auto-watermark-interval");

  // Slots of a job that just ended come back once its TaskManagers released it (milliseconds): a
  // submission right behind it waits for them rather than being refused.
  auto slots = resource_manager_->AllocateSlots(spec.job_id, spec.plan.RequiredSlots());
  for (int attempt = 0; attempt < 50 && absl::IsUnavailable(slots.status()); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    slots = resource_manager_->AllocateSlots(spec.job_id, spec.plan.RequiredSlots());
  }
  if (!slots.ok()) {
    if (absl::IsUnavailable(slots.status())) {
      slots = absl::FailedPreconditionError(slots.status().message());
    }
    Log()->warn("submission of '{}' rejected: {}", spec.name, slots.status().message());
    return slots.status();
  }
  std::move(remove_folder).Cancel();  // the job master owns it now
  proto::SubmitResponse resp;
  resp.set_job_id(spec.job_id);
  resp.set_name(spec.name);
  auto master =
      std::make_shared<JobMaster>(std::move(spec), *std::move(slots), resource_manager_, nullptr);
  {
    absl::MutexLock lock(&mu_);
    jobs_[resp.job_id()] = master;
    order_.push_back(resp.job_id());
  }
  master->Start();
  return resp;
}

absl::StatusOr<config::Configuration> Dispatcher::JobConfiguration(
    const proto::SubmitHeader& header) const {
  config::Configuration c = options_.config;
  std::map<std::string, std::string> overrides(header.config().begin(), header.config().end());
  for (const auto& [key, value] : overrides) {
    if (absl::Status s = config::CheckJobScope(key); !s.ok()) return s;
    if (absl::Status s = c.Set(key, value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid job configuration: ", s.message()));
    }
  }
  if (auto r = RestartStrategyConfig::FromConfiguration(c); !r.ok()) return r.status();
  auto checkpoint_config = checkpoint::CheckpointConfig::FromConfiguration(c);
  if (absl::Status s = checkpoint_config.Validate(); !s.ok()) return s;
  const std::string localdir = c.GetString("state.backend.rocksdb.localdir");
  if (!localdir.empty() && localdir[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "state.backend.rocksdb.localdir must be an absolute path, not '", localdir, "'"));
  }
  return c;
}

absl::Status Dispatcher::OpenCheckpointStorage(JobSpec& spec) {
  const std::string dir = spec.config.GetString("state.checkpoints.dir");
  auto folder = SnapshotFolder(dir);
  if (!folder.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "state.checkpoints.dir must be an absolute path, file:///path or s3://bucket/prefix, "
        "not '",
        dir, "'"));
  }
  auto storage = snapshot::OpenStorage(absl::StrCat(*folder, "/", spec.job_id));
  // A listing reaches the storage: a missing bucket or bad credentials fail the submission here
  // instead of every checkpoint of the running job.
  absl::Status s = storage.status();
  if (s.ok()) s = (*storage)->List("").status();
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("state.checkpoints.dir '", dir, "': ", s.message()));
  }
  spec.checkpoint_storage = std::shared_ptr<snapshot::SnapshotStorage>(std::move(*storage));
  return absl::OkStatus();
}

absl::Status Dispatcher::PrepareRestore(const proto::SubmitHeader& header, JobSpec& spec,
                                        proto::JobGraph& graph) {
  std::string folder;
  if (!header.restore_path().empty()) {
    auto f = SnapshotFolder(header.restore_path());
    if (!f.ok()) return f.status();
    folder = *f;
  } else if (header.restore_latest()) {
    auto checkpoints = SnapshotFolder(spec.config.GetString("state.checkpoints.dir"));
    auto savepoints = SnapshotFolder(spec.config.GetString("state.savepoints.dir"));
    absl::StatusOr<std::optional<std::string>> latest = FindLatestSnapshot(
        spec.name, checkpoints.ok() ? *checkpoints : "", savepoints.ok() ? *savepoints : "");
    if (!latest.ok()) return latest.status();
    if (!*latest) {
      return absl::NotFoundError(
          absl::StrCat("--restore latest: no savepoint or retained checkpoint of a job named '",
                       spec.name, "' under state.checkpoints.dir or state.savepoints.dir"));
    }
    folder = **latest;
  } else {
    return absl::OkStatus();
  }
  auto md = ReadSnapshot(folder);
  if (!md.ok()) return md.status();
  bool has_rocksdb = false;
  for (const auto& op : md->operators()) {
    for (const auto& s : op.subtasks()) {
      for (const auto& k : s.keyed()) has_rocksdb |= k.has_rocksdb();
    }
  }
  if (has_rocksdb && spec.config.GetString("state.backend.type") != "rocksdb") {
    return absl::FailedPreconditionError(absl::StrCat(
        "'", folder,
        "' holds RocksDB state; the hashmap backend cannot restore it (run with -D "
        "state.backend.type=rocksdb; a hashmap snapshot restores into either backend)"));
  }
  if (absl::Status s = MatchSnapshot(*md, header.allow_non_restored_state(), graph); !s.ok()) {
    return s;
  }
  // Every file it names, checksums included: a damaged snapshot is refused here, naming the file,
  // instead of failing every attempt of the job (fault probe, gap 5).
  const std::string base_dir = SnapshotBaseDir(folder, *md);
  auto base = snapshot::OpenStorage(base_dir);
  if (!base.ok()) return base.status();
  if (absl::Status s = snapshot::VerifySnapshotFiles(**base, *md, /*checksums=*/true); !s.ok()) {
    return absl::Status(snapshot::IsDamage(s) ? absl::StatusCode::kFailedPrecondition : s.code(),
                        absl::StrCat("cannot restore from '", folder, "': ", s.message()));
  }
  Log()->info("job {} restores {} {} from {}", spec.job_id, md->kind(), md->checkpoint_id(),
              log::Untrusted(folder));
  spec.restore_base_dir = base_dir;
  spec.restore = *std::move(md);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Dispatcher::TriggerSavepoint(const proto::SavepointRequest& req) {
  auto m = Find(req.job_id());
  if (!m) return absl::NotFoundError(absl::StrCat("no job with id '", req.job_id(), "'"));
  std::string dir = req.dir().empty() ? m->config().GetString("state.savepoints.dir") : req.dir();
  auto folder = SnapshotFolder(dir);
  if (!folder.ok()) return folder.status();
  // Before anything stops: a folder that cannot be written would otherwise be found out after
  // the sources of a stop-with-savepoint have stopped (fault probe, defect 4).
  if (absl::Status s = CheckWritable(*folder); !s.ok()) return s;
  return m->TriggerSavepoint(*folder, req.stop(), req.drain());
}

absl::StatusOr<std::string> Dispatcher::Rescale(const proto::RescaleRequest& req) {
  auto m = Find(req.job_id());
  if (!m) return absl::NotFoundError(absl::StrCat("no job with id '", req.job_id(), "'"));
  if (req.parallelism() <= 0) {
    return absl::InvalidArgumentError("parallelism must be a positive integer");
  }
  auto path = blobs_->PathOf(m->package_sha256());
  if (!path.ok()) return path.status();
  // Max parallelism 0 (derived): every operator that ran before keeps its own, set below.
  auto graph = BuildJobGraph(*path, m->args(), req.parallelism(), /*default_max_parallelism=*/0,
                             options_.graph_builder_timeout);
  if (!graph.ok()) return graph.status();
  // Keyed state keeps its key groups: every operator keeps the max parallelism it runs with.
  proto::JobGraph current = m->Graph();
  std::map<std::string, int> max_parallelism;
  for (const auto& n : current.nodes()) max_parallelism[OperatorUid(n)] = n.max_parallelism();
  for (auto& n : *graph->mutable_nodes()) {
    auto it = max_parallelism.find(OperatorUid(n));
    if (it == max_parallelism.end()) continue;
    if (n.parallelism() > it->second) {
      return absl::InvalidArgumentError(absl::StrCat("parallelism ", n.parallelism(),
                                                     " is above the max parallelism ", it->second,
                                                     " of operator '", OperatorUid(n), "'"));
    }
    n.set_max_parallelism(it->second);
  }
  auto plan = BuildExecutionPlan(*graph);
  if (!plan.ok()) return plan.status();
  return m->Rescale(req.parallelism(), *std::move(graph), *std::move(plan));
}

absl::Status Dispatcher::CheckWritable(const std::string& folder) {
  auto storage = snapshot::OpenStorage(folder);
  absl::Status s = storage.status();
  if (s.ok()) {
    const std::string probe = absl::StrCat(".sluice-probe-", NewShortId(""));
    s = (*storage)->WriteFile(probe, "probe").status();
    (void)(*storage)->Delete(probe);
  }
  if (s.ok()) return s;
  return absl::FailedPreconditionError(
      absl::StrCat("cannot write savepoints to '", folder, "': ", s.message(),
                   "; nothing was triggered and the job keeps running"));
}

std::shared_ptr<JobMaster> Dispatcher::Find(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<JobMaster>> Dispatcher::All() {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<JobMaster>> out;
  for (const auto& id : order_) out.push_back(jobs_.at(id));
  return out;
}

std::vector<proto::JobSummary> Dispatcher::List() {
  std::vector<proto::JobSummary> out;
  for (const auto& m : All()) out.push_back(m->Summary());
  return out;
}

absl::StatusOr<proto::JobStatus> Dispatcher::Status(const std::string& job_id) {
  auto m = Find(job_id);
  if (!m) return absl::NotFoundError(absl::StrCat("no job with id '", job_id, "'"));
  return m->Status();
}

absl::StatusOr<std::string> Dispatcher::Cancel(const std::string& job_id) {
  auto m = Find(job_id);
  if (!m) return absl::NotFoundError(absl::StrCat("no job with id '", job_id, "'"));
  m->Cancel();
  return m->Summary().state();
}

void Dispatcher::OnTaskStateUpdate(const proto::TaskStateUpdate& update) {
  if (auto m = Find(update.job_id())) m->OnTaskStateUpdate(update);
}

proto::TaskMetricsAck Dispatcher::OnMetricsReport(const proto::TaskMetricsReport& report) {
  proto::TaskMetricsAck ack;
  std::map<std::string, std::vector<proto::SubtaskMetrics>> by_job;
  for (const proto::SubtaskMetrics& m : report.subtasks()) by_job[m.job_id()].push_back(m);
  for (auto& [job_id, metrics] : by_job) {
    auto master = Find(job_id);
    if (!master) continue;
    // All of this report's members first, then the answers: two subtasks of one group on this
    // TaskManager see each other's latest watermark at once.
    for (const proto::SubtaskMetrics& m : metrics) {
      if (m.alignment_group().empty()) continue;
      master->alignment().Report(m.attempt_id(), m.alignment_group(), m.alignment_max_drift_ms(),
                                 m.alignment_watermark());
    }
    for (const proto::SubtaskMetrics& m : metrics) {
      if (m.alignment_group().empty()) continue;
      proto::WatermarkAlignmentUpdate* u = ack.add_alignments();
      u->set_attempt_id(m.attempt_id());
      u->set_max_allowed_watermark(master->alignment().MaxAllowed(m.attempt_id()));
    }
    master->OnMetrics(std::move(metrics));
  }
  return ack;
}

void Dispatcher::OnTaskManagerLost(const std::string& tm_id, const std::string& reason) {
  for (const auto& m : All()) m->OnTaskManagerLost(tm_id, reason);
}

void Dispatcher::CorrectFailureReason(const std::string& old_reason,
                                      const std::string& new_reason) {
  for (const auto& m : All()) m->CorrectFailureReason(old_reason, new_reason);
}

void Dispatcher::OnAcknowledgeCheckpoint(const proto::AcknowledgeCheckpointRequest& ack) {
  if (auto m = Find(ack.job_id())) m->OnAcknowledgeCheckpoint(ack);
}

void Dispatcher::OnDeclineCheckpoint(const proto::DeclineCheckpointRequest& decline) {
  if (auto m = Find(decline.job_id())) m->OnDeclineCheckpoint(decline);
}

absl::StatusOr<proto::CheckpointsResponse> Dispatcher::Checkpoints(const std::string& job_id) {
  auto m = Find(job_id);
  if (!m) return absl::NotFoundError(absl::StrCat("no job with id '", job_id, "'"));
  return m->Checkpoints();
}

absl::StatusOr<config::Configuration> Dispatcher::JobConfig(const std::string& job_id) {
  auto m = Find(job_id);
  if (!m) return absl::NotFoundError(absl::StrCat("no job with id '", job_id, "'"));
  return m->config();
}

bool Dispatcher::PackageInUse(const std::string& package_sha256) {
  for (const auto& m : All()) {
    if (m->package_sha256() == package_sha256 && !IsTerminalJobStateName(m->Summary().state())) {
      return true;
    }
  }
  return false;
}

}  // namespace sluice::jobmanager
