#include "jobmanager/grpc_taskmanager_gateway.h"

#include "absl/strings/str_cat.h"
#include "common/rpc.h"

namespace sluice::jobmanager {

GrpcTaskManagerGateway::GrpcTaskManagerGateway(std::string id, std::string rpc_address,
                                               std::chrono::milliseconds rpc_timeout)
    : id_(std::move(id)),
      address_(std::move(rpc_address)),
      rpc_timeout_(rpc_timeout),
      stub_(proto::TaskManagerService::NewStub(MakeChannel(address_))),
      executor_("tm-" + id_.substr(0, 12)) {}

GrpcTaskManagerGateway::~GrpcTaskManagerGateway() {
  Close();
  executor_.Shutdown();
}

void GrpcTaskManagerGateway::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  if (in_flight_ != nullptr) in_flight_->TryCancel();
}

void GrpcTaskManagerGateway::Drain() {
  executor_.Call([] {});
}

void GrpcTaskManagerGateway::Call(std::string what, Rpc rpc, Done done) {
  executor_.Post([this, what = std::move(what), rpc = std::move(rpc), done = std::move(done)] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + rpc_timeout_);
    {
      absl::MutexLock lock(&mu_);
      if (closed_) {
        if (done) {
          done(absl::UnavailableError(
              absl::StrCat(what, " not sent: TaskManager ", id_, " is gone")));
        }
        return;
      }
      in_flight_ = &ctx;
    }
    absl::Status s = FromGrpc(rpc(*stub_, ctx));
    {
      absl::MutexLock lock(&mu_);
      in_flight_ = nullptr;
    }
    if (!s.ok()) {
      s = absl::Status(s.code(), absl::StrCat(what, " to TaskManager ", id_, " at ", address_,
                                              " failed: ", s.message()));
    }
    if (done) done(s);
  });
}

void GrpcTaskManagerGateway::Deploy(proto::TaskDeployment deployment, Done done) {
  auto req = std::make_shared<proto::TaskDeployment>(std::move(deployment));
  Call(
      "deployment",
      [req](proto::TaskManagerService::Stub& stub, grpc::ClientContext& ctx) {
        proto::Empty resp;
        return stub.DeployTask(&ctx, *req, &resp);
      },
      std::move(done));
}

void GrpcTaskManagerGateway::Cancel(std::string attempt_id, Done done) {
  proto::CancelTaskRequest req;
  req.set_attempt_id(std::move(attempt_id));
  Call(
      "cancel",
      [req](proto::TaskManagerService::Stub& stub, grpc::ClientContext& ctx) {
        proto::Empty resp;
        return stub.CancelTask(&ctx, req, &resp);
      },
      std::move(done));
}

void GrpcTaskManagerGateway::ReleaseJob(std::string job_id, Done done) {
  proto::ReleaseJobRequest req;
  req.set_job_id(std::move(job_id));
  Call(
      "release",
      [req](proto::TaskManagerService::Stub& stub, grpc::ClientContext& ctx) {
        proto::Empty resp;
        return stub.ReleaseJob(&ctx, req, &resp);
      },
      std::move(done));
}

void GrpcTaskManagerGateway::TriggerCheckpoint(std::string attempt_id, int64_t checkpoint_id,
                                               int64_t timestamp_ms, bool stop, bool drain,
                                               Done done) {
  proto::TriggerCheckpointRequest req;
  req.set_attempt_id(std::move(attempt_id));
  req.set_checkpoint_id(checkpoint_id);
  req.set_timestamp_ms(timestamp_ms);
  req.set_stop(stop);
  req.set_drain(drain);
  Call(
      absl::StrCat("the trigger of checkpoint ", checkpoint_id),
      [req](proto::TaskManagerService::Stub& stub, grpc::ClientContext& ctx) {
        proto::Empty resp;
        return stub.TriggerCheckpoint(&ctx, req, &resp);
      },
      std::move(done));
}

void GrpcTaskManagerGateway::NotifyCheckpoint(std::string attempt_id, int64_t checkpoint_id,
                                              bool complete, Done done) {
  proto::CheckpointNotification req;
  req.set_attempt_id(std::move(attempt_id));
  req.set_checkpoint_id(checkpoint_id);
  req.set_complete(complete);
  Call(
      absl::StrCat("the ", complete ? "completion" : "abort", " notice of checkpoint ",
                   checkpoint_id),
      [req](proto::TaskManagerService::Stub& stub, grpc::ClientContext& ctx) {
        proto::Empty resp;
        return stub.NotifyCheckpoint(&ctx, req, &resp);
      },
      std::move(done));
}

TaskManagerGatewayFactory GrpcTaskManagerGatewayFactory() {
  return [](const std::string& id, const std::string& rpc_address) {
    return std::make_shared<GrpcTaskManagerGateway>(id, rpc_address);
  };
}

}  // namespace sluice::jobmanager
