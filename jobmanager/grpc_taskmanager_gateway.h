// GrpcTaskManagerGateway: the TaskManagerGateway (taskmanager_gateway.h) the daemon uses, a gRPC
// client for one TaskManager's control service.
//
// Calls run one at a time, in the order they were made, on the gateway's own executor
// ("tm-<id>"): a TaskManager sees a cancel after the deployment it cancels, a notification after
// its trigger. One gateway per TaskManager, shared by every job with slots there, so a TaskManager
// that does not answer (frozen, partitioned) holds up calls to itself only, never calls to the
// others or the caller's thread (fault probe: a frozen TaskManager stalled every job's calls for
// the RPC deadline each). Every call has a deadline (`rpc_timeout`, 10 s by default).
//
// Made by GrpcTaskManagerGatewayFactory() for the ResourceManager. `done` callbacks run on the
// gateway's executor. Close() cancels the call in flight and makes queued and later calls fail at
// once with Unavailable; the destructor drops what is still queued.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/executor.h"
#include "jobmanager/taskmanager_gateway.h"
#include "sluice_proto/cluster.grpc.pb.h"

namespace grpc {
class ClientContext;
}

namespace sluice::jobmanager {

class GrpcTaskManagerGateway final : public TaskManagerGateway {
 public:
  GrpcTaskManagerGateway(std::string id, std::string rpc_address,
                         std::chrono::milliseconds rpc_timeout = std::chrono::seconds(10));
  ~GrpcTaskManagerGateway() override;
  GrpcTaskManagerGateway(const GrpcTaskManagerGateway&) = delete;
  GrpcTaskManagerGateway& operator=(const GrpcTaskManagerGateway&) = delete;

  const std::string& id() const override { return id_; }
  const std::string& address() const override { return address_; }

  void Deploy(proto::TaskDeployment deployment, Done done = {}) override;
  void Cancel(std::string attempt_id, Done done = {}) override;
  void ReleaseJob(std::string job_id, Done done = {}) override;
  void TriggerCheckpoint(std::string attempt_id, int64_t checkpoint_id, int64_t timestamp_ms,
                         bool stop, bool drain, Done done = {}) override;
  void NotifyCheckpoint(std::string attempt_id, int64_t checkpoint_id, bool complete,
                        Done done = {}) override;

  void Close() override;
  void Drain() override;

 private:
  using Rpc = std::function<grpc::Status(proto::TaskManagerService::Stub&, grpc::ClientContext&)>;
  //! Queues `rpc`; runs it unless closed; hands the outcome, named after `what`, to `done`.
  void Call(std::string what, Rpc rpc, Done done);

  const std::string id_;
  const std::string address_;
  const std::chrono::milliseconds rpc_timeout_;
  std::unique_ptr<proto::TaskManagerService::Stub> stub_;

  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* in_flight_ ABSL_GUARDED_BY(mu_) = nullptr;

  SerialExecutor executor_;
};

//! The ResourceManager's factory in the daemon: a GrpcTaskManagerGateway per TaskManager.
TaskManagerGatewayFactory GrpcTaskManagerGatewayFactory();

}  // namespace sluice::jobmanager
