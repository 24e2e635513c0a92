// ConnectionManager: a consumer TaskManager's data connections, one per producer TaskManager.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "taskmanager/network/client_connection.h"

namespace sluice::network {

//! One ClientConnection per remote TaskManager data address, opened on first use and opened anew
//! once broken. Owned by the TaskExecutor; thread-safe (task threads call Get when their remote
//! channels start). Shutdown closes every connection and joins their threads.
class ConnectionManager {
 public:
  //! `busy_poll`: how long the connections' readers poll before they sleep (BufferedSocketReader).
  explicit ConnectionManager(std::chrono::microseconds busy_poll = {}) : busy_poll_(busy_poll) {}
  ~ConnectionManager();
  absl::StatusOr<std::shared_ptr<ClientConnection>> Get(const std::string& address);
  void Shutdown();

 private:
  const std::chrono::microseconds busy_poll_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<ClientConnection>> connections_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::network
