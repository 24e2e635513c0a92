// InputGate: the single (union) input of a task, over one input channel per upstream subpartition.
// Channels tell the gate when they have data. The task thread takes buffers with Poll (never
// blocking) and, when there is none, arms the gate's availability listener with PrepareToWait and
// waits in its mailbox; the listener (the mailbox's Signal) fires once when data, an error or the
// close arrives. Next, a blocking wait, serves tests and tools. Created with std::make_shared:
// channel listeners keep it alive while they may still fire.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "taskmanager/network/buffer.h"

namespace sluice::network {

class InputGate;

class InputChannel {
 public:
  virtual ~InputChannel() = default;
  //! Starts requesting data; notifications go to gate->NotifyAvailable(index).
  //! Before any channel of the gate starts: take the buffers the channel owns for good (its
  //! exclusive buffers). Every channel gets them before one can borrow floating buffers from the
  //! same pool, or an early channel could take a later one's share and leave it without credit.
  virtual void AssignExclusiveBuffers() {}
  virtual void Start(std::shared_ptr<InputGate> gate, int index) = 0;
  //! Next buffer without blocking, or nullptr.
  virtual BufferPtr Poll() = 0;
  //! Stops notifications and releases the channel's resources.
  virtual void Close() = 0;
  //! The task is about to wait for input: announce any credit held back (remote channels).
  virtual void FlushCredit() {}
};

class InputGate : public std::enable_shared_from_this<InputGate> {
 public:
  enum class Result { kBuffer, kTimeout, kNone, kError, kClosed };

  void AddChannel(std::shared_ptr<InputChannel> channel);
  //! Before Start: what runs (on the thread that made input available) when an armed gate gets
  //! data, an error or closes. It must not block.
  void SetAvailabilityListener(std::function<void()> listener);
  int size() const { return static_cast<int>(channels_.size()); }
  void Start();

  void NotifyAvailable(int index);
  void NotifyError(const std::string& message);

  //! A buffer from any channel if one is there (kBuffer), else kNone; kError, kClosed.
  Result Poll(int* channel, BufferPtr* buffer, std::string* error);
  //! The task thread found nothing and is about to wait: announces credit held back, then arms
  //! the availability listener. False (not armed) when a buffer, an error or the close is already
  //! there: poll again instead of waiting.
  bool PrepareToWait();
  //! Waits up to `timeout` for a buffer from any channel (kTimeout when none came).
  Result Next(absl::Duration timeout, int* channel, BufferPtr* buffer, std::string* error);
  //! Wakes a waiting Next (kClosed) and closes all channels. Idempotent.
  void Close();

  //! Checkpoint alignment (task thread): a blocked channel's buffers stay in the channel (and
  //! hold back its producer through credit) until UnblockAll.
  void Block(int index);
  void UnblockAll();

 private:
  bool ReadyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || !error_.empty() || !available_.empty();
  }
  //! Disarms and returns the listener to call (outside mu_) if it was armed.
  std::function<void()>* FireLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::vector<std::shared_ptr<InputChannel>> channels_;  // fixed after Start
  absl::Mutex mu_;
  std::deque<int> available_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> queued_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> blocked_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> parked_ ABSL_GUARDED_BY(mu_);  // blocked with data
  //! The listener fires once per PrepareToWait that armed it.
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> listener_;  // fixed before Start
  std::string error_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sluice::network
