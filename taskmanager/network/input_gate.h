// InputGate: the single (union) input of a task, over one input channel per upstream subpartition.
// Channels tell the gate when they have data; the task thread waits in Next for any channel with
// data. Created with std::make_shared: channel listeners keep it alive while they may still fire.
#pragma once

#include <deque>
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
  enum class Result { kBuffer, kTimeout, kWakeup, kError, kClosed };

  void AddChannel(std::shared_ptr<InputChannel> channel);
  int size() const { return static_cast<int>(channels_.size()); }
  void Start();

  void NotifyAvailable(int index);
  void NotifyError(const std::string& message);

  //! Waits up to `timeout` for a buffer from any channel.
  Result Next(absl::Duration timeout, int* channel, BufferPtr* buffer, std::string* error);
  //! Wakes a waiting Next (kClosed) and closes all channels. Idempotent.
  void Close();
  //! Makes the current or next Next return kWakeup (the task has mail). Any thread.
  void Wakeup();

  //! Checkpoint alignment (task thread): a blocked channel's buffers stay in the channel (and
  //! hold back its producer through credit) until UnblockAll.
  void Block(int index);
  void UnblockAll();

 private:
  std::vector<std::shared_ptr<InputChannel>> channels_;  // fixed after Start
  absl::Mutex mu_;
  std::deque<int> available_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> queued_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> blocked_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> parked_ ABSL_GUARDED_BY(mu_);  // blocked with data
  bool wakeup_ ABSL_GUARDED_BY(mu_) = false;
  std::string error_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sluice::network
