// ConnectionManager: a consumer TaskManager's data connections, one per producer TaskManager and
// job.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "taskmanager/network/client_connection.h"

namespace sluice::network {

//! One ClientConnection per remote TaskManager data address and job, opened on first use and
//! opened anew once broken. Connections are per job so that a TaskManager that runs each job in
//! its own process (taskmanager.process-per-job) can hand each connection to that job's process:
//! the connection's first frame, a hello, names the job. Owned by the TaskExecutor; thread-safe
//! (task threads call Get when their remote channels start). Shutdown closes every connection and
//! joins their threads.
class ConnectionManager {
 public:
  //! `busy_poll`: how long the connections' readers poll before they sleep (BufferedSocketReader).
  explicit ConnectionManager(std::chrono::microseconds busy_poll = {}) : busy_poll_(busy_poll) {}
  ~ConnectionManager();
  //! `job_id` empty: no hello (tests of the data plane alone).
  absl::StatusOr<std::shared_ptr<ClientConnection>> Get(const std::string& address,
                                                        const std::string& job_id = "");
  void Shutdown();

 private:
  const std::chrono::microseconds busy_poll_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<ClientConnection>> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::network
