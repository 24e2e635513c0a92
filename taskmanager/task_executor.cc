#include "taskmanager/task_executor.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/process.h"
#include "common/process_stats.h"
#include "common/rpc.h"
#include "common/states.h"
#include "common/thread_name.h"
#include "common/util/log_files.h"
#include "taskmanager/failure_report.h"
#include "taskmanager/network/socket.h"
#include "taskmanager/prometheus_metrics.h"

namespace sluice::taskmanager {
namespace {

auto Log() { return log::Get("taskmanager"); }

proto::TaskState ToProto(SubtaskState s) {
  switch (s) {
    case SubtaskState::kCreated:
      return proto::CREATED;
    case SubtaskState::kScheduled:
      return proto::SCHEDULED;
    case SubtaskState::kDeploying:
      return proto::DEPLOYING;
    case SubtaskState::kInitializing:
      return proto::INITIALIZING;
    case SubtaskState::kRunning:
      return proto::RUNNING;
    case SubtaskState::kFinished:
      return proto::FINISHED;
    case SubtaskState::kCanceling:
      return proto::CANCELING;
    case SubtaskState::kCanceled:
      return proto::CANCELED;
    case SubtaskState::kFailed:
      return proto::FAILED;
  }
  return proto::FAILED;
}

}  // namespace

absl::StatusOr<TaskManagerOptions> TaskManagerOptions::FromConfig(const config::Configuration& c) {
  TaskManagerOptions o;
  o.id = c.GetString("taskmanager.resource-id");
  if (o.id.empty()) o.id = NewShortId("tm-");
  o.host = c.GetString("taskmanager.host");
  o.bind_host = c.GetString("taskmanager.bind-host");
  o.rpc_port = static_cast<int>(c.GetInt("taskmanager.rpc.port"));
  o.data_port = static_cast<int>(c.GetInt("taskmanager.data.port"));
  o.slots = static_cast<int>(c.GetInt("taskmanager.numberOfTaskSlots"));
  o.jobmanager_address =
      absl::StrCat(c.GetString("jobmanager.rpc.address"), ":", c.GetInt("jobmanager.rpc.port"));
  o.cache_dir = c.GetString("taskmanager.cache.directory");
  o.max_backoff =
      std::chrono::milliseconds(c.GetDurationMs("taskmanager.registration.max-backoff"));
  o.buffer_size = static_cast<size_t>(c.GetMemoryBytes("taskmanager.memory.segment-size"));
  o.buffers_per_channel =
      static_cast<int>(c.GetInt("taskmanager.network.memory.buffers-per-channel"));
  o.floating_per_gate =
      static_cast<int>(c.GetInt("taskmanager.network.memory.floating-buffers-per-gate"));
  absl::StatusOr<MemoryBudget> budget = MemoryBudget::FromConfig(c);
  if (!budget.ok()) return budget.status();
  o.memory = *budget;
  o.busy_poll = std::chrono::microseconds(c.GetInt("taskmanager.network.busy-poll-us"));
  if (static_cast<size_t>(o.memory.network) < o.buffer_size) {
    return absl::InvalidArgumentError(
        "taskmanager.memory.network.size must hold at least one taskmanager.memory.segment-size");
  }
  o.metrics_interval = std::chrono::milliseconds(c.GetDurationMs("metrics.report.interval"));
  o.log_dir = c.GetString("env.log.dir");
  o.prometheus_port = c.GetString("metrics.reporter.prom.port");
  o.rocksdb_managed = c.GetBool("state.backend.rocksdb.memory.managed");
  for (auto [key, ratio] :
       {std::pair{"state.backend.rocksdb.memory.write-buffer-ratio", &o.rocksdb_write_buffer_ratio},
        std::pair{"state.backend.rocksdb.memory.high-prio-pool-ratio",
                  &o.rocksdb_high_prio_ratio}}) {
    *ratio = c.GetDouble(key);
    if (!(*ratio > 0 && *ratio < 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": ", *ratio, " is not a share between 0 and 1 (exclusive)"));
    }
  }
  o.process_per_job = c.GetBool("taskmanager.process-per-job");
  o.job_process_idle_timeout =
      std::chrono::milliseconds(c.GetDurationMs("taskmanager.process-per-job.idle-timeout"));
  o.state_dir = c.GetString("state.backend.rocksdb.localdir");
  if (o.state_dir.empty()) o.state_dir = o.cache_dir + "/state";
  return o;
}

