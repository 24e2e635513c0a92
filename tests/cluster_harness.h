// LocalCluster: a real Sluice cluster (one JobManager, N TaskManagers as separate processes) for
// the multi-process integration tests, started with `sluice cluster start` in a fresh temp
// directory and driven through the `sluice` CLI, exactly as a user would.
//
// Ownership and cleanup: the test (usually a fixture member) owns the LocalCluster. Its destructor
// runs `sluice cluster stop`, then SIGKILLs any daemon of this cluster that is still alive and
// removes the temp directory, whether the test passed or failed (on failure it first prints the
// tails of the daemon logs). A small guardian process (`sh`, outside the test's process tree) does
// the same cleanup if the test process dies without running destructors (crash, ctest timeout).
// With SLUICE_TEST_KEEP_DIR=1 in the environment the temp directory (logs, inputs, outputs) of a
// failed test is kept for inspection. Not thread-safe; used from the test's thread only. Loopback
// and ephemeral ports only.
#ifndef SLUICE_TESTS_CLUSTER_HARNESS_H_
#define SLUICE_TESTS_CLUSTER_HARNESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"

namespace sluice::testing {

using JsonValue = google::protobuf::Value;

//! How a finished command ended and what it printed.
struct CommandResult {
  int exit_code = -1;  // valid when term_signal == 0 and !timed_out
  int term_signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;

  bool ok() const { return exit_code == 0 && term_signal == 0 && !timed_out; }
  //! "exit 1 / stdout: ... / stderr: ..." for assertion messages.
  std::string Describe() const;
  //! The last non-empty line of stdout, whitespace-trimmed.
  std::string LastLine() const;
};

constexpr absl::Duration kCommandTimeout = absl::Seconds(120);
//! How long tests wait for an expected state; generous, since tests never assert on timing.
constexpr absl::Duration kWaitTimeout = absl::Seconds(60);

//! The build directory: $SLUICE_BUILD_DIR, else the parent of the test binary's directory.
std::string BuildDir();
std::string BinaryPath(const std::string& name);      // build/bin/<name>
std::string ExamplePackage(const std::string& name);  // build/examples/<name>.so
std::string TestPackage(const std::string& name);     // build/tests/packages/<name>.so

//! Runs argv (no shell) with stdin from /dev/null; SIGKILLs it after `timeout`.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         absl::Duration timeout = kCommandTimeout);
//! Runs build/bin/sluice with `args` (no --jobmanager added).
CommandResult RunSluice(const std::vector<std::string>& args,
                        absl::Duration timeout = kCommandTimeout);

// ---- JSON (the CLI's --json output) ----
absl::StatusOr<JsonValue> ParseJson(const std::string& text);
//! obj[key], or a null value when `v` is not an object or has no such key.
const JsonValue& Field(const JsonValue& v, const std::string& key);
std::string StringField(const JsonValue& v, const std::string& key);
int64_t IntField(const JsonValue& v, const std::string& key);
//! The keys of an object, sorted.
std::vector<std::string> Keys(const JsonValue& v);
//! Every subtask of a `status --json` object as (vertex name, subtask object).
std::vector<std::pair<std::string, const JsonValue*>> Subtasks(const JsonValue& status);

//! FINISHED, FAILED or CANCELED.
bool IsTerminalJobState(const std::string& state);

//! `sluice run` options for a checkpointed job: checkpoints every second into `checkpoints`,
//! savepoints into `savepoints` (when given), on `backend` ("hashmap", or "rocksdb" incremental).
std::vector<std::string> CheckpointDefines(const std::string& backend,
                                           const std::string& checkpoints,
                                           const std::string& savepoints = "");
//! CheckpointDefines and a restart strategy that keeps restarting (1000 attempts, 200 ms apart):
//! for tests that kill TaskManagers under a running job.
std::vector<std::string> RestartingCheckpointDefines(const std::string& backend,
                                                     const std::string& checkpoints,
                                                     const std::string& savepoints);

//! Polls `condition` every 200 ms until it holds or `timeout` passes; returns whether it held.
bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout = kWaitTimeout);

// ---- files ----
//! Regular files in `dir` whose names do not start with '.' or '_' (sorted).
std::vector<std::string> VisibleFiles(const std::string& dir);
//! Every entry in `dir` whose name starts with '.' or '_' (sorted).
std::vector<std::string> HiddenFiles(const std::string& dir);
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);
//! Every non-empty line of the visible files of `dir` (what a file sink committed), sorted.
std::vector<std::string> VisibleLines(const std::string& dir);
//! Publishes file `n` of `dir` as a file sink would (a hidden name, then a rename): 500 lines
//! "file <n> line <i>".
void PublishLinesFile(const std::string& dir, int n);

