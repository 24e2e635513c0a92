// NetworkServer: the producer side of the data plane. Accepts connections from consumer
// TaskManagers; per connection a reader thread serves partition requests and credits. A data buffer
// goes out only against credit, with the backlog behind it; events without credit. Each channel's
// buffers carry increasing sequence numbers.
//
// Sending: whichever thread makes a buffer sendable (the producing task thread adding it, the
// reader granting credit) writes it to the socket itself, without waiting: a hand-off to a writer
// thread would add a wake-up to every buffer. One thread writes at a time (the send token); others
// only mark their channel ready, and the token holder looks again before giving the token back. A
// write that would block (the socket's send buffer is full), or that goes on for many rounds, is
// handed to the connection's writer thread, which finishes it with blocking writes: task threads
// never wait in the kernel.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
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
  ServerConnection(int fd, PartitionManager* partitions, std::chrono::microseconds busy_poll = {});
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
  //! Frames taken for one gathered write; owned by the send token's holder.
  struct Batch {
    std::vector<std::string> headers;
    std::vector<BufferPtr> buffers;
    std::vector<iovec> iov;
    size_t written = 0;  // iovecs fully written
    bool empty() const { return headers.empty(); }
    void Clear();  // recycles the buffers into the producers' pools
  };

  void ReadLoop();
  void WriteLoop();
  //! Marks the channel ready and sends what can be sent now.
  void MarkReady(uint64_t channel);
  //! Takes the send token (or leaves the work to its holder) and sends until nothing is ready.
  void Pump();
  //! Holding the token: sends until nothing is ready. Returns with the token released, or passed
  //! to the writer thread (inline only).
  void Drain(bool inline_send);
  //! Holding the token: fills batch_ with errors and everything the ready channels may send.
  void Collect();
  //! The next buffer of a channel that may be sent now (credit, or an event); false if none.
  bool TakeNext(uint64_t channel, Frame* frame, BufferPtr* buffer);
  void OnPartition(uint64_t channel, std::shared_ptr<ResultPartition> partition);
  void SendError(uint64_t channel, const std::string& message);

  const int fd_;
  PartitionManager* partitions_;
  const std::chrono::microseconds busy_poll_;  // the reader's (BufferedSocketReader)
  absl::Mutex mu_;
  std::map<uint64_t, View> views_ ABSL_GUARDED_BY(mu_);
  std::set<uint64_t> ready_ ABSL_GUARDED_BY(mu_);
  std::vector<Frame> errors_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool sending_ ABSL_GUARDED_BY(mu_) = false;  // a thread holds the send token
  bool handoff_ ABSL_GUARDED_BY(mu_) = false;  // the token waits for the writer thread
  Batch batch_;                                // the token holder's
  std::thread reader_;
  std::thread writer_;
  std::atomic<bool> done_{false};
};

class NetworkServer {
 public:
  //! `busy_poll`: how long the connections' readers poll before they sleep (BufferedSocketReader).
  explicit NetworkServer(PartitionManager* partitions, std::chrono::microseconds busy_poll = {})
      : partitions_(partitions), busy_poll_(busy_poll) {}
  ~NetworkServer();
  //! Listens on host:port (port 0: ephemeral); returns the bound port.
  absl::StatusOr<int> Start(const std::string& host, int port);
  void Shutdown();

  //! Takes an accepted connection whose first frame was a hello naming its job: `fd` is the
  //! router's to keep or close. A TaskManager that runs each job in its own process passes it on.
  using Router = std::function<void(int fd, const std::string& job_id)>;
  //! Hands every accepted connection to `router` instead of serving it (call before Start).
  void SetRouter(Router router) { router_ = std::move(router); }
  //! Serves a connection accepted elsewhere (a job process gets them from its TaskManager).
  //! False (and `fd` closed) once shut down.
  bool Adopt(int fd);

 private:
  void AcceptLoop();
  //! Reads the hello (5 s at most) and hands the connection to the router.
  void Route(int fd);

  PartitionManager* partitions_;
  const std::chrono::microseconds busy_poll_;
  Router router_;
  int listen_fd_ = -1;
  std::thread acceptor_;
  absl::Mutex mu_;
  std::vector<std::shared_ptr<ServerConnection>> connections_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sluice::network
