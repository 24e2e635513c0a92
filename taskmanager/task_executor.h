// TaskExecutor: the TaskManager. Registers with the JobManager (retrying with backoff), keeps a
// Connect stream open for heartbeats, serves deploy/cancel/release over gRPC, runs tasks, and
// reports their state changes in order through a reporter executor and their metrics through a
// MetricsReporter. Owns the network stack.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/config/config.h"
#include "common/executor.h"
#include "common/metrics/prometheus_server.h"
#include "sluice_proto/cluster.grpc.pb.h"
#include "taskmanager/heap_state_ledger.h"
#include "taskmanager/job_processes.h"
#include "taskmanager/local_state_dirs.h"
#include "taskmanager/memory_budget.h"
#include "taskmanager/metrics_reporter.h"
#include "taskmanager/network/connection_manager.h"
#include "taskmanager/network/partition_manager.h"
#include "taskmanager/network/server.h"
#include "taskmanager/package_cache.h"
#include "taskmanager/state/rocksdb_backend.h"
#include "taskmanager/task.h"

namespace sluice::taskmanager {

struct TaskManagerOptions {
  std::string id;
  std::string host = "127.0.0.1";
  std::string bind_host = "127.0.0.1";
  int rpc_port = 0;
  int data_port = 0;
  int slots = 1;
  std::string jobmanager_address;
  std::string cache_dir;
  std::chrono::milliseconds max_backoff{10000};
  size_t buffer_size = 32 * 1024;
  int buffers_per_channel = 2;
  int floating_per_gate = 8;
  std::chrono::microseconds busy_poll{500};  // data connections' readers (BufferedSocketReader)
  std::chrono::milliseconds metrics_interval{1000};
  std::string state_dir;  // root of the local working folders of tasks' state (RocksDB)
  int io_threads = 2;     // snapshot uploads
  std::string log_dir;    // env.log.dir: the log files the REST API may show
  std::string prometheus_port = "9249-9299";  // metrics.reporter.prom.port; "none": off
  //! The memory's parts: network (the buffer pool), managed (the bound of all RocksDB state
  //! when state.backend.rocksdb.memory.managed), the rest.
  MemoryBudget memory;
  bool rocksdb_managed = true;
  double rocksdb_write_buffer_ratio = 0.5;
  double rocksdb_high_prio_ratio = 0.1;
  // taskmanager.process-per-job: each job's tasks run in a process of their own (job_processes.h).
  bool process_per_job = false;
  std::chrono::milliseconds job_process_idle_timeout{30000};
  std::vector<std::string> daemon_args;  // --config and -D arguments, passed on to job processes
  // In a job process: its job, and its control socket to the TaskManager daemon.
  std::string job_process;
  int control_fd = -1;

  static absl::StatusOr<TaskManagerOptions> FromConfig(const config::Configuration& config);
};

class TaskExecutor final : public proto::TaskManagerService::Service, public CheckpointResponder {
 public:
  explicit TaskExecutor(TaskManagerOptions options);
  ~TaskExecutor() override;

  absl::Status Start();
  void Shutdown();

  grpc::Status DeployTask(grpc::ServerContext*, const proto::TaskDeployment* req,
                          proto::Empty*) override;
  grpc::Status CancelTask(grpc::ServerContext*, const proto::CancelTaskRequest* req,
                          proto::Empty*) override;
  grpc::Status ReleaseJob(grpc::ServerContext*, const proto::ReleaseJobRequest* req,
                          proto::Empty*) override;
  grpc::Status TriggerCheckpoint(grpc::ServerContext*, const proto::TriggerCheckpointRequest* req,
                                 proto::Empty*) override;
  grpc::Status NotifyCheckpoint(grpc::ServerContext*, const proto::CheckpointNotification* req,
                                proto::Empty*) override;
  //! The files of env.log.dir, for the REST API (through the JobManager).
  grpc::Status ListLogs(grpc::ServerContext*, const proto::Empty*,
                        proto::ListLogsResponse* resp) override;
  grpc::Status ReadOwnLog(grpc::ServerContext*, const proto::DaemonLogRequest* req,
                          proto::DaemonLogResponse* resp) override;
  grpc::Status ReadLog(grpc::ServerContext*, const proto::ReadLogRequest* req,
                       grpc::ServerWriter<proto::LogChunk>* writer) override;
  grpc::Status NetworkMemory(grpc::ServerContext*, const proto::Empty*,
                             proto::NetworkMemoryStats* resp) override;
  grpc::Status Memory(grpc::ServerContext*, const proto::Empty*, proto::MemoryStats* resp) override;