struct ClusterOptions {
  int taskmanagers = 2;
  int slots = 2;
  //! Extra configuration, as "key=value" (each passed as -D key=value).
  std::vector<std::string> defines = {};
  //! More arguments of `cluster start`, e.g. {"--config", path}.
  std::vector<std::string> extra_args = {};
};

class LocalCluster {
 public:
  //! Creates the temp directory; no process is started yet.
  LocalCluster();
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  //! `sluice cluster start` with heartbeat.interval=500ms, heartbeat.timeout=3s and an ephemeral
  //! JobManager port (plus options.defines). Fails with the CLI's output if the start fails.
  absl::Status Start(const ClusterOptions& options = {});

  const std::string& address() const { return address_; }
  const ClusterOptions& options() const { return options_; }
  //! What `cluster start` printed.
  const CommandResult& start_result() const { return start_result_; }
  //! The directory `cluster start` was given (pid files, logs, blobs).
  const std::string& cluster_dir() const { return cluster_dir_; }
  //! A fresh, empty scratch directory inside the temp directory (for job input and output).
  std::string NewDir(const std::string& name);
  //! A path inside the temp directory that does not exist yet.
  std::string ScratchPath(const std::string& name) const;

  //! Runs `sluice <args> --jobmanager <address>`.
  CommandResult Sluice(std::vector<std::string> args, absl::Duration timeout = kCommandTimeout);

  //! The pid of TaskManager i (1-based, as in taskmanager-<i>.pid) while it runs.
  absl::StatusOr<pid_t> TaskManagerPid(int i) const;
  //! SIGKILLs TaskManager i (1-based, as in taskmanager-<i>.pid) and waits until it is gone.
  absl::Status KillTaskManager(int i);
  //! SIGSTOPs TaskManager i: it stays connected but stops heartbeating (the destructor resumes
  //! and stops it).
  absl::Status FreezeTaskManager(int i);
  //! SIGCONTs a frozen TaskManager i.
  absl::Status ThawTaskManager(int i);
  //! `sluice cluster add-taskmanager`: one more TaskManager, in the lowest index without a live
  //! one (a dead one's folders). Returns its index once it registered.
  absl::StatusOr<int> AddTaskManager();
  //! The id TaskManager i registered with (taken from `taskmanagers --json`: the registered id
  //! that its log names first).
  absl::StatusOr<std::string> TaskManagerId(int i);
  //! Whether the JobManager process of this cluster is alive.
  bool JobManagerAlive() const;

  // ---- CLI views, parsed ----
  absl::StatusOr<JsonValue> JobStatus(const std::string& job_id);
  absl::StatusOr<JsonValue> TaskManagers();
  absl::StatusOr<JsonValue> Jobs();
  //! `run PACKAGE --detached --parallelism P [--arg a]... [extra]...` (`extra`: more options of
  //! `run`, e.g. CheckpointDefines); returns the job id (the last line).
  absl::StatusOr<std::string> SubmitDetached(const std::string& package, int parallelism,
                                             const std::vector<std::string>& job_args,
                                             const std::vector<std::string>& extra = {});
  //! "http://host:port" of the REST API, as `cluster start` wrote it into rest.address.
  std::string RestAddress() const;
  //! Polls `status --json` until `done(status)` holds; returns the last status either way, or an
  //! error naming the last state seen if the wait timed out.
  absl::StatusOr<JsonValue> WaitForStatus(const std::string& job_id,
                                          const std::function<bool(const JsonValue&)>& done,
                                          absl::Duration timeout = kWaitTimeout);
  //! Waits until the job has ended (IsTerminalJobState).
  absl::StatusOr<JsonValue> WaitEnded(const std::string& job_id,
                                      absl::Duration timeout = absl::Minutes(4));
  //! Waits until the job's state is `state`.
  absl::StatusOr<JsonValue> WaitForState(const std::string& job_id, const std::string& state,
                                         absl::Duration timeout = kWaitTimeout);
  //! Waits until the job is RUNNING and every one of its subtasks is RUNNING.
  absl::StatusOr<JsonValue> WaitForAllRunning(const std::string& job_id,
                                              absl::Duration timeout = kWaitTimeout);

  //! The last `lines` lines of each daemon log, for failure messages.
  std::string LogTails(int lines = 40) const;

 private:
  void StartGuardian();
  absl::Status SignalTaskManager(int i, int sig);
  void Cleanup();

  std::string root_;         // the temp directory, removed at the end
  std::string cluster_dir_;  // root_/cluster
  std::string address_;
  ClusterOptions options_;
  CommandResult start_result_;
  bool started_ = false;
  std::vector<pid_t> pids_;  // daemons seen in pid files
  int guardian_fd_ = -1;     // write end of the guardian's pipe
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_CLUSTER_HARNESS_H_
