// LocalStateDirs: this TaskManager's working folders for task state (RocksDB instances), one per
// local state root it uses: `<root>/<taskmanager id>/`. Several TaskManagers may share a root (a
// replacement started on the same machine and folders as one that died); each holds an exclusive
// flock on `<root>/<taskmanager id>.lock` for as long as it lives — the kernel releases it when
// the process dies, even by SIGKILL. The first time a TaskManager uses a root it removes the
// folders and lock files there whose owner is gone (their lock is free, or there is no lock file:
// a lock file is created before its folder), so that state of dead TaskManagers does not pile up.
//
// Owned by the TaskExecutor; thread-safe. The destructor removes this TaskManager's folders and
// releases its locks (a clean shutdown leaves nothing behind).
#pragma once

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace sluice::taskmanager {

class LocalStateDirs {
 public:
  explicit LocalStateDirs(std::string taskmanager_id);
  ~LocalStateDirs();
  LocalStateDirs(const LocalStateDirs&) = delete;
  LocalStateDirs& operator=(const LocalStateDirs&) = delete;

  //! `<root>/<taskmanager id>`, created and locked on first use; every call first removes what
  //! dead TaskManagers left in `root`. A relative `root` is taken from the working directory.
  absl::StatusOr<std::string> Acquire(const std::string& root);

  //! Removes from `root` the folders and lock files of TaskManagers that are gone, never those of
  //! live ones or `keep_id`'s. Returns how many folders it removed.
  static int RemoveOrphans(const std::string& root, const std::string& keep_id);

 private:
  struct Held {
    std::string dir;
    std::string lock_path;
    int lock_fd = -1;
  };

  const std::string id_;
  absl::Mutex mu_;
  std::map<std::string, Held> held_ ABSL_GUARDED_BY(mu_);  // by root
};

}  // namespace sluice::taskmanager
