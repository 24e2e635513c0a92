// Tools of the chaos suite (tests/chaos/): a small tmpfs to fill up, the newest completed
// checkpoint of a job, bytes flipped in a file, freezing every TaskManager for a moment, and a
// report of what a run did (kills, records verified, lost, duplicated).
//
// Used from the test's thread only. A Tmpfs needs root (mount(2)); its Mount says so otherwise,
// and tests skip with that message.
#ifndef SLUICE_TESTS_CHAOS_CHAOS_UTIL_H_
#define SLUICE_TESTS_CHAOS_CHAOS_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/cluster_harness.h"
#include "tests/ledger_check.h"

namespace sluice::testing {

//! A tmpfs of a fixed size mounted on a fresh folder: a disk that fills up for real (ENOSPC).
//! Unmounted (lazily: daemons may still hold files in it) by the destructor.
class Tmpfs {
 public:
  //! Mounts a tmpfs of `bytes` on a new folder `dir`. FailedPrecondition when this process may
  //! not mount (not root).
  static absl::StatusOr<std::unique_ptr<Tmpfs>> Mount(const std::string& dir, int64_t bytes);
  ~Tmpfs();
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  const std::string& path() const { return path_; }
  //! Takes every free byte but `leave_bytes` with a filler file.
  absl::Status Fill(int64_t leave_bytes = 0);
  //! Removes the filler file: the space is free again.
  void Unfill();
  int64_t FreeBytes() const;

 private:
  explicit Tmpfs(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

//! The newest completed checkpoint (kind "checkpoint") of `job` as `sluice checkpoints --json`
//! lists it: {id, path}; NotFound while there is none.
struct CheckpointRef {
  int64_t id = 0;
  std::string path;
};
absl::StatusOr<CheckpointRef> NewestCheckpoint(LocalCluster& cluster, const std::string& job);
//! Waits (up to 2 minutes) until `job` has a completed checkpoint with an id above `after`.
absl::StatusOr<CheckpointRef> WaitForCheckpoint(LocalCluster& cluster, const std::string& job,
                                                int64_t after);

//! XORs the byte at `offset` (from the start; negative: from the end) of the file with 0xff.
absl::Status FlipByte(const std::string& path, int64_t offset);
//! The largest regular file below `dir` other than `_metadata`.
std::string LargestStateFile(const std::string& dir);

//! The 1-based indexes of the cluster's TaskManagers that run subtasks of `status`.
std::vector<int> TaskManagersRunning(LocalCluster& cluster, const JsonValue& status,
                                     int taskmanagers);

//! Appends "name: kills K, records verified V, lost L, duplicated D (...)" to the file named by
//! $SLUICE_CHAOS_REPORT, when set (`make chaos` collects them into docs/).
void Report(const std::string& name, int kills, const LedgerCounts& counts,
            const std::string& note = "");

//! Kill rounds of the storm: $SLUICE_CHAOS_KILLS, else `dflt` (the short form of `make test`).
int ChaosKills(int dflt);

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_CHAOS_CHAOS_UTIL_H_