TaskExecutor::TaskExecutor(TaskManagerOptions options)
    : options_(std::move(options)),
      buffers_(std::make_shared<network::NetworkBufferPool>(
          static_cast<size_t>(options_.memory.network), options_.buffer_size)) {
  if (options_.rocksdb_managed) {
    rocksdb_memory_ = state::RocksDbSharedMemory::Create(
        static_cast<size_t>(options_.memory.managed), options_.rocksdb_write_buffer_ratio,
        options_.rocksdb_high_prio_ratio);
  }
  heap_ledger_ = std::make_unique<HeapStateLedger>(
      options_.memory.task_heap, options_.slots,
      [this](const std::string& job_id) { return JobSlots(job_id); }, options_.id);
}

TaskExecutor::~TaskExecutor() { Shutdown(); }

std::string TaskExecutor::LocalDirsOwner(const TaskManagerOptions& options) {
  // A job process has folders of its own: the next process of the same job may start before
  // this one has ended.
  if (options.job_process.empty()) return options.id;
  return absl::StrCat(options.id, ".p", getpid());
}

absl::Status TaskExecutor::Start() {
  jobmanager_ = proto::JobManagerService::NewStub(MakeChannel(options_.jobmanager_address));
  if (is_job_process()) {
    data_address_ = "(its TaskManager's)";  // connections come through the control socket
  } else {
    if (options_.process_per_job) {
      absl::StatusOr<std::string> exe = ExecutablePath();
      if (!exe.ok()) return exe.status();
      JobProcessOptions jp;
      jp.taskmanager_id = options_.id;
      jp.executable = *exe;
      jp.args = options_.daemon_args;
      jp.idle_timeout = options_.job_process_idle_timeout;
      jp.max_processes = 2 * options_.slots + 2;  // each job holds a slot; some are ending
      job_processes_ = std::make_unique<JobProcesses>(std::move(jp), jobmanager_.get());
      network_server_.SetRouter(
          [this](int fd, const std::string& job) { job_processes_->PassConnection(fd, job); });
    }
    auto data_port = network_server_.Start(options_.bind_host, options_.data_port);
    if (!data_port.ok()) return data_port.status();
    data_address_ = absl::StrCat(options_.host, ":", *data_port);
  }

  grpc::ServerBuilder builder;
  int rpc_port = 0;
  // A job process serves its daemon only, on loopback.
  const std::string rpc_listen = is_job_process()
                                     ? std::string("127.0.0.1:0")
                                     : absl::StrCat(options_.bind_host, ":", options_.rpc_port);
  builder.AddListeningPort(rpc_listen, grpc::InsecureServerCredentials(), &rpc_port);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  if (!server_ || rpc_port == 0) return absl::UnavailableError("cannot listen on " + rpc_listen);
  rpc_address_ = absl::StrCat(options_.host, ":", rpc_port);
  // Takes our folder under the state root now: removing what TaskManagers that died there left.
  if (auto dir = local_dirs_.Acquire(options_.state_dir); !dir.ok()) return dir.status();
  if (options_.prometheus_port != "none" && !is_job_process()) {
    prometheus_ = std::make_unique<metrics::PrometheusServer>(
        options_.bind_host, options_.prometheus_port, [this] { return RenderPrometheus(); });
    auto port = prometheus_->Start();
    if (!port.ok()) return port.status();
    prometheus_address_ = absl::StrCat(options_.host, ":", *port);
    Log()->info("Prometheus metrics at http://{}/metrics", prometheus_address_);
  }
  packages_ = std::make_unique<PackageCache>(options_.cache_dir, jobmanager_.get());
  if (is_job_process()) {
    Log()->info("process of job {} for TaskManager {} started: rpc {}", options_.job_process,
                options_.id, rpc_address_);
    const std::string ready = absl::StrCat("ready ", rpc_port);
    if (send(options_.control_fd, ready.data(), ready.size(), MSG_NOSIGNAL) < 0) {
      return absl::UnavailableError("the TaskManager daemon is gone");
    }
    control_thread_ = std::thread([this] { ServeControlSocket(); });
    NameThread(control_thread_, "tm-control");
  } else {
    Log()->info("TaskManager {} started: {} slot(s), rpc {}, data {}{}", options_.id,
                options_.slots, rpc_address_, data_address_,
                job_processes_ ? "; each job's tasks run in a process of their own" : "");
    Log()->info("memory: {}", options_.memory.Describe());
    connection_thread_ = std::thread([this] { ConnectionLoop(); });
    NameThread(connection_thread_, "tm-connection");
  }
  metrics_ = std::make_unique<MetricsReporter>(
      options_.id, options_.metrics_interval, [this] { return SampleTasks(); },
      [this](const proto::TaskMetricsReport& r) { SendMetrics(r); });
  metrics_->Start();
  return absl::OkStatus();
}

