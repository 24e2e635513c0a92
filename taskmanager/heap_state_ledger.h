// HeapStateLedger: the heap keyed state (state.backend.type: hashmap) of a TaskManager's tasks,
// counted against the task heap of its memory budget (docs/state-backends.md, "Heap state in
// the budget"). Each task with heap state reports its estimate a few times a second; a job whose
// heap state is over its share (the task heap per slot, times the slots the job holds here) gets
// an error that names the figures and what to do, and the reporting task fails with it — a
// clear failure instead of the kernel's OOM kill. Without a budget nothing is refused; the use
// is still counted for `sluice taskmanagers`. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace sluice::taskmanager {

class HeapStateLedger {
 public:
  //! The slots job `job_id` holds on this TaskManager now (at least 1 counted).
  using JobSlots = std::function<int(const std::string& job_id)>;

  //! `task_heap`: the budget's task heap in bytes (0: no bound); `slots`: the TaskManager's.
  HeapStateLedger(int64_t task_heap, int slots, JobSlots job_slots, std::string taskmanager_id);

  //! Task `attempt` of `job_id` holds `bytes` of heap state now. ResourceExhausted when the
  //! job's heap state is over its share; the bytes are counted either way.
  absl::Status Report(const std::string& job_id, const std::string& attempt, int64_t bytes);
  //! The task has ended: its heap state is gone.
  void Remove(const std::string& attempt);

  struct Usage {
    int64_t budget = 0;  //!< the task heap (0: no bound)
    int64_t used = 0;    //!< heap state of all tasks now
    int64_t peak = 0;    //!< the most at once since the TaskManager started
  };
  Usage usage() const;

 private:
  struct Entry {
    std::string job_id;
    int64_t bytes = 0;
  };

  const int64_t task_heap_;
  const int slots_;
  const JobSlots job_slots_;
  const std::string taskmanager_id_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> by_attempt_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> by_job_ ABSL_GUARDED_BY(mu_);  // the sum of each job's attempts
  int64_t used_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t peak_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::taskmanager
