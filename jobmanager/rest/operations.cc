#include "jobmanager/rest/operations.h"

#include "common/ids.h"

namespace sluice::jobmanager::rest {

namespace {
constexpr size_t kKeptOperations = 1000;
}  // namespace

Operations::~Operations() {
  std::map<std::string, std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    threads.swap(threads_);
  }
  for (auto& [id, t] : threads) t.join();
}

std::string Operations::Start(const std::string& kind, const std::string& job_id,
                              std::function<absl::StatusOr<std::string>()> work) {
  const std::string id = NewId();
  absl::MutexLock lock(&mu_);
  // Threads that are done only exit: joining them here takes no time.
  for (const std::string& done : finished_) {
    auto it = threads_.find(done);
    if (it == threads_.end()) continue;
    it->second.join();
    threads_.erase(it);
  }
  finished_.clear();
  entries_[id] = Entry{kind, job_id, Result{}};
  order_.push_back(id);
  while (order_.size() > kKeptOperations) {
    auto old = entries_.find(order_.front());
    if (old != entries_.end() && !old->second.result.done) break;  // still polled, keep it
    entries_.erase(order_.front());
    order_.pop_front();
  }
  threads_[id] = std::thread([this, id, work = std::move(work)] {
    absl::StatusOr<std::string> outcome = work();
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it != entries_.end()) {
      it->second.result.outcome = std::move(outcome);
      it->second.result.done = true;
    }
    finished_.push_back(id);
  });
  return id;
}

std::optional<Operations::Result> Operations::Get(const std::string& kind,
                                                  const std::string& job_id,
                                                  const std::string& request_id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(request_id);
  if (it == entries_.end() || it->second.kind != kind || it->second.job_id != job_id) {
    return std::nullopt;
  }
  return it->second.result;
}

}  // namespace sluice::jobmanager::rest
