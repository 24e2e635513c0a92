// Subpartition: the bounded queue of buffers from one producer subtask to one consumer channel.
// The producer (its task thread) blocks in Add while the queue is full: that is backpressure. The
// consumer side (a local input channel or the network writer of a remote one) polls without
// blocking and is told about new data through a listener. Thread-safe.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "taskmanager/network/buffer.h"
#include "taskmanager/network/wait_timer.h"

namespace sluice::network {

class Subpartition {
 public:
  explicit Subpartition(int capacity)
      : capacity_(capacity), resume_at_(capacity <= 1 ? 0 : std::max(1, capacity / 4)) {}

  //! Blocks while full, until the queue has drained to a quarter, booking the wait to `wait` while
  //! it lasts (a metrics reporter sees a long wait in progress). Events are never refused for lack
  //! of space. Returns false once released.
  bool Add(BufferPtr buffer, const WaitCounters& wait = {});
  //! Next buffer, or nullptr when empty. `backlog` gets the number of buffers left behind it.
  BufferPtr Poll(int* backlog = nullptr);
  //! Whether a buffer is queued, and if so whether it is an event (needs no credit).
  bool Peek(bool* is_event);
  //! Called (without locks held) whenever a buffer is added; at once if data is already queued.
  void SetListener(std::function<void()> listener);
  //! Drops queued data and wakes a blocked producer; Add fails from now on.
  void Release();
  bool released();

 private:
  const int capacity_;
  //! A blocked producer resumes once this few data buffers are queued: a quarter of the capacity,
  //! and at least one, so that the consumer does not run dry while the producer wakes up.
  const int resume_at_;
  absl::Mutex mu_;
  std::deque<BufferPtr> queue_ ABSL_GUARDED_BY(mu_);
  int data_buffers_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void()> listener_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::network
