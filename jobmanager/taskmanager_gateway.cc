#include "jobmanager/taskmanager_gateway.h"

#include "common/rpc.h"

namespace sluice::jobmanager {
namespace {
constexpr std::chrono::milliseconds kTimeout(10000);
}

TaskManagerGateway::TaskManagerGateway(std::string id, std::string rpc_address)
    : id_(std::move(id)),
      address_(std::move(rpc_address)),
      stub_(proto::TaskManagerService::NewStub(MakeChannel(address_))) {}

absl::Status TaskManagerGateway::Deploy(const proto::TaskDeployment& deployment) {
  auto ctx = ContextWithDeadline(kTimeout);
  proto::Empty resp;
  return FromGrpc(stub_->DeployTask(ctx.get(), deployment, &resp));
}

absl::Status TaskManagerGateway::Cancel(const std::string& attempt_id) {
  auto ctx = ContextWithDeadline(kTimeout);
  proto::CancelTaskRequest req;
  req.set_attempt_id(attempt_id);
  proto::Empty resp;
  return FromGrpc(stub_->CancelTask(ctx.get(), req, &resp));
}

absl::Status TaskManagerGateway::ReleaseJob(const std::string& job_id) {
  auto ctx = ContextWithDeadline(kTimeout);
  proto::ReleaseJobRequest req;
  req.set_job_id(job_id);
  proto::Empty resp;
  return FromGrpc(stub_->ReleaseJob(ctx.get(), req, &resp));
}

absl::Status TaskManagerGateway::TriggerCheckpoint(const std::string& attempt_id,
                                                   int64_t checkpoint_id, int64_t timestamp_ms,
                                                   bool stop, bool drain) {
  auto ctx = ContextWithDeadline(kTimeout);
  proto::TriggerCheckpointRequest req;
  req.set_attempt_id(attempt_id);
  req.set_checkpoint_id(checkpoint_id);
  req.set_timestamp_ms(timestamp_ms);
  req.set_stop(stop);
  req.set_drain(drain);
  proto::Empty resp;
  return FromGrpc(stub_->TriggerCheckpoint(ctx.get(), req, &resp));
}

absl::Status TaskManagerGateway::NotifyCheckpoint(const std::string& attempt_id,
                                                  int64_t checkpoint_id, bool complete) {
  auto ctx = ContextWithDeadline(kTimeout);
  proto::CheckpointNotification req;
  req.set_attempt_id(attempt_id);
  req.set_checkpoint_id(checkpoint_id);
  req.set_complete(complete);
  proto::Empty resp;
  return FromGrpc(stub_->NotifyCheckpoint(ctx.get(), req, &resp));
}

}  // namespace sluice::jobmanager
