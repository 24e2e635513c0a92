#include "taskmanager/network/buffer_pool.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace sluice::network {

NetworkBufferPool::NetworkBufferPool(size_t total_bytes, size_t segment_size)
    : segment_size_(segment_size),
      total_(static_cast<int>(total_bytes / segment_size)),
      arena_(new uint8_t[static_cast<size_t>(total_) * segment_size]) {
  limit_ = total_;
  free_.reserve(static_cast<size_t>(total_));
  for (int i = total_ - 1; i >= 0; --i)
    free_.push_back(arena_.get() + static_cast<size_t>(i) * segment_size);
}

int NetworkBufferPool::total_segments() {
  absl::MutexLock lock(&mu_);
  return limit_;
}

int NetworkBufferPool::available_segments() {
  absl::MutexLock lock(&mu_);
  const int used = total_ - static_cast<int>(free_.size());
  return std::max(0, limit_ - used);
}

void NetworkBufferPool::SetLimit(int segments) {
  absl::MutexLock lock(&mu_);
  limit_ = std::clamp(segments, 0, total_);
}

int NetworkBufferPool::peak_used_segments() {
  absl::MutexLock lock(&mu_);
  return peak_used_;
}

bool NetworkBufferPool::Acquire(int n, std::vector<uint8_t*>* out) {
  absl::MutexLock lock(&mu_);
  const int used = total_ - static_cast<int>(free_.size());
  if (n > static_cast<int>(free_.size()) || used + n > limit_) return false;
  for (int i = 0; i < n; ++i) {
    out->push_back(free_.back());
    free_.pop_back();
  }
  peak_used_ = std::max(peak_used_, total_ - static_cast<int>(free_.size()));
  return true;
}

void NetworkBufferPool::Release(const std::vector<uint8_t*>& segments) {
  absl::MutexLock lock(&mu_);
  free_.insert(free_.end(), segments.begin(), segments.end());
}

absl::StatusOr<std::shared_ptr<LocalBufferPool>> LocalBufferPool::Create(
    std::shared_ptr<NetworkBufferPool> global, int buffers, const std::string& owner) {
  std::vector<uint8_t*> segments;
  if (!global->Acquire(buffers, &segments)) {
    size_t seg = global->segment_size();
    return absl::ResourceExhaustedError(absl::StrCat(
        "not enough network memory for ", owner, ": it needs ", buffers, " buffers of ", seg,
        " bytes (", static_cast<size_t>(buffers) * seg / 1024, " KiB) but only ",
        global->available_segments(), " of ", global->total_segments(),
        " are free; raise taskmanager.memory.network.size (now ",
        static_cast<size_t>(global->total_segments()) * seg / (1024 * 1024), " MiB)"));
  }
  return std::shared_ptr<LocalBufferPool>(
      new LocalBufferPool(std::move(global), std::move(segments)));
}

LocalBufferPool::LocalBufferPool(std::shared_ptr<NetworkBufferPool> global,
                                 std::vector<uint8_t*> segments)
    : global_(std::move(global)), segments_(std::move(segments)) {
  for (uint8_t* s : segments_) {
    auto b = std::make_unique<Buffer>();
    b->data = s;
    b->capacity = global_->segment_size();
    free_.push_back(b.get());
    storage_.push_back(std::move(b));
  }
}

LocalBufferPool::~LocalBufferPool() { global_->Release(segments_); }

BufferPtr LocalBufferPool::Wrap(Buffer* b) {
  b->owner = shared_from_this();
  return BufferPtr(b);
}

BufferPtr LocalBufferPool::Request() {
  Buffer* b = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (free_.empty()) return nullptr;
    b = free_.back();
    free_.pop_back();
  }
  return Wrap(b);
}

BufferPtr LocalBufferPool::RequestBlocking(int64_t* waited_ns) {
  Buffer* b = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (free_.empty()) {
      auto start = std::chrono::steady_clock::now();
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_ || !free_.empty(); };
      mu_.Await(absl::Condition(&ready));
      if (waited_ns) {
        *waited_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now() - start)
                          .count();
      }
    }
    if (closed_) return nullptr;
    b = free_.back();
    free_.pop_back();
  }
  return Wrap(b);
}

void LocalBufferPool::AddListener(std::weak_ptr<BufferListener> listener) {
  absl::MutexLock lock(&mu_);
  listeners_.push_back(std::move(listener));
}

void LocalBufferPool::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

int LocalBufferPool::in_use() {
  absl::MutexLock lock(&mu_);
  return size() - static_cast<int>(free_.size());
}

void LocalBufferPool::Recycle(Buffer* buffer) {
  std::shared_ptr<BufferListener> listener;
  {
    absl::MutexLock lock(&mu_);
    while (!listeners_.empty() && !listener) {
      listener = listeners_.front().lock();
      listeners_.pop_front();
    }
    if (!listener || closed_) {
      free_.push_back(buffer);
      return;
    }
  }
  // Hand the buffer straight to a channel that asked for one (floating buffers). A listener that
  // declines drops it, which brings it back here for the next listener or the free list.
  listener->NotifyBufferAvailable(Wrap(buffer));
}

}  // namespace sluice::network