void TaskExecutor::Shutdown() {
  if (stopping_.exchange(true)) return;
  if (job_processes_) job_processes_->Shutdown();
  if (metrics_) metrics_->Shutdown();  // before the tasks it samples go away
  if (prometheus_) prometheus_->Stop();
  {
    absl::MutexLock lock(&stream_mu_);
    if (stream_ctx_) stream_ctx_->TryCancel();
  }
  if (connection_thread_.joinable()) connection_thread_.join();
  if (control_thread_.joinable()) {
    shutdown(options_.control_fd, SHUT_RD);
    control_thread_.join();
  }
  CancelAll("TaskManager shutting down");
  {
    std::map<std::string, std::unique_ptr<Task>> tasks;
    {
      absl::MutexLock lock(&mu_);
      tasks.swap(tasks_);
    }
    tasks.clear();  // joins the task threads
  }
  io_.Shutdown();  // finishes uploads in flight
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  network_server_.Shutdown();
  connections_.Shutdown();
  reporter_.Shutdown();
}

bool TaskExecutor::SleepUnlessStopping(std::chrono::milliseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stopping_ && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !stopping_;
}

void TaskExecutor::ConnectionLoop() {
  std::chrono::milliseconds backoff(100);
  while (!stopping_) {
    std::string error;
    if (!RegisterOnce(&error)) {
      Log()->warn("cannot register at the JobManager {}: {}; retrying in {} ms",
                  options_.jobmanager_address, error, backoff.count());
      if (!SleepUnlessStopping(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    backoff = std::chrono::milliseconds(100);
    Log()->info("registered at the JobManager {}", options_.jobmanager_address);
    TellWatchdog(options_.id, options_.jobmanager_address);
    HeartbeatUntilBroken();
    if (stopping_) return;
    // Without HA a JobManager that lost us has failed our jobs already: stop their tasks.
    CancelAll("lost the connection to the JobManager");
    Log()->warn("connection to the JobManager {} lost; registering again",
                options_.jobmanager_address);
  }
}

bool TaskExecutor::RegisterOnce(std::string* error) {
  proto::RegisterRequest req;
  req.set_taskmanager_id(options_.id);
  req.set_rpc_address(rpc_address_);
  req.set_data_address(data_address_);
  req.set_slots(options_.slots);
  *req.mutable_network() = NetworkFigures();
  *req.mutable_process() = ReadProcessStats();
  *req.mutable_memory() = MemoryFigures(req.process(), req.network());
  req.set_metrics_address(prometheus_address_);
  proto::RegisterResponse resp;
  auto ctx = ContextWithDeadline(std::chrono::seconds(5));
  grpc::Status s = jobmanager_->RegisterTaskManager(ctx.get(), req, &resp);
  if (!s.ok()) {
    *error = s.error_message();
    return false;
  }
  heartbeat_interval_ =
      std::chrono::milliseconds(std::max<int64_t>(1, resp.heartbeat_interval_ms()));
  return true;
}

proto::NetworkMemoryStats TaskExecutor::NetworkFigures() {
  proto::NetworkMemoryStats n;
  n.set_total_segments(buffers_->total_segments());
  n.set_segment_size(static_cast<int64_t>(buffers_->segment_size()));
  n.set_used_segments(buffers_->total_segments() - buffers_->available_segments());
  n.set_peak_used_segments(buffers_->peak_used_segments());
  if (job_processes_) return job_processes_->NetworkMemory(n);
  return n;
}

proto::MemoryStats TaskExecutor::MemoryFigures(const proto::ProcessStats& process,
                                               const proto::NetworkMemoryStats& network) {
  proto::MemoryStats m;
  auto add = [&m](const char* part, int64_t budget, int64_t used, int64_t peak) {
    proto::MemoryPartStats* p = m.add_parts();
    p->set_part(part);
    p->set_budget_bytes(budget);
    p->set_used_bytes(used);
    p->set_peak_bytes(peak);
  };
  const HeapStateLedger::Usage heap = heap_ledger_->usage();
  add("process", options_.memory.process, static_cast<int64_t>(process.rss_bytes()),
      static_cast<int64_t>(process.rss_bytes()));
  add("framework", options_.memory.framework, -1, -1);
  add("network", options_.memory.network, network.used_segments() * network.segment_size(),
      network.peak_used_segments() * network.segment_size());
  const int64_t managed = rocksdb_memory_ ? static_cast<int64_t>(rocksdb_memory_->usage()) : 0;
  add("managed", options_.memory.managed, managed, managed);
  add("task heap", options_.memory.task_heap, heap.used, heap.peak);
  if (job_processes_) job_processes_->AddMemory(m);
  // Peaks as sampled: the network pool and the heap ledger keep their own, the rest are
  // the most seen at a heartbeat.
  absl::MutexLock lock(&peaks_mu_);
  for (proto::MemoryPartStats& p : *m.mutable_parts()) {
    if (p.used_bytes() < 0) continue;
    int64_t& peak = peaks_[p.part()];
    peak = std::max({peak, p.peak_bytes(), p.used_bytes()});
    p.set_peak_bytes(peak);
  }
  return m;
}

grpc::Status TaskExecutor::Memory(grpc::ServerContext*, const proto::Empty*,
                                  proto::MemoryStats* resp) {
  *resp = MemoryFigures(ReadProcessStats(), NetworkFigures());
  return grpc::Status::OK;
}

int TaskExecutor::JobSlots(const std::string& job_id) {
  std::set<int> slots;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, t] : tasks_) {
    if (!t->Done() && t->deployment().job_id() == job_id) {
      slots.insert(t->deployment().subtask_index());
    }
  }
  return static_cast<int>(slots.size());
}

grpc::Status TaskExecutor::NetworkMemory(grpc::ServerContext*, const proto::Empty*,
                                         proto::NetworkMemoryStats* resp) {
  *resp = NetworkFigures();
  return grpc::Status::OK;
}

void TaskExecutor::ServeControlSocket() {
  for (int fd; (fd = network::ReceiveDescriptor(options_.control_fd)) != -2;) {
    if (fd >= 0) network_server_.Adopt(fd);
  }
  if (!stopping_) {
    Log()->warn("the TaskManager daemon of this job process is gone: ending");
    kill(getpid(), SIGTERM);  // main's WaitForTerminationSignal shuts down
  }
}

void TaskExecutor::UpdateShares(const proto::TaskDeployment& next) {
  std::set<int> slots = {next.subtask_index()};
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, t] : tasks_) {
      if (!t->Done()) slots.insert(t->deployment().subtask_index());
    }
  }
  const int per_slot = std::max(1, options_.slots);
  const int all =
      static_cast<int>(static_cast<size_t>(options_.memory.network) / options_.buffer_size);
  buffers_->SetLimit(all / per_slot * static_cast<int>(slots.size()));
  if (rocksdb_memory_) {
    rocksdb_memory_->SetCapacity(static_cast<size_t>(options_.memory.managed / per_slot) *
                                 slots.size());
  }
}

