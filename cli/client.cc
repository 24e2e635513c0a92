#include "cli/client.h"

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/rpc.h"
#include "grpcpp/grpcpp.h"

namespace sluice::cli {
namespace {

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout));
}

}  // namespace

JobManagerClient::JobManagerClient(std::string target)
    : target_(std::move(target)), stub_(proto::ClientService::NewStub(MakeChannel(target_))) {}

absl::Status JobManagerClient::Convert(const grpc::Status& status, absl::Duration timeout) const {
  absl::Status s = FromGrpc(status);
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return s;
    case absl::StatusCode::kUnavailable:
      return absl::UnavailableError(
          absl::StrCat("cannot reach the JobManager at ", target_, " (", s.message(), ")"));
    case absl::StatusCode::kDeadlineExceeded:
      return absl::DeadlineExceededError(absl::StrCat(
          "the JobManager at ", target_, " did not answer within ", absl::FormatDuration(timeout)));
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return s;  // the JobManager's own words, e.g. "no job with id '1234'"
    case absl::StatusCode::kUnimplemented:  // e.g. a JobManager older than this CLI
      return absl::UnimplementedError(absl::StrCat("the JobManager at ", target_,
                                                   " does not implement this request",
                                                   s.message().empty() ? "" : ": ", s.message()));
    default:
      return absl::Status(
          s.code(), absl::StrCat("the JobManager at ", target_, " failed: ", s.message(), " (",
                                 absl::StatusCodeToString(s.code()), ")"));
  }
}

absl::StatusOr<proto::SubmitResponse> JobManagerClient::Submit(const proto::SubmitHeader& header,
                                                               const std::string& package_path,
                                                               absl::Duration timeout) {
  std::ifstream in(package_path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", package_path));

  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  proto::SubmitResponse response;
  std::unique_ptr<grpc::ClientWriter<proto::SubmitRequest>> writer =
      stub_->Submit(&context, &response);

  proto::SubmitRequest request;
  *request.mutable_header() = header;
  // A failed Write means the stream is broken; Finish() then reports why.
  bool stream_ok = writer->Write(request);
  std::vector<char> buffer(kChunkBytes);
  bool read_error = false;
  while (stream_ok) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::streamsize n = in.gcount();
    if (n > 0) {
      request.set_chunk(buffer.data(), static_cast<size_t>(n));
      stream_ok = writer->Write(request);
    }
    if (!in) {
      read_error = !in.eof();
      break;
    }
  }
  if (read_error) {
    context.TryCancel();
    writer->Finish();
    return absl::DataLossError(absl::StrCat("reading ", package_path, " failed"));
  }
  if (stream_ok) writer->WritesDone();
  absl::Status status = Convert(writer->Finish(), timeout);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<proto::ListJobsResponse> JobManagerClient::ListJobs() {
  grpc::ClientContext context;
  SetDeadline(&context, kUnaryTimeout);
  proto::ListJobsResponse response;
  absl::Status status =
      Convert(stub_->ListJobs(&context, proto::ListJobsRequest(), &response), kUnaryTimeout);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<proto::JobStatus> JobManagerClient::GetJobStatus(const std::string& job_id) {
  grpc::ClientContext context;
  SetDeadline(&context, kUnaryTimeout);
  proto::JobIdRequest request;
  request.set_job_id(job_id);
  proto::JobStatus response;
  absl::Status status = Convert(stub_->GetJobStatus(&context, request, &response), kUnaryTimeout);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<proto::CancelResponse> JobManagerClient::CancelJob(const std::string& job_id) {
  grpc::ClientContext context;
  SetDeadline(&context, kUnaryTimeout);
  proto::JobIdRequest request;
  request.set_job_id(job_id);
  proto::CancelResponse response;
  absl::Status status = Convert(stub_->CancelJob(&context, request, &response), kUnaryTimeout);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<proto::ListTaskManagersResponse> JobManagerClient::ListTaskManagers(
    absl::Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  proto::ListTaskManagersResponse response;
  absl::Status status = Convert(
      stub_->ListTaskManagers(&context, proto::ListTaskManagersRequest(), &response), timeout);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<proto::CheckpointsResponse> JobManagerClient::GetCheckpoints(
    const std::string& job_id) {
  grpc::ClientContext context;
  SetDeadline(&context, kUnaryTimeout);
  proto::JobIdRequest request;
  request.set_job_id(job_id);
  proto::CheckpointsResponse response;
  absl::Status status = Convert(stub_->GetCheckpoints(&context, request, &response), kUnaryTimeout);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<proto::DaemonLogResponse> JobManagerClient::ReadDaemonLog(
    const proto::DaemonLogRequest& request) {
  grpc::ClientContext context;
  SetDeadline(&context, kUnaryTimeout);
  proto::DaemonLogResponse response;
  absl::Status status = Convert(stub_->ReadDaemonLog(&context, request, &response), kUnaryTimeout);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<proto::SavepointResponse> JobManagerClient::TriggerSavepoint(
    const proto::SavepointRequest& request, absl::Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  proto::SavepointResponse response;
  absl::Status status = Convert(stub_->TriggerSavepoint(&context, request, &response), timeout);
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<proto::RescaleResponse> JobManagerClient::Rescale(
    const proto::RescaleRequest& request, absl::Duration timeout) {
  grpc::ClientContext context;
  SetDeadline(&context, timeout);
  proto::RescaleResponse response;
  absl::Status status = Convert(stub_->Rescale(&context, request, &response), timeout);
  if (!status.ok()) return status;
  return response;
}

}  // namespace sluice::cli
