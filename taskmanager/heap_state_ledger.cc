#include "taskmanager/heap_state_ledger.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "taskmanager/memory_budget.h"

namespace sluice::taskmanager {

HeapStateLedger::HeapStateLedger(int64_t task_heap, int slots, JobSlots job_slots,
                                 std::string taskmanager_id)
    : task_heap_(task_heap),
      slots_(std::max(1, slots)),
      job_slots_(std::move(job_slots)),
      taskmanager_id_(std::move(taskmanager_id)) {}

absl::Status HeapStateLedger::Report(const std::string& job_id, const std::string& attempt,
                                     int64_t bytes) {
  int64_t job_bytes = 0;
  {
    absl::MutexLock lock(&mu_);
    Entry& e = by_attempt_[attempt];
    e.job_id = job_id;
    used_ += bytes - e.bytes;
    job_bytes = by_job_[job_id] += bytes - e.bytes;
    e.bytes = bytes;
    peak_ = std::max(peak_, used_);
  }
  // Within one slot's share, the job is within its own whatever its slots: the common case
  // costs no count of them.
  if (task_heap_ <= 0 || job_bytes <= task_heap_ / slots_) return absl::OkStatus();
  // Outside the lock: the TaskManager counts the job's slots under its own.
  const int job_slots = std::clamp(job_slots_(job_id), 1, slots_);
  const int64_t share = task_heap_ / slots_ * job_slots;
  if (job_bytes <= share) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the heap state of job ", job_id, " on TaskManager ", taskmanager_id_, " is over its share ",
      "of the task heap: about ",
      absl::StrFormat("%.1f MiB", static_cast<double>(job_bytes) / (1 << 20)), " of ",
      DescribeBytes(share), " (", job_slots, " of ", slots_, " slots of a task heap of ",
      DescribeBytes(task_heap_),
      ", from taskmanager.memory.process.size). Keep state this large in RocksDB "
      "(state.backend.type: rocksdb), or give the TaskManager more memory or more slots"));
}

void HeapStateLedger::Remove(const std::string& attempt) {
  absl::MutexLock lock(&mu_);
  auto it = by_attempt_.find(attempt);
  if (it == by_attempt_.end()) return;
  used_ -= it->second.bytes;
  if (auto job = by_job_.find(it->second.job_id); job != by_job_.end()) {
    if ((job->second -= it->second.bytes) == 0) by_job_.erase(job);
  }
  by_attempt_.erase(it);
}

HeapStateLedger::Usage HeapStateLedger::usage() const {
  absl::MutexLock lock(&mu_);
  return Usage{task_heap_, used_, peak_};
}

}  // namespace sluice::taskmanager