  // CheckpointResponder (I/O threads).
  void Acknowledge(const proto::TaskDeployment& task, int64_t checkpoint_id,
                   std::vector<proto::OperatorSubtaskState> state,
                   const proto::SubtaskCheckpointStats& stats) override;
  void Decline(const proto::TaskDeployment& task, int64_t checkpoint_id,
               const std::string& reason) override;

 private:
  void ConnectionLoop();
  bool RegisterOnce(std::string* error);
  void HeartbeatUntilBroken();
  //! The network buffer pool's figures, sent with the registration and every heartbeat (in a
  //! daemon with job processes: what they use, summed).
  proto::NetworkMemoryStats NetworkFigures();
  //! The memory budget's parts, their use and peaks, sent with every heartbeat (in a daemon with
  //! job processes: its own and theirs, summed).
  proto::MemoryStats MemoryFigures(const proto::ProcessStats& process,
                                   const proto::NetworkMemoryStats& network);
  //! The slots job `job_id` holds here: the distinct subtask indices of its live tasks.
  int JobSlots(const std::string& job_id);
  bool is_job_process() const { return !options_.job_process.empty(); }
  //! In a job process: the daemon's data connections for the job arrive on the control socket.
  void ServeControlSocket();
  //! In a job process: the network and managed memory it may use are the TaskManager's per slot,
  //! times the slots its job holds here (the distinct subtask indices of its live tasks and
  //! `next`).
  void UpdateShares(const proto::TaskDeployment& next);
  static std::string LocalDirsOwner(const TaskManagerOptions& options);
  void CancelAll(const std::string& reason);
  void Report(const proto::TaskDeployment& d, SubtaskState state, const Task::Failure& failure);
  void ReapFinished();
  bool SleepUnlessStopping(std::chrono::milliseconds d);
  std::vector<MetricsReporter::TaskSample> SampleTasks();
  void SendMetrics(const proto::TaskMetricsReport& report);
  //! The Prometheus endpoint's answer (prometheus_metrics.h).
  std::string RenderPrometheus();

  TaskManagerOptions options_;
  std::string rpc_address_;
  std::string data_address_;
  std::unique_ptr<proto::JobManagerService::Stub> jobmanager_;
  std::shared_ptr<network::NetworkBufferPool> buffers_;
  std::shared_ptr<state::RocksDbSharedMemory> rocksdb_memory_;  // null when not managed
  std::unique_ptr<HeapStateLedger> heap_ledger_;
  absl::Mutex peaks_mu_;
  std::map<std::string, int64_t> peaks_ ABSL_GUARDED_BY(peaks_mu_);  // sampled, by memory part
  network::PartitionManager partitions_;
  network::ConnectionManager connections_{options_.busy_poll};
  network::NetworkServer network_server_{&partitions_, options_.busy_poll};
  std::unique_ptr<PackageCache> packages_;
  //! `<state root>/<id>` folders: the TaskManager's own, and those of jobs that set their own
  //! state.backend.rocksdb.localdir.
  LocalStateDirs local_dirs_{LocalDirsOwner(options_)};
  std::unique_ptr<grpc::Server> server_;
  std::thread connection_thread_;
  std::atomic<bool> stopping_{false};
  std::chrono::milliseconds heartbeat_interval_{10000};

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Task>> tasks_ ABSL_GUARDED_BY(mu_);  // by attempt id
  //! Final samples of tasks removed at ReleaseJob, reported once more.
  std::vector<MetricsReporter::TaskSample> retired_samples_ ABSL_GUARDED_BY(mu_);
  //! The latest metrics of each subtask, by attempt id (for the Prometheus endpoint).
  std::map<std::string, proto::SubtaskMetrics> latest_metrics_ ABSL_GUARDED_BY(mu_);
  absl::Mutex stream_mu_;
  grpc::ClientContext* stream_ctx_ ABSL_GUARDED_BY(stream_mu_) = nullptr;

  SerialExecutor reporter_{"tm-reporter"};
  ThreadPool io_{"tm-io", 2};                 // snapshot uploads
  std::unique_ptr<MetricsReporter> metrics_;  // set by Start
  std::unique_ptr<metrics::PrometheusServer> prometheus_;
  std::unique_ptr<JobProcesses> job_processes_;  // with taskmanager.process-per-job
  std::thread control_thread_;                   // in a job process
  std::string prometheus_address_;               // host:port, empty when off
};

}  // namespace sluice::taskmanager
