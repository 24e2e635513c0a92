// Network memory (docs/architecture.md, "Data exchange"): the TaskManager carves
// `taskmanager.memory.network.size` into fixed-size segments once, at start-up (NetworkBufferPool).
// Output partitions and input gates take a fixed number of segments each as a LocalBufferPool when
// their task is deployed and give them back when the pool dies; a task that cannot get them fails
// to deploy. In-flight data therefore never exceeds the configured network memory. Both classes are
// thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "taskmanager/network/buffer.h"

namespace sluice::network {

class NetworkBufferPool {
 public:
  //! Reserves address space for total_bytes / segment_size segments; pages are touched on first
  //! use.
  NetworkBufferPool(size_t total_bytes, size_t segment_size);
  size_t segment_size() const { return segment_size_; }
  //! The segments this pool may hand out: all of them, or the limit (SetLimit).
  int total_segments();
  int available_segments();
  //! Hands out at most `segments` at once from now on (at most all of them). A job's process in
  //! a TaskManager that runs each job in its own process reserves the TaskManager's whole network
  //! memory as address space but may use only its job's share of it.
  void SetLimit(int segments);
  //! The most segments ever taken at once (instrumentation for tests and metrics).
  int peak_used_segments();

  //! Takes n segments, all or nothing.
  bool Acquire(int n, std::vector<uint8_t*>* out);
  void Release(const std::vector<uint8_t*>& segments);

 private:
  const size_t segment_size_;
  const int total_;
  std::unique_ptr<uint8_t[]> arena_;
  absl::Mutex mu_;
  std::vector<uint8_t*> free_ ABSL_GUARDED_BY(mu_);
  int peak_used_ ABSL_GUARDED_BY(mu_) = 0;
  int limit_ ABSL_GUARDED_BY(mu_);
};

//! Told when a pool has a buffer again; takes it (true) or declines (false).
class BufferListener {
 public:
  virtual ~BufferListener() = default;
  virtual bool NotifyBufferAvailable(BufferPtr buffer) = 0;
};

class LocalBufferPool final : public BufferRecycler,
                              public std::enable_shared_from_this<LocalBufferPool> {
 public:
  //! A pool of exactly `buffers` segments, or ResourceExhausted naming `owner` and the sizes.
  static absl::StatusOr<std::shared_ptr<LocalBufferPool>> Create(
      std::shared_ptr<NetworkBufferPool> global, int buffers, const std::string& owner);
  ~LocalBufferPool() override;

  //! A free buffer, or null.
  BufferPtr Request();
  //! Waits for a free buffer; null once the pool is closed. *waited_ns grows by the time waited.
  BufferPtr RequestBlocking(int64_t* waited_ns);
  //! Registers a listener that gets the next recycled buffer (once).
  void AddListener(std::weak_ptr<BufferListener> listener);
  //! Wakes blocked requesters (they get null); buffers can still be recycled.
  void Close();

  int size() const { return static_cast<int>(storage_.size()); }
  int in_use();
  double usage() { return size() == 0 ? 0.0 : static_cast<double>(in_use()) / size(); }

  void Recycle(Buffer* buffer) override;

 private:
  LocalBufferPool(std::shared_ptr<NetworkBufferPool> global, std::vector<uint8_t*> segments);
  BufferPtr Wrap(Buffer* b);

  std::shared_ptr<NetworkBufferPool> global_;
  std::vector<uint8_t*> segments_;
  std::vector<std::unique_ptr<Buffer>> storage_;
  absl::Mutex mu_;
  std::vector<Buffer*> free_ ABSL_GUARDED_BY(mu_);
  std::deque<std::weak_ptr<BufferListener>> listeners_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sluice::network
