// RemoteInputChannel: an input channel that reads a subpartition of a producer on another
// TaskManager, over that TaskManager's ClientConnection (client_connection.h), with credit-based
// flow control.
#pragma once

#include <deque>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "taskmanager/network/buffer_pool.h"
#include "taskmanager/network/connection_manager.h"
#include "taskmanager/network/input_gate.h"

namespace sluice::network {

class ClientConnection;

//! Credit-based remote channel. It owns `exclusive` buffers of its gate's pool for its whole life
//! and borrows floating ones from the same pool to cover the producer's announced backlog. Every
//! buffer it holds free is one credit the producer has been granted; a buffer comes back as credit
//! when the task has processed it (Recycle). Thread-safe: the connection's reader thread, the task
//! thread and the pool (handing over floating buffers) all call in.
class RemoteInputChannel final : public InputChannel,
                                 public BufferRecycler,
                                 public BufferListener,
                                 public std::enable_shared_from_this<RemoteInputChannel> {
 public:
  RemoteInputChannel(ConnectionManager* connections, std::string address, std::string partition_id,
                     int subpartition, std::shared_ptr<LocalBufferPool> pool, int exclusive,
                     std::string producer_id = "", std::string job_id = "");
  void AssignExclusiveBuffers() override;
  void Start(std::shared_ptr<InputGate> gate, int index) override;
  BufferPtr Poll() override;
  void Close() override;

  // From the connection's reader thread.
  //! A free buffer to receive a data frame into; null when the producer sent without credit.
  BufferPtr TakeReceiveBuffer();
  //! Queues a received buffer (borrowing floating buffers for the backlog). The gate hears of it,
  //! and the producer of the borrowed buffers' credit, when the reader ends its batch: NotifyGate.
  void OnBuffer(BufferPtr buffer, uint32_t seq, uint32_t backlog);
  void NotifyGate();
  void OnError(const std::string& message);

  void Recycle(Buffer* buffer) override;
  bool NotifyBufferAvailable(BufferPtr buffer) override;
  //! The task is about to wait for input: announces credit held back.
  void FlushCredit() override { Announce(0, /*now=*/true); }

  //! Buffers held now (free, being received, queued or being processed) — for tests.
  int owned();

 private:
  //! Takes floating buffers while fewer are free than wanted_free(); returns credits to announce.
  int RequestFloatingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  //! Adds credit; announces what was held back at once if `now`, else once it makes a batch.
  void Announce(int credit, bool now = true);
  void Fail(const std::string& message);
  //! Free buffers the channel aims to hold: the producer's backlog plus its exclusive buffers (as
  //! Flink's onSenderBacklog), so the credit window is the exclusive buffers on top of what is
  //! already queued at the producer, not just the queue.
  int wanted_free() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return backlog_ + exclusive_; }

  ConnectionManager* connections_;
  const std::string address_;
  const std::string partition_id_;
  const int subpartition_;
  const std::shared_ptr<LocalBufferPool> pool_;
  const int exclusive_;
  const std::string producer_id_;  // TaskManager id of the producer, for error messages
  const std::string job_id_;       // the connection's job (ConnectionManager::Get)
  absl::Mutex mu_;
  std::shared_ptr<InputGate> gate_ ABSL_GUARDED_BY(mu_);
  int index_ = 0;
  std::shared_ptr<ClientConnection> connection_ ABSL_GUARDED_BY(mu_);
  uint64_t channel_id_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t expected_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<BufferPtr> free_ ABSL_GUARDED_BY(mu_);      // owner: the pool
  std::deque<BufferPtr> received_ ABSL_GUARDED_BY(mu_);  // owner: this channel
  int owned_ ABSL_GUARDED_BY(mu_) = 0;
  int backlog_ ABSL_GUARDED_BY(mu_) = 0;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;  // credit the producer was granted and has not used
  int held_ ABSL_GUARDED_BY(mu_) = 0;         // credit earned but not announced yet
  bool waiting_for_floating_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sluice::network