void TaskExecutor::HeartbeatUntilBroken() {
  grpc::ClientContext ctx;
  {
    absl::MutexLock lock(&stream_mu_);
    if (stopping_) return;
    stream_ctx_ = &ctx;
  }
  auto stream = jobmanager_->Connect(&ctx);
  while (!stopping_) {
    proto::Heartbeat hb;
    hb.set_taskmanager_id(options_.id);
    *hb.mutable_network() = NetworkFigures();
    *hb.mutable_process() = ReadProcessStats();
    *hb.mutable_memory() = MemoryFigures(hb.process(), hb.network());
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [id, t] : tasks_) {
        if (!t->Done()) hb.add_running_tasks(id);
      }
    }
    proto::HeartbeatAck ack;
    if (!stream->Write(hb) || !stream->Read(&ack) || !ack.registered()) break;
    ReapFinished();
    if (!SleepUnlessStopping(heartbeat_interval_)) break;
  }
  ctx.TryCancel();
  stream->Finish();
  absl::MutexLock lock(&stream_mu_);
  stream_ctx_ = nullptr;
}

void TaskExecutor::ReapFinished() {
  std::vector<std::unique_ptr<Task>> done;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (it->second->Done()) {
        done.push_back(std::move(it->second));
        it = tasks_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

void TaskExecutor::CancelAll(const std::string& reason) {
  if (job_processes_) job_processes_->CancelAll();
  absl::MutexLock lock(&mu_);
  for (auto& [id, t] : tasks_) {
    if (!t->Done()) {
      Log()->info("cancelling {}: {}", t->DisplayName(), reason);
      t->Cancel();
    }
  }
}

void TaskExecutor::Report(const proto::TaskDeployment& d, SubtaskState state,
                          const Task::Failure& failure) {
  proto::TaskStateUpdate u;
  u.set_taskmanager_id(options_.id);
  u.set_job_id(d.job_id());
  u.set_attempt_id(d.attempt_id());
  u.set_vertex_id(d.vertex_id());
  u.set_subtask_index(d.subtask_index());
  u.set_state(ToProto(state));
  u.set_failure(failure.message);
  u.set_snapshot_damaged(failure.snapshot_damaged);
  reporter_.Post([this, u] {
    auto ctx = ContextWithDeadline(std::chrono::seconds(10));
    proto::Empty resp;
    grpc::Status s = jobmanager_->UpdateTaskState(ctx.get(), u, &resp);
    if (!s.ok()) Log()->warn("cannot report task state to the JobManager: {}", s.error_message());
  });
}

std::vector<MetricsReporter::TaskSample> TaskExecutor::SampleTasks() {
  std::vector<MetricsReporter::TaskSample> out;
  absl::MutexLock lock(&mu_);  // keeps each task (and its pool-usage callbacks' targets) alive
  out.swap(retired_samples_);
  for (const auto& [id, t] : tasks_) {
    MetricsReporter::TaskSample s;
    s.job_id = t->deployment().job_id();
    s.attempt_id = id;
    s.done = t->Done();  // read before the counters: once the thread has ended they are final
    s.sample = TakeSample(t->metrics());
    out.push_back(std::move(s));
  }
  return out;
}

void TaskExecutor::SendMetrics(const proto::TaskMetricsReport& report) {
  {
    absl::MutexLock lock(&mu_);
    for (const proto::SubtaskMetrics& m : report.subtasks()) {
      if (!m.alignment_only()) latest_metrics_[m.attempt_id()] = m;
    }
    for (auto it = latest_metrics_.begin(); it != latest_metrics_.end();) {
      it = tasks_.count(it->first) ? std::next(it) : latest_metrics_.erase(it);
    }
  }
  auto ctx = ContextWithDeadline(std::chrono::seconds(2));
  proto::TaskMetricsAck ack;
  grpc::Status s = jobmanager_->ReportMetrics(ctx.get(), report, &ack);
  // Metrics are best effort: the next report supersedes a lost one.
  if (!s.ok()) {
    Log()->debug("cannot report metrics to the JobManager: {}", s.error_message());
    return;
  }
  // Each aligned source learns how far its watermark may advance until the next report.
  absl::MutexLock lock(&mu_);
  for (const proto::WatermarkAlignmentUpdate& u : ack.alignments()) {
    auto it = tasks_.find(u.attempt_id());
    if (it == tasks_.end()) continue;
    it->second->metrics().alignment_max_allowed.store(u.max_allowed_watermark(),
                                                      std::memory_order_relaxed);
  }
}

grpc::Status TaskExecutor::DeployTask(grpc::ServerContext*, const proto::TaskDeployment* req,
                                      proto::Empty*) {
  if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "TaskManager shutting down");
  if (req->operators_size() == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "deployment without operators");
  }
  if (job_processes_) return job_processes_->Deploy(*req);
  if (is_job_process()) UpdateShares(*req);
  {
    absl::MutexLock lock(&mu_);
    if (tasks_.count(req->attempt_id())) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "attempt already deployed");
    }
  }
  auto env = packages_->Environment(*req);
  if (!env.ok()) return ToGrpc(env.status());
  NetworkContext net;
  net.partitions = &partitions_;
  net.connections = &connections_;
  net.local_taskmanager_id = options_.id;
  net.buffers = buffers_;
  net.buffers_per_channel = options_.buffers_per_channel;
  net.floating_per_gate = options_.floating_per_gate;
  const std::string& job_root = req->checkpointing().rocksdb_localdir();
  absl::StatusOr<std::string> local_dir =
      local_dirs_.Acquire(job_root.empty() ? options_.state_dir : job_root);
  if (!local_dir.ok()) {
    return ToGrpc(absl::Status(
        local_dir.status().code(),
        absl::StrCat("TaskManager ", options_.id,
                     ": state.backend.rocksdb.localdir: ", local_dir.status().message())));
  }
  StateContext state;
  state.local_dir = *local_dir;
  state.io = &io_;
  state.responder = this;
  state.rocksdb_memory = rocksdb_memory_;
  state.heap_ledger = heap_ledger_.get();
  auto task = Task::Create(*req, *env, net, state,
                           [this](const proto::TaskDeployment& d, SubtaskState s,
                                  const Task::Failure& failure) { Report(d, s, failure); });
  if (!task.ok()) {
    Log()->warn("cannot deploy {}: {}",
                SubtaskDisplayName(req->vertex_name(), req->subtask_index(), req->parallelism()),
                task.status().message());
    return ToGrpc(absl::Status(task.status().code(), absl::StrCat("TaskManager ", options_.id, ": ",
                                                                  task.status().message())));
  }
  Task* raw = task->get();
  {
    absl::MutexLock lock(&mu_);
    tasks_[req->attempt_id()] = *std::move(task);
  }
  raw->Start();
  return grpc::Status::OK;
}

