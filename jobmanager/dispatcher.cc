#include "jobmanager/dispatcher.h"

#include <chrono>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
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

absl::StatusOr<proto::SubmitResponse> Dispatcher::Submit(const proto::SubmitHeader& header,
                                                         const std::string& package_sha256) {
  if (header.parallelism() < 0) {
    return absl::InvalidArgumentError("parallelism must be a positive integer");
  }
  int parallelism = header.parallelism() > 0 ? header.parallelism() : options_.default_parallelism;
  auto path = blobs_->PathOf(package_sha256);
  if (!path.ok()) return path.status();
  std::map<std::string, std::string> args(header.args().begin(), header.args().end());
  auto graph = BuildJobGraph(*path, args, parallelism, options_.graph_builder_timeout);
  if (!graph.ok()) {
    Log()->warn("submission rejected: {}", graph.status().message());
    return graph.status();
  }
  JobSpec spec;
  spec.job_id = NewId();
  spec.name = header.name().empty() ? graph->name() : header.name();
  spec.package_sha256 = package_sha256;
  spec.args = std::move(args);
  if (absl::Status s = ConfigureJob(header, spec); !s.ok()) {
    Log()->warn("submission of '{}' rejected: {}", spec.name, s.message());
    return s;
  }
  // ConfigureJob made the job's checkpoint folder: a submission rejected from here on removes it.
  auto remove_folder = absl::MakeCleanup([&spec] {
    if (spec.checkpoint_storage) spec.checkpoint_storage->RemoveEmptyFolders();
  });
  if (absl::Status s = PrepareRestore(header, spec, *graph); !s.ok()) {
    Log()->warn("submission of '{}' rejected: {}", spec.name, s.message());
    return s;
  }
  auto plan = BuildExecutionPlan(*graph);
  if (!plan.ok()) return plan.status();
  spec.graph = *std::move(graph);
  spec.plan = *std::move(plan);
  spec.buffer_timeout_ms = spec.graph.buffer_timeout_ms() >= 0 ? spec.graph.buffer_timeout_ms()
                                                               : options_.buffer_timeout_ms;

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

absl::Status Dispatcher::ConfigureJob(const proto::SubmitHeader& header, JobSpec& spec) {
  spec.config = options_.config;
  std::map<std::string, std::string> overrides(header.config().begin(), header.config().end());
  for (const auto& [key, value] : overrides) {
    if (absl::Status s = spec.config.Set(key, value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid job configuration: ", s.message()));
    }
  }
  if (auto r = RestartStrategyConfig::FromConfiguration(spec.config); !r.ok()) return r.status();
  auto checkpoint_config = checkpoint::CheckpointConfig::FromConfiguration(spec.config);
  if (absl::Status s = checkpoint_config.Validate(); !s.ok()) return s;
  std::string dir = spec.config.GetString("state.checkpoints.dir");
  std::string path = absl::StartsWith(dir, "file://") ? dir.substr(7) : dir;
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "state.checkpoints.dir must be an absolute path or file:///path, not '", dir, "'"));
  }
  auto storage = snapshot::OpenStorage(absl::StrCat(path, "/", spec.job_id));
  if (!storage.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("state.checkpoints.dir '", dir, "': ", storage.status().message()));
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
    std::optional<std::string> latest = FindLatestSnapshot(
        spec.name, checkpoints.ok() ? *checkpoints : "", savepoints.ok() ? *savepoints : "");
    if (!latest) {
      return absl::NotFoundError(
          absl::StrCat("--restore latest: no savepoint or retained checkpoint of a job named '",
                       spec.name, "' under state.checkpoints.dir or state.savepoints.dir"));
    }
    folder = *latest;
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
  Log()->info("job {} restores {} {} from {}", spec.job_id, md->kind(), md->checkpoint_id(),
              folder);
  spec.restore_base_dir = SnapshotBaseDir(folder, *md);
  spec.restore = *std::move(md);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Dispatcher::TriggerSavepoint(const proto::SavepointRequest& req) {
  auto m = Find(req.job_id());
  if (!m) return absl::NotFoundError(absl::StrCat("no job with id '", req.job_id(), "'"));
  std::string dir = req.dir().empty() ? m->config().GetString("state.savepoints.dir") : req.dir();
  auto folder = SnapshotFolder(dir);
  if (!folder.ok()) return folder.status();
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
  auto graph = BuildJobGraph(*path, m->args(), req.parallelism(), options_.graph_builder_timeout);
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

void Dispatcher::OnMetricsReport(const proto::TaskMetricsReport& report) {
  std::map<std::string, std::vector<proto::SubtaskMetrics>> by_job;
  for (const proto::SubtaskMetrics& m : report.subtasks()) by_job[m.job_id()].push_back(m);
  for (auto& [job_id, metrics] : by_job) {
    if (auto m = Find(job_id)) m->OnMetrics(std::move(metrics));
  }
}

void Dispatcher::OnTaskManagerLost(const std::string& tm_id, const std::string& reason) {
  for (const auto& m : All()) m->OnTaskManagerLost(tm_id, reason);
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

}  // namespace sluice::jobmanager
