// Asynchronous operations of the REST API (Flink's trigger ids): a savepoint, stop-with-savepoint
// or rescale is started on its own thread and answered at once with a request id; the client polls
// its status (IN_PROGRESS, then COMPLETED with the savepoint's location or the failure's cause).
// Thread-safe. The destructor waits for the operations still running.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace sluice::jobmanager::rest {

class Operations {
 public:
  struct Result {
    bool done = false;
    absl::StatusOr<std::string> outcome = std::string();  // the location, or why it failed
  };

  Operations() = default;
  ~Operations();
  Operations(const Operations&) = delete;
  Operations& operator=(const Operations&) = delete;

  //! Runs `work` on a new thread; returns the request id. `kind` and `job_id` scope the id: a
  //! savepoint id is not a rescale id, nor one of another job.
  std::string Start(const std::string& kind, const std::string& job_id,
                    std::function<absl::StatusOr<std::string>()> work);
  //! The operation's state; nullopt for an unknown id (of another kind or job included).
  std::optional<Result> Get(const std::string& kind, const std::string& job_id,
                            const std::string& request_id);

 private:
  struct Entry {
    std::string kind;
    std::string job_id;
    Result result;
  };
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);  // ids, oldest first (bounded)
  std::map<std::string, std::thread> threads_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> finished_ ABSL_GUARDED_BY(mu_);  // threads done, not yet joined
};

}  // namespace sluice::jobmanager::rest
