#include "taskmanager/network/subpartition.h"

namespace sluice::network {

bool Subpartition::Add(BufferPtr buffer, const WaitCounters& wait) {
  std::function<void()> listener;
  {
    absl::MutexLock lock(&mu_);
    if (!buffer->is_event()) {
      if (data_buffers_ >= capacity_ && !released_) {
        // Once full, the producer waits until only resume_at_ buffers are left, not for the
        // first free place: it then fills several buffers per wake-up instead of one (a wake-up
        // costs more than filling a buffer; bench/README.md, "Network stack").
        auto space_or_released = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return released_ || data_buffers_ <= resume_at_;
        };
        WaitTimer blocked(wait);
        mu_.Await(absl::Condition(&space_or_released));
      }
      ++data_buffers_;
    }
    if (released_) return false;
    // Consumers re-check after every poll, so only the empty -> non-empty edge needs a wake-up.
    if (queue_.empty()) listener = listener_;
    queue_.push_back(std::move(buffer));
  }
  if (listener) listener();
  return true;
}

BufferPtr Subpartition::Poll(int* backlog) {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return nullptr;
  BufferPtr b = std::move(queue_.front());
  queue_.pop_front();
  if (!b->is_event()) --data_buffers_;
  if (backlog) *backlog = static_cast<int>(queue_.size());
  return b;
}

bool Subpartition::Peek(bool* is_event) {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return false;
  *is_event = queue_.front()->is_event();
  return true;
}

void Subpartition::SetListener(std::function<void()> listener) {
  bool has_data;
  {
    absl::MutexLock lock(&mu_);
    listener_ = listener;
    has_data = !queue_.empty();
  }
  if (has_data && listener) listener();
}

void Subpartition::Release() {
  std::deque<BufferPtr> dropped;  // recycled outside our lock
  absl::MutexLock lock(&mu_);
  released_ = true;
  dropped.swap(queue_);
  data_buffers_ = 0;
}

bool Subpartition::released() {
  absl::MutexLock lock(&mu_);
  return released_;
}

}  // namespace sluice::network
