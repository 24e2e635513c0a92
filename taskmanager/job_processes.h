// JobProcesses: with `taskmanager.process-per-job`, a TaskManager daemon runs no task itself. Each
// job's tasks run in a process of their own (a "job process": the same executable, started with
// --job-process), so that one job's crash cannot take another job's tasks down.
//
// The daemon keeps the control plane: it registers at the JobManager and heartbeats, and forwards
// DeployTask, CancelTask, TriggerCheckpoint, NotifyCheckpoint and ReleaseJob to the job's process
// over local gRPC, starting the process on the job's first deployment (or first data connection).
// The job process reports task states, checkpoints and metrics to the JobManager itself, under the
// TaskManager's id. Data connections arrive at the daemon's data port; the first frame of each
// names its job (a hello), and the daemon passes the socket to that job's process (SCM_RIGHTS over
// a Unix socket pair, the process's "control socket"), which serves it from then on.
//
// Supervision: the daemon waits for each process. When one ends that was not asked to, it reports
// every task attempt it had deployed there as FAILED, saying why: "the process of job J crashed
// (SIGSEGV) while running task 'T'" (its crash handler writes the signal and the task to the
// control socket before it dies, and the stack to the log), "exited with code N", or "was killed
// (SIGKILL)". The JobManager ignores reports of attempts that had ended already. A process whose
// job has had no attempt here for `taskmanager.process-per-job.idle-timeout` is stopped; a job
// process ends by itself when its daemon goes away (its control socket closes; PR_SET_PDEATHSIG).
//
// Thread-safety: every method may be called from any thread. Processes are started on one
// long-lived thread (`tm-job-procs`), because PR_SET_PDEATHSIG follows the thread that forked.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/executor.h"
#include "sluice_proto/cluster.grpc.pb.h"

namespace sluice::taskmanager {

struct JobProcessOptions {
  std::string taskmanager_id;
  std::string executable;         //!< this daemon's (/proc/self/exe)
  std::vector<std::string> args;  //!< the daemon's own arguments (--config, -D), passed on
  std::chrono::milliseconds idle_timeout{30000};
  int max_processes = 8;  //!< a hello for yet another job is refused beyond this
};

class JobProcesses {
 public:
  JobProcesses(JobProcessOptions options, proto::JobManagerService::Stub* jobmanager);
  ~JobProcesses();

  // The TaskManagerService calls the daemon forwards (answers as the job process gave them).
  grpc::Status Deploy(const proto::TaskDeployment& deployment);
  grpc::Status Cancel(const proto::CancelTaskRequest& request);
  grpc::Status Release(const proto::ReleaseJobRequest& request);
  grpc::Status Trigger(const proto::TriggerCheckpointRequest& request);
  grpc::Status Notify(const proto::CheckpointNotification& request);

  //! Passes a data connection to its job's process (starting it); closes `fd` when it cannot.
  void PassConnection(int fd, const std::string& job_id);
  //! Cancels every task of every process (the JobManager connection was lost).
  void CancelAll();
  //! The network memory all processes use now, within the daemon's `total`.
  proto::NetworkMemoryStats NetworkMemory(proto::NetworkMemoryStats total);
  //! Adds what the job processes use now to the daemon's own process, managed and task heap
  //! parts (network is summed by NetworkMemory); a part's peak is at least each process's.
  void AddMemory(proto::MemoryStats& total);
  //! Stops every process (SIGTERM, then SIGKILL after 10 s) and waits for them.
  void Shutdown();

 private:
  struct Attempt {
    uint32_t vertex_id = 0;
    int32_t subtask_index = 0;
  };
  struct Process {
    ~Process();  // closes the control socket
    std::string job_id;
    pid_t pid = -1;
    int control_fd = -1;  // the daemon's end of the control socket
    std::unique_ptr<proto::TaskManagerService::Stub> stub;
    std::thread supervisor;
    // Guarded by JobProcesses::mu_:
    std::map<std::string, Attempt> attempts;  // deployed here and not released, by attempt id
    std::chrono::steady_clock::time_point idle_since;
    bool stopping = false;  // asked to end: its end is no failure
    bool ended = false;     // the supervisor has seen it end
  };

  //! The job's running process, started first when there is none (and `start`).
  absl::StatusOr<std::shared_ptr<Process>> Find(const std::string& job_id, bool start);
  absl::StatusOr<std::shared_ptr<Process>> StartOnSpawner(const std::string& job_id);
  std::shared_ptr<Process> RunningLocked(const std::string& job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  //! Forwards a call naming an attempt to that attempt's process (NOT_FOUND when unknown):
  //! `call(stub, context, empty_response)`.
  template <typename Call>
  grpc::Status ToAttempt(const std::string& attempt_id, Call call);
  //! The process of an attempt; null when it is not known here.
  std::shared_ptr<Process> FindAttempt(const std::string& attempt_id);
  //! On `spawner_`: fork and exec, then wait for the process's "ready <rpc port>".
  absl::StatusOr<std::shared_ptr<Process>> Spawn(const std::string& job_id);
  //! The supervisor thread of `p`: reads its control socket until it closes, reaps it, reports.
  void Supervise(std::shared_ptr<Process> p);
  void ReportEnded(const Process& p, const std::string& why,
                   const std::map<std::string, Attempt>& attempts);
  //! Every second on `spawner_`: stops idle processes and joins the threads of ended ones.
  void Sweep();
  void Stop(Process& p);

  const JobProcessOptions options_;
  proto::JobManagerService::Stub* const jobmanager_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Process>> processes_ ABSL_GUARDED_BY(mu_);  // by job
  std::vector<std::shared_ptr<Process>> ended_ ABSL_GUARDED_BY(mu_);  // their threads to join
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  int peak_used_segments_ ABSL_GUARDED_BY(mu_) = 0;
  SerialExecutor spawner_{"tm-job-procs"};
};

}  // namespace sluice::taskmanager
