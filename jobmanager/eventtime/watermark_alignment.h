// WatermarkAlignment: the JobManager's half of watermark alignment (Flink's source coordinator
// announcing the combined watermark of an alignment group). Source subtasks whose strategy has
// `WithWatermarkAlignment(group, max_drift)` report their watermark with every metrics report; the
// JobManager answers each with the most that subtask's watermark may advance to: the minimum over
// the other subtasks of the group in the job, plus that subtask's max drift (its own watermark is
// never behind its report, so it need not count). A subtask that is idle or finished reports the
// maximum watermark and holds nobody back (docs/event-time.md).
//
// One per job, owned by its JobMaster. Thread-safe behind a small mutex: the metrics RPC answers
// from it directly, and the JobMaster's executor forgets attempts as they end.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"

namespace sluice::jobmanager {

class WatermarkAlignment {
 public:
  //! The latest watermark of a subtask attempt in `group`, with its own max drift (ms, > 0).
  void Report(const std::string& attempt_id, const std::string& group, int64_t max_drift_ms,
              int64_t watermark);
  //! The most `attempt_id`'s watermark may advance to now: INT64_MAX when it reported no group
  //! or when every member is idle or done; never overflows.
  int64_t MaxAllowed(const std::string& attempt_id);
  //! The attempt ended (finished, failed or cancelled): it no longer holds its group back, and a
  //! report of it that arrives later is ignored.
  void Forget(const std::string& attempt_id);
  //! Every member so far is replaced (a restart or a rescale deploys new attempts): Forget each.
  void ForgetAll();

 private:
  struct Member {
    std::string group;
    int64_t max_drift_ms = 0;
    int64_t watermark = INT64_MIN;
  };
  absl::Mutex mu_;
  std::map<std::string, Member> members_ ABSL_GUARDED_BY(mu_);  // by attempt id
  std::set<std::string> ended_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::jobmanager
