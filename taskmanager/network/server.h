// NetworkServer: the producer side of the data plane. Accepts connections from consumer
// TaskManagers; per connection a reader thread serves partition requests and credits, and a writer
// thread sends buffers of the requested subpartitions: a data buffer only against credit, with the
// backlog behind it; events without credit. Each channel's buffers carry increasing sequence
// numbers.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "taskmanager/network/partition_manager.h"
#include "taskmanager/network/wire.h"

namespace sluice::network {

class ServerConnection : public std::enable_shared_from_this<ServerConnection> {
 public:
  ServerConnection(int fd, PartitionManager* partitions);
  ~ServerConnection();
  void Start();
  void Shutdown();
  bool done();

 private:
  struct View {
    std::shared_ptr<ResultPartition> partition;  // null until the partition is registered
    int subpartition = 0;
    int64_t credit = 0;
    uint32_t seq = 0;
  };

  void ReadLoop();
  void WriteLoop();
  //! The next buffer of a channel that may be sent now (credit, or an event); false if none.
  bool TakeNext(uint64_t channel, Frame* frame, BufferPtr* buffer);
  void OnPartition(uint64_t channel, std::shared_ptr<ResultPartition> partition);
  void MarkReady(uint64_t channel);
  void SendError(uint64_t channel, const std::string& message);

  const int fd_;
  PartitionManager* partitions_;
  absl::Mutex mu_;
  std::map<uint64_t, View> views_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> ready_ ABSL_GUARDED_BY(mu_);
  std::vector<Frame> errors_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reader_;
  std::thread writer_;
  std::atomic<bool> done_{false};
};

class NetworkServer {
 public:
  explicit NetworkServer(PartitionManager* partitions) : partitions_(partitions) {}
  ~NetworkServer();
  //! Listens on host:port (port 0: ephemeral); returns the bound port.
  absl::StatusOr<int> Start(const std::string& host, int port);
  void Shutdown();

 private:
  void AcceptLoop();

  PartitionManager* partitions_;
  int listen_fd_ = -1;
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<ServerConnection>> connections_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sluice::network
