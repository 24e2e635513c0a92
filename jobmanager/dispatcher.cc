#include "jobmanager/dispatcher.h"

#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
#include "jobmanager/graph_builder.h"

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
  auto plan = BuildExecutionPlan(*graph);
  if (!plan.ok()) return plan.status();

  JobSpec spec;
  spec.job_id = NewId();
  spec.name = header.name().empty() ? graph->name() : header.name();
  spec.package_sha256 = package_sha256;
  spec.args = std::move(args);
  spec.graph = *std::move(graph);
  spec.plan = *std::move(plan);
  spec.buffer_timeout_ms = spec.graph.buffer_timeout_ms() >= 0 ? spec.graph.buffer_timeout_ms()
                                                               : options_.buffer_timeout_ms;

  if (absl::Status s = ConfigureJob(header, spec); !s.ok()) {
    Log()->warn("submission of '{}' rejected: {}", spec.name, s.message());
    return s;
  }

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
  if (spec.config.GetDurationMs("execution.checkpointing.interval") == 0) return absl::OkStatus();
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
