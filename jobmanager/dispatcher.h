// Dispatcher: accepts submissions (store the package, build the graph in a helper process, plan the
// execution, take slots) and keeps the JobMasters of all jobs, running and ended. Thread-safe: a
// mutex guards the job table only; each JobMaster does its work on its own executor.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "jobmanager/blob_store.h"
#include "jobmanager/job_master.h"
#include "jobmanager/resource_manager.h"

namespace sluice::jobmanager {

struct DispatcherOptions {
  std::chrono::milliseconds graph_builder_timeout{60000};
  //! Longest job name accepted, in bytes.
  size_t max_job_name_bytes = 256;
  //! The JobManager's configuration; a submission's `config` overrides go on top per job (with
  //! parallelism.default and execution.buffer-timeout).
  config::Configuration config;
};

class Dispatcher {
 public:
  Dispatcher(DispatcherOptions options, BlobStore* blobs, ResourceManager* resource_manager);
  ~Dispatcher();

  //! Starts a job from a stored package. Returns the job id. `client_deadline`: when the client
  //! stops waiting; the graph builder gets no longer than what is left of it (minus a margin), so
  //! that the client hears why a builder that hangs was given up.
  absl::StatusOr<proto::SubmitResponse> Submit(
      const proto::SubmitHeader& header, const std::string& package_sha256,
      std::chrono::system_clock::time_point client_deadline =
          std::chrono::system_clock::time_point::max());
  std::vector<proto::JobSummary> List();
  absl::StatusOr<proto::JobStatus> Status(const std::string& job_id);
  absl::StatusOr<std::string> Cancel(const std::string& job_id);
  void OnTaskStateUpdate(const proto::TaskStateUpdate& update);
  //! Hands each job's share of a TaskManager's report to its JobMaster; unknown jobs are ignored.
  //! Hands each job its subtasks' metrics; answers with the watermark alignment of the sources
  //! that take part in one.
  proto::TaskMetricsAck OnMetricsReport(const proto::TaskMetricsReport& report);
  void OnTaskManagerLost(const std::string& tm_id, const std::string& reason);
  //! A failure reason a job recorded turned out to be incomplete (a lost TaskManager had crashed).
  void CorrectFailureReason(const std::string& old_reason, const std::string& new_reason);
  void OnAcknowledgeCheckpoint(const proto::AcknowledgeCheckpointRequest& ack);
  void OnDeclineCheckpoint(const proto::DeclineCheckpointRequest& decline);
  absl::StatusOr<proto::CheckpointsResponse> Checkpoints(const std::string& job_id);
  //! The job's configuration (the JobManager's with the submission's overrides).
  absl::StatusOr<config::Configuration> JobConfig(const std::string& job_id);
  //! Whether a job that has not ended runs the package (it needs it to restart).
  bool PackageInUse(const std::string& package_sha256);
  //! Savepoint or stop-with-savepoint; blocks until complete, returns the savepoint folder.
  absl::StatusOr<std::string> TriggerSavepoint(const proto::SavepointRequest& req);
  //! Stop-with-savepoint and redeploy at the new parallelism; returns the snapshot's folder.
  absl::StatusOr<std::string> Rescale(const proto::RescaleRequest& req);

 private:
  std::shared_ptr<JobMaster> Find(const std::string& job_id);
  //! The JobManager's configuration with the submission's overrides on top: only keys that apply
  //! per job (config::CheckJobScope), valid values. InvalidArgument naming the key otherwise.
  absl::StatusOr<config::Configuration> JobConfiguration(const proto::SubmitHeader& header) const;
  //! The job's folder under state.checkpoints.dir (created here).
  absl::Status OpenCheckpointStorage(JobSpec& spec);
  //! `run --from-savepoint` / `--restore latest`: reads the snapshot and fits the graph to it.
  absl::Status PrepareRestore(const proto::SubmitHeader& header, JobSpec& spec,
                              proto::JobGraph& graph);
  std::vector<std::shared_ptr<JobMaster>> All();
  //! OK when a savepoint folder can be created in `folder` (a file written and removed there).
  static absl::Status CheckWritable(const std::string& folder);
  //! How long the graph builder may run for a client that waits until `client_deadline`.
  std::chrono::milliseconds BuilderTimeout(
      std::chrono::system_clock::time_point client_deadline) const;

  DispatcherOptions options_;
  BlobStore* blobs_;
  ResourceManager* resource_manager_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<JobMaster>> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // submission order
};

}  // namespace sluice::jobmanager