grpc::Status TaskExecutor::CancelTask(grpc::ServerContext*, const proto::CancelTaskRequest* req,
                                      proto::Empty*) {
  if (job_processes_) return job_processes_->Cancel(*req);
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(req->attempt_id());
  if (it == tasks_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown task attempt");
  it->second->Cancel();
  return grpc::Status::OK;
}

grpc::Status TaskExecutor::ReleaseJob(grpc::ServerContext*, const proto::ReleaseJobRequest* req,
                                      proto::Empty*) {
  if (job_processes_) return job_processes_->Release(*req);
  // The job has ended: its finished tasks go now (not at the next heartbeat), so that their network
  // buffers are free for the next job. Their final metrics are kept for one more report.
  std::vector<std::unique_ptr<Task>> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      Task& t = *it->second;
      if (t.deployment().job_id() != req->job_id()) {
        ++it;
        continue;
      }
      if (!t.Done()) {
        t.Cancel();
        ++it;
        continue;
      }
      MetricsReporter::TaskSample sample;
      sample.job_id = req->job_id();
      sample.attempt_id = it->first;
      sample.done = true;
      sample.sample = TakeSample(t.metrics());
      retired_samples_.push_back(std::move(sample));
      finished.push_back(std::move(it->second));
      it = tasks_.erase(it);
    }
  }
  finished.clear();  // joins nothing: their threads have ended
  partitions_.ReleaseJob(req->job_id());
  packages_->ReleaseJob(req->job_id());
  return grpc::Status::OK;
}

