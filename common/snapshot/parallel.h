// ForEachParallel: a loop over [0, n) on a few threads, for the snapshot storage's transfers and
// checks (S3 requests wait on the network, so several at once go faster).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace sluice::snapshot {

//! Runs fn(i) for i in [0, n) on up to `parallelism` threads (this one among them); stops
//! starting new ones after the first error, which it returns.
inline absl::Status ForEachParallel(size_t n, int parallelism,
                                    const std::function<absl::Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  absl::Status error;
  auto worker = [&] {
    for (size_t i = next++; i < n; i = next++) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!error.ok()) return;
      }
      absl::Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (error.ok()) error = std::move(s);
      }
    }
  };
  const size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(1, parallelism)));
  std::vector<std::thread> pool;
  for (size_t i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  return error;
}

}  // namespace sluice::snapshot
