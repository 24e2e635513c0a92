#ifndef SLUICE_CLI_CLIENT_H_
#define SLUICE_CLI_CLIENT_H_

// The CLI's connection to the JobManager's ClientService. Every call has a deadline, and gRPC
// errors are turned here, in one place, into absl::Status values whose messages can be shown
// to the user as they are. Used from one thread.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sluice_proto/client.grpc.pb.h"

namespace sluice::cli {

class JobManagerClient {
 public:
  //! `target` is "HOST:PORT". Connecting is lazy: an unreachable JobManager shows up as an
  //! Unavailable status on the first call.
  explicit JobManagerClient(std::string target);

  const std::string& target() const { return target_; }

  //! Streams the header, then the file at `package_path` in 1 MiB chunks. `timeout` covers the
  //! upload and the JobManager's work: it gives the job's graph builder at most
  //! jobmanager.graph-builder.timeout and never more than what is left of ours minus a margin, so
  //! that a builder that hangs comes back as the JobManager's own explanation.
  absl::StatusOr<proto::SubmitResponse> Submit(const proto::SubmitHeader& header,
                                               const std::string& package_path,
                                               absl::Duration timeout = kSubmitTimeout);
  absl::StatusOr<proto::ListJobsResponse> ListJobs();
  absl::StatusOr<proto::JobStatus> GetJobStatus(const std::string& job_id);
  absl::StatusOr<proto::CancelResponse> CancelJob(const std::string& job_id);
  absl::StatusOr<proto::CheckpointsResponse> GetCheckpoints(const std::string& job_id);
  absl::StatusOr<proto::DaemonLogResponse> ReadDaemonLog(const proto::DaemonLogRequest& request);
  absl::StatusOr<proto::ListTaskManagersResponse> ListTaskManagers(
      absl::Duration timeout = kUnaryTimeout);
  //! Answers once the savepoint is complete, which for a large state takes a while: hence a
  //! deadline of its own, longer than the JobManager's checkpoint timeout.
  absl::StatusOr<proto::SavepointResponse> TriggerSavepoint(
      const proto::SavepointRequest& request, absl::Duration timeout = kSavepointTimeout);
  //! A savepoint and a restart at the new parallelism; same deadline as TriggerSavepoint.
  absl::StatusOr<proto::RescaleResponse> Rescale(const proto::RescaleRequest& request,
                                                 absl::Duration timeout = kSavepointTimeout);

  static constexpr absl::Duration kUnaryTimeout = absl::Seconds(10);
  //! Twice jobmanager.graph-builder.timeout's default.
  static constexpr absl::Duration kSubmitTimeout = absl::Seconds(120);
  //! execution.checkpointing.timeout's default (10 min) plus a margin, so that the JobManager's
  //! own timeout error arrives before ours.
  static constexpr absl::Duration kSavepointTimeout = absl::Minutes(11);
  static constexpr size_t kChunkBytes = 1 << 20;

 private:
  absl::Status Convert(const grpc::Status& status, absl::Duration timeout) const;

  std::string target_;
  std::unique_ptr<proto::ClientService::Stub> stub_;
};

}  // namespace sluice::cli

#endif  // SLUICE_CLI_CLIENT_H_
