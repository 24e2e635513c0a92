// TaskManagerGateway: how the JobManager reaches one TaskManager's control service — deploy,
// cancel, release a job, trigger and notify checkpoints. An interface so that the JobMaster can
// be tested without processes: GrpcTaskManagerGateway (grpc_taskmanager_gateway.h) is the one the
// daemon uses, tests use an in-process one that records the calls.
//
// Rules every implementation keeps (the JobMaster relies on them):
// - calls to one TaskManager run in the order they were made (a cancel never overtakes its
//   deployment, a notification never its trigger);
// - no call blocks its caller: `done` runs later, on a thread of the gateway's, and must not block
//   (callers post back to their own executor through a PostBox, since they may be gone first);
// - after Close() (the TaskManager was lost or registered again) queued and later calls fail at
//   once with Unavailable.
//
// Owned by the ResourceManager's registry entry (created through the TaskManagerGatewayFactory it
// is given) and shared with the slot assignments of jobs.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "sluice_proto/cluster.pb.h"

namespace sluice::jobmanager {

class TaskManagerGateway {
 public:
  using Done = std::function<void(const absl::Status&)>;

  virtual ~TaskManagerGateway() = default;

  virtual const std::string& id() const = 0;
  virtual const std::string& address() const = 0;

  virtual void Deploy(proto::TaskDeployment deployment, Done done = {}) = 0;
  virtual void Cancel(std::string attempt_id, Done done = {}) = 0;
  virtual void ReleaseJob(std::string job_id, Done done = {}) = 0;
  virtual void TriggerCheckpoint(std::string attempt_id, int64_t checkpoint_id,
                                 int64_t timestamp_ms, bool stop, bool drain, Done done = {}) = 0;
  virtual void NotifyCheckpoint(std::string attempt_id, int64_t checkpoint_id, bool complete,
                                Done done = {}) = 0;

  //! The TaskManager is gone: the call in flight is cancelled, queued and later calls fail at once.
  virtual void Close() = 0;
  //! Waits until every call made so far has ended.
  virtual void Drain() = 0;
};

//! Makes the gateway of a TaskManager that registered (id, control service address).
using TaskManagerGatewayFactory = std::function<std::shared_ptr<TaskManagerGateway>(
    const std::string& id, const std::string& rpc_address)>;

}  // namespace sluice::jobmanager
