// ClientConnection: the consumer side of one TCP data connection to a producer TaskManager, which
// multiplexes every channel reading from it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "taskmanager/network/wire.h"

namespace sluice::network {

class RemoteInputChannel;

//! One data connection, shared by the channels reading from its producer TaskManager; owned by the
//! ConnectionManager and the channels using it. Its reader thread (`net-client-read`) hands
//! buffers to channels and never blocks on one, because a producer only sends data buffers
//! against credit the channel granted (events need none).
//!
//! Writing (partition requests, credit, cancels): the thread that sends a frame writes it to the
//! socket itself, without waiting — the task freeing a buffer, the reader borrowing floating ones;
//! a hand-off to another thread would add a wake-up to every credit round trip. One thread writes
//! at a time (the send token); the others only queue their frames, and the token holder looks
//! again before it lets go, so frames keep the order they were sent in. A write that would block
//! (the socket's send buffer is full: a producer that stopped reading) passes the token and what
//! is queued to the writer thread (`net-client-write`), which finishes with blocking writes: task
//! threads never wait in the kernel. Shutdown stops both threads and joins them.
class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
 public:
  //! Connects and, for a `job_id`, sends the hello naming it before anything else.
  static absl::StatusOr<std::shared_ptr<ClientConnection>> Open(
      const std::string& address, const std::string& job_id = "",
      std::chrono::microseconds busy_poll = {});
  ~ClientConnection();

  //! Registers the channel and sends its partition request. Returns the channel id, 0 if broken.
  uint64_t Request(std::shared_ptr<RemoteInputChannel> channel, const std::string& partition_id,
                   int subpartition, int credit);
  void AddCredit(uint64_t channel_id, uint32_t credit);
  void Cancel(uint64_t channel_id);
  bool broken();
  void Shutdown();
  const std::string& address() const { return address_; }

 private:
  ClientConnection(std::string address, int fd, std::chrono::microseconds busy_poll);
  void ReadLoop();
  void WriteLoop();
  //! Queues the frame, then writes what is queued unless another thread holds the send token.
  void Send(const Frame& frame);
  //! Holding the send token: writes until nothing is queued. Returns with the token released, or
  //! passed to the writer thread (inline only: the writer itself blocks).
  void Drain(bool inline_send);
  void Break(const std::string& reason);

  const std::string address_;
  const int fd_;
  const std::chrono::microseconds busy_poll_;
  absl::Mutex mu_;
  std::map<uint64_t, std::shared_ptr<RemoteInputChannel>> channels_ ABSL_GUARDED_BY(mu_);
  uint64_t next_channel_ ABSL_GUARDED_BY(mu_) = 1;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  absl::Mutex send_mu_;
  std::string queued_ ABSL_GUARDED_BY(send_mu_);    // encoded frames the token holder has not taken
  bool sending_ ABSL_GUARDED_BY(send_mu_) = false;  // a thread holds the send token
  bool handoff_ ABSL_GUARDED_BY(send_mu_) = false;  // the token waits for the writer thread
  bool send_closed_ ABSL_GUARDED_BY(send_mu_) = false;  // shut down, or a write failed
  // Why the writer thread's write failed; the reader breaks the connection with it (the writer
  // thread never breaks it itself: the channels it would drop may hold the last references).
  std::string write_error_ ABSL_GUARDED_BY(send_mu_);
  std::string batch_;         // the token holder's: frames being written
  size_t batch_written_ = 0;  // the token holder's: bytes of batch_ written

  std::thread reader_;
  std::thread writer_;
};

}  // namespace sluice::network
