#include "taskmanager/network/connection_manager.h"

namespace sluice::network {

ConnectionManager::~ConnectionManager() { Shutdown(); }

absl::StatusOr<std::shared_ptr<ClientConnection>> ConnectionManager::Get(
    const std::string& address, const std::string& job_id) {
  const std::string key = job_id + "@" + address;
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(key);
  if (it != connections_.end() && !it->second->broken()) return it->second;
  auto conn = ClientConnection::Open(address, job_id, busy_poll_);
  if (!conn.ok()) return conn.status();
  connections_[key] = *conn;
  return *conn;
}

void ConnectionManager::Shutdown() {
  std::map<std::string, std::shared_ptr<ClientConnection>> conns;
  {
    absl::MutexLock lock(&mu_);
    conns.swap(connections_);
  }
  for (auto& [a, c] : conns) c->Shutdown();
}

}  // namespace sluice::network