grpc::Status TaskExecutor::TriggerCheckpoint(grpc::ServerContext*,
                                             const proto::TriggerCheckpointRequest* req,
                                             proto::Empty*) {
  if (job_processes_) return job_processes_->Trigger(*req);
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(req->attempt_id());
  if (it == tasks_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown task attempt");
  it->second->TriggerCheckpoint(req->checkpoint_id(), req->timestamp_ms(), req->stop(),
                                req->drain());
  return grpc::Status::OK;
}

grpc::Status TaskExecutor::NotifyCheckpoint(grpc::ServerContext*,
                                            const proto::CheckpointNotification* req,
                                            proto::Empty*) {
  if (job_processes_) return job_processes_->Notify(*req);
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(req->attempt_id());
  if (it == tasks_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown task attempt");
  it->second->NotifyCheckpoint(req->checkpoint_id(), req->complete());
  return grpc::Status::OK;
}

void TaskExecutor::Acknowledge(const proto::TaskDeployment& task, int64_t checkpoint_id,
                               std::vector<proto::OperatorSubtaskState> state,
                               const proto::SubtaskCheckpointStats& stats) {
  proto::AcknowledgeCheckpointRequest req;
  req.set_job_id(task.job_id());
  req.set_attempt_id(task.attempt_id());
  req.set_checkpoint_id(checkpoint_id);
  for (auto& s : state) *req.add_operators() = std::move(s);
  *req.mutable_stats() = stats;
  auto ctx = ContextWithDeadline(std::chrono::seconds(30));
  proto::Empty resp;
  grpc::Status s = jobmanager_->AcknowledgeCheckpoint(ctx.get(), req, &resp);
  if (!s.ok()) {
    Log()->warn("cannot acknowledge checkpoint {} of {}: {}", checkpoint_id, task.attempt_id(),
                s.error_message());
  }
}

void TaskExecutor::Decline(const proto::TaskDeployment& task, int64_t checkpoint_id,
                           const std::string& reason) {
  proto::DeclineCheckpointRequest req;
  req.set_job_id(task.job_id());
  req.set_attempt_id(task.attempt_id());
  req.set_checkpoint_id(checkpoint_id);
  req.set_reason(reason);
  auto ctx = ContextWithDeadline(std::chrono::seconds(10));
  proto::Empty resp;
  grpc::Status s = jobmanager_->DeclineCheckpoint(ctx.get(), req, &resp);
  if (!s.ok()) {
    Log()->debug("cannot decline checkpoint {} of {}: {}", checkpoint_id, task.attempt_id(),
                 s.error_message());
  }
}

std::string TaskExecutor::RenderPrometheus() {
  std::vector<SubtaskExport> subtasks;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [attempt, task] : tasks_) {
      auto it = latest_metrics_.find(attempt);
      if (it == latest_metrics_.end()) continue;  // no report yet
      SubtaskExport e;
      const proto::TaskDeployment& d = task->deployment();
      e.deployment.set_job_id(d.job_id());
      e.deployment.set_job_name(d.job_name());
      e.deployment.set_attempt_id(d.attempt_id());
      e.deployment.set_vertex_id(d.vertex_id());
      e.deployment.set_vertex_name(d.vertex_name());
      e.deployment.set_subtask_index(d.subtask_index());
      e.deployment.set_attempt_number(d.attempt_number());
      e.metrics = it->second;
      subtasks.push_back(std::move(e));
    }
  }
  const proto::NetworkMemoryStats network = NetworkFigures();
  const proto::ProcessStats process = ReadProcessStats();
  return RenderTaskManagerMetrics(options_.id, options_.host, network, process,
                                  MemoryFigures(process, network), subtasks);
}

