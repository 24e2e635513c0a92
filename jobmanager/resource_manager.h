// ResourceManager: the registry of TaskManagers and their slots. Detects lost TaskManagers by
// heartbeat timeout and by their Connect stream breaking, and tells the listener (the Dispatcher).
// Makes each registered TaskManager's gateway through the factory it is given (gRPC in the daemon,
// in-process ones in tests). Owns one SerialExecutor; every public method may be called from any
// thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/executor.h"
#include "jobmanager/taskmanager_gateway.h"
#include "sluice_proto/client.pb.h"
#include "sluice_proto/cluster.pb.h"

namespace sluice::jobmanager {

struct SlotAssignment {
  std::string taskmanager_id;
  std::string data_address;
  std::shared_ptr<TaskManagerGateway> gateway;
};

class ResourceManager {
 public:
  using LostListener = std::function<void(const std::string& tm_id, const std::string& reason)>;
  //! A loss reported with `old_reason` turned out to be a crash: `new_reason` says which.
  using CrashListener = std::function<void(const std::string& tm_id, const std::string& old_reason,
                                           const std::string& new_reason)>;

  ResourceManager(TaskManagerGatewayFactory gateways, std::chrono::milliseconds heartbeat_interval,
                  std::chrono::milliseconds heartbeat_timeout);
  ~ResourceManager();

  void SetLostListener(LostListener listener);
  void SetCrashListener(CrashListener listener);
  //! The TaskManager's watchdog reports that it died of `signal` while running `task`: it is lost
  //! now if it was not yet; if it was, the loss's reason is corrected (CrashListener).
  void Crashed(const std::string& tm_id, const std::string& signal, const std::string& task);

  absl::Status Register(const proto::RegisterRequest& req);
  //! Records a heartbeat and keeps the figures it carries (network memory) for List(); false when
  //! the TaskManager is unknown (it must register again).
  bool Heartbeat(const proto::Heartbeat& heartbeat);
  //! The TaskManager's Connect stream ended.
  void ConnectionLost(const std::string& tm_id, const std::string& detail);

  //! Takes `slots` free slots for a job, spread over TaskManagers (most free slots first). Not
  //! enough: FailedPrecondition, or Unavailable when slots of an ended job, still being released,
  //! would make enough (ask again shortly).
  absl::StatusOr<std::vector<SlotAssignment>> AllocateSlots(const std::string& job_id, int slots);
  //! The job has ended; its slots come back with ReleaseSlots once its TaskManagers released it.
  void BeginRelease(const std::string& job_id);
  void ReleaseSlots(const std::string& job_id);

  std::vector<proto::TaskManagerInfo> List();
  std::shared_ptr<TaskManagerGateway> Gateway(const std::string& tm_id);

 private:
  struct TaskManager {
    proto::RegisterRequest info;
    std::vector<std::string> slot_owner;  // job id per slot, empty when free
    std::chrono::steady_clock::time_point last_heartbeat;
    int64_t last_heartbeat_ms = 0;                     // the same, as epoch ms
    std::optional<proto::ProcessStats> process;        // latest from registration or heartbeat
    std::optional<proto::NetworkMemoryStats> network;  // latest from registration or heartbeat
    std::optional<proto::MemoryStats> memory;          // latest from registration or heartbeat
    std::shared_ptr<TaskManagerGateway> gateway;
  };

  void CheckHeartbeats();
  //! Forgets a lost TaskManager and tells the listener "TaskManager <id> (<address>) <what>".
  void RemoveLost(const std::string& tm_id, const std::string& what);

  const TaskManagerGatewayFactory gateways_;
  const std::chrono::milliseconds heartbeat_interval_;
  const std::chrono::milliseconds heartbeat_timeout_;
  // Fields below are touched only on executor_.
  std::map<std::string, TaskManager> taskmanagers_;
  LostListener lost_listener_;
  CrashListener crash_listener_;
  // The last losses (id -> reason and address), so that a crash report arriving after the
  // connection dropped can correct the reason. Bounded.
  std::map<std::string, std::pair<std::string, std::string>> recent_losses_;
  std::set<std::string> releasing_;  // ended jobs whose slots are not back yet
  SerialExecutor executor_{"resource-mgr"};
};

}  // namespace sluice::jobmanager
