// TaskManagerGateway: the JobManager's client for one TaskManager's control service.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "sluice_proto/cluster.grpc.pb.h"

namespace sluice::jobmanager {

class TaskManagerGateway {
 public:
  TaskManagerGateway(std::string id, std::string rpc_address);
  const std::string& id() const { return id_; }
  const std::string& address() const { return address_; }
  absl::Status Deploy(const proto::TaskDeployment& deployment);
  absl::Status Cancel(const std::string& attempt_id);
  absl::Status ReleaseJob(const std::string& job_id);
  absl::Status TriggerCheckpoint(const std::string& attempt_id, int64_t checkpoint_id,
                                 int64_t timestamp_ms, bool stop = false, bool drain = false);
  absl::Status NotifyCheckpoint(const std::string& attempt_id, int64_t checkpoint_id,
                                bool complete);

 private:
  std::string id_;
  std::string address_;
  std::unique_ptr<proto::TaskManagerService::Stub> stub_;
};

}  // namespace sluice::jobmanager