grpc::Status TaskExecutor::ListLogs(grpc::ServerContext*, const proto::Empty*,
                                    proto::ListLogsResponse* resp) {
  auto files = ListLogFiles(options_.log_dir);
  if (!files.ok()) return ToGrpc(files.status());
  for (const LogFileInfo& f : *files) {
    proto::LogFileEntry* e = resp->add_logs();
    e->set_name(f.name);
    e->set_size(f.size);
    e->set_mtime_ms(f.mtime_ms);
  }
  return grpc::Status::OK;
}

grpc::Status TaskExecutor::ReadLog(grpc::ServerContext*, const proto::ReadLogRequest* req,
                                   grpc::ServerWriter<proto::LogChunk>* writer) {
  constexpr uint64_t kMaxBytes = 64ull << 20;
  constexpr size_t kChunk = 1 << 20;
  const uint64_t max = req->max_bytes() == 0 ? kMaxBytes : std::min(req->max_bytes(), kMaxBytes);
  auto text = ReadLogFile(options_.log_dir, req->name(), max);
  if (!text.ok()) return ToGrpc(text.status());
  for (size_t at = 0; at < text->size(); at += kChunk) {
    proto::LogChunk chunk;
    chunk.set_data(text->substr(at, kChunk));
    if (!writer->Write(chunk)) break;  // the JobManager gave up
  }
  return grpc::Status::OK;
}

grpc::Status TaskExecutor::ReadOwnLog(grpc::ServerContext*, const proto::DaemonLogRequest* req,
                                      proto::DaemonLogResponse* resp) {
  return ToGrpc(AnswerOwnLogRequest(*req, resp));
}

}  // namespace sluice::taskmanager
