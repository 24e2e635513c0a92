#include "taskmanager/job_processes.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <future>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/thread_name.h"
#include "taskmanager/failure_report.h"
#include "taskmanager/network/socket.h"

namespace sluice::taskmanager {
namespace {

auto Log() { return log::Get("taskmanager"); }

constexpr auto kReadyTimeout = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::seconds(10);

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? absl::StrCat("SIG", abbrev) : absl::StrCat("signal ", sig);
}

//! Job ids come from the JobManager (and, in a hello, from any peer): they name a process.
bool PlausibleJobId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

//! Waits up to `timeout` for one message on `fd`; "" on timeout, EOF or error.
std::string ReceiveLine(int fd, std::chrono::milliseconds timeout) {
  pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return "";
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return "";
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "";
    return std::string(buf, static_cast<size_t>(n));
  }
}

}  // namespace

JobProcesses::JobProcesses(JobProcessOptions options, proto::JobManagerService::Stub* jobmanager)
    : options_(std::move(options)), jobmanager_(jobmanager) {
  spawner_.PostDelayed(std::chrono::seconds(1), [this] { Sweep(); });
}

JobProcesses::~JobProcesses() { Shutdown(); }

absl::StatusOr<std::shared_ptr<JobProcesses::Process>> JobProcesses::Find(const std::string& job_id,
                                                                          bool start) {
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return absl::UnavailableError("TaskManager shutting down");
    if (auto p = RunningLocked(job_id)) return p;
  }
  if (!start) return absl::NotFoundError(absl::StrCat("no process of job ", job_id));
  if (!PlausibleJobId(job_id)) {
    return absl::InvalidArgumentError(absl::StrCat("'", job_id, "' is not a job id"));
  }
  // One start at a time, on the long-lived thread; a caller that waited may find it started.
  try {
    return StartOnSpawner(job_id);
  } catch (const std::future_error&) {  // the spawner shut down before it ran
    return absl::UnavailableError("TaskManager shutting down");
  }
}

absl::StatusOr<std::shared_ptr<JobProcesses::Process>> JobProcesses::StartOnSpawner(
    const std::string& job_id) {
  return spawner_.Call([&]() -> absl::StatusOr<std::shared_ptr<Process>> {
    {
      absl::MutexLock lock(&mu_);
      if (shut_down_) return absl::UnavailableError("TaskManager shutting down");
      if (auto p = RunningLocked(job_id)) return p;
      if (static_cast<int>(processes_.size()) >= options_.max_processes) {
        return absl::ResourceExhaustedError(
            absl::StrCat("the TaskManager runs ", processes_.size(),
                         " job processes already, the most it starts"));
      }
    }
    absl::StatusOr<std::shared_ptr<Process>> p = Spawn(job_id);
    if (!p.ok()) return p.status();
    absl::MutexLock lock(&mu_);
    processes_[job_id] = *p;
    (*p)->supervisor = std::thread([this, q = *p] { Supervise(q); });
    NameThread((*p)->supervisor, "tm-job-watch");
    return *p;
  });
}

std::shared_ptr<JobProcesses::Process> JobProcesses::RunningLocked(const std::string& job_id) {
  auto it = processes_.find(job_id);
  if (it == processes_.end() || it->second->ended || it->second->stopping) return nullptr;
  return it->second;
}

std::shared_ptr<JobProcesses::Process> JobProcesses::FindAttempt(const std::string& attempt_id) {
  absl::MutexLock lock(&mu_);
  for (const auto& [job, p] : processes_) {
    if (p->attempts.count(attempt_id)) return p;
  }
  return nullptr;
}

absl::StatusOr<std::shared_ptr<JobProcesses::Process>> JobProcesses::Spawn(
    const std::string& job_id) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", strerror(errno)));
  }
  std::vector<std::string> args = {options_.executable, "--job-process", job_id, "--control-fd",
                                   std::to_string(sv[1])};
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  args.push_back("-D");
  args.push_back(absl::StrCat("taskmanager.resource-id=", options_.taskmanager_id));
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    close(sv[0]);
    close(sv[1]);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec. The job process dies with this thread's process.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    fcntl(sv[1], F_SETFD, 0);  // the control socket stays open across exec
    execv(argv[0], argv.data());
    const char msg[] = "sluice-taskmanager: cannot start a job process (exec failed)\n";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(127);
  }
  close(sv[1]);
  auto p = std::make_shared<Process>();
  p->job_id = job_id;
  p->pid = pid;
  p->control_fd = sv[0];
  p->idle_since = std::chrono::steady_clock::now();
  // "ready <rpc port>" once its gRPC server listens.
  std::string ready = ReceiveLine(p->control_fd, kReadyTimeout);
  int port = 0;
  std::vector<std::string> words = absl::StrSplit(ready, ' ');
  if (words.size() != 2 || words[0] != "ready" || !absl::SimpleAtoi(words[1], &port)) {
    kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return absl::UnavailableError(
        absl::StrCat("the process for job ", job_id, " did not start (see the TaskManager's log)"));
  }
  p->stub = proto::TaskManagerService::NewStub(MakeChannel(absl::StrCat("127.0.0.1:", port)));
  Log()->info("started the process of job {} (pid {})", job_id, pid);
  return p;
}

void JobProcesses::Supervise(std::shared_ptr<Process> p) {
  // What the process tells us until it ends: its crash handler's "crash SIGSEGV <task>".
  std::string text;
  char buf[4096];
  while (true) {
    ssize_t n = recv(p->control_fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    text.push_back('\n');
  }
  int status = 0;
  while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) {
  }
  CrashNote crash_note;
  const CrashNote* crash = FindCrashNote(text, &crash_note) ? &crash_note : nullptr;
  std::map<std::string, Attempt> attempts;
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    p->ended = true;
    stopping = p->stopping;
    attempts.swap(p->attempts);
    auto it = processes_.find(p->job_id);
    if (it != processes_.end() && it->second == p) processes_.erase(it);
    ended_.push_back(p);
  }
  std::string why;
  if (crash) {
    why = absl::StrCat(
        "crashed (", crash->signal, ")",
        crash->task.empty() ? " outside of a task"
                            : absl::StrCat(" while running task '", crash->task, "'"),
        "; its stack is in the TaskManager's log (sluice logs ", options_.taskmanager_id, ")");
  } else if (WIFSIGNALED(status)) {
    why = absl::StrCat("was killed (", SignalName(WTERMSIG(status)), ")");
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    why = absl::StrCat("exited with code ", WEXITSTATUS(status));
  } else if (!stopping) {
    why = "ended unexpectedly";
  }
  if (stopping && !crash) {
    Log()->info("the process of job {} (pid {}) ended", p->job_id, p->pid);
    return;
  }
  Log()->warn("the process of job {} (pid {}) {}", p->job_id, p->pid, why);
  ReportEnded(*p, absl::StrCat("the process of job ", p->job_id, " ", why), attempts);
}

void JobProcesses::ReportEnded(const Process& p, const std::string& why,
                               const std::map<std::string, Attempt>& attempts) {
  for (const auto& [attempt_id, a] : attempts) {
    proto::TaskStateUpdate u;
    u.set_taskmanager_id(options_.taskmanager_id);
    u.set_job_id(p.job_id);
    u.set_attempt_id(attempt_id);
    u.set_vertex_id(a.vertex_id);
    u.set_subtask_index(a.subtask_index);
    u.set_state(proto::FAILED);
    u.set_failure(why);
    u.set_root_cause(true);
    auto ctx = ContextWithDeadline(std::chrono::seconds(10));
    proto::Empty resp;
    grpc::Status s = jobmanager_->UpdateTaskState(ctx.get(), u, &resp);
    if (!s.ok()) Log()->warn("cannot report task state to the JobManager: {}", s.error_message());
  }
}

void JobProcesses::Sweep() {
  std::vector<std::shared_ptr<Process>> to_join;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    const auto now = std::chrono::steady_clock::now();
    for (auto it = processes_.begin(); it != processes_.end();) {
      Process& p = *it->second;
      if (p.attempts.empty() && !p.stopping && !p.ended &&
          now - p.idle_since >= options_.idle_timeout) {
        Log()->info("stopping the process of job {} (pid {}): no task of the job here for {} ms",
                    p.job_id, p.pid, options_.idle_timeout.count());
        Stop(p);
        it = processes_.erase(it);
      } else {
        ++it;
      }
    }
    to_join.swap(ended_);
  }
  for (auto& p : to_join) {
    if (p->supervisor.joinable()) p->supervisor.join();
  }
  spawner_.PostDelayed(std::chrono::seconds(1), [this] { Sweep(); });
}

void JobProcesses::Stop(Process& p) {
  p.stopping = true;
  kill(p.pid, SIGTERM);
}

grpc::Status JobProcesses::Deploy(const proto::TaskDeployment& d) {
  absl::StatusOr<std::shared_ptr<Process>> p = Find(d.job_id(), /*start=*/true);
  if (!p.ok()) {
    return ToGrpc(absl::Status(
        p.status().code(),
        absl::StrCat("TaskManager ", options_.taskmanager_id, ": ", p.status().message())));
  }
  {
    absl::MutexLock lock(&mu_);
    // Known before the process sees it: a crash while it deploys is reported for it too.
    (*p)->attempts[d.attempt_id()] = Attempt{d.vertex_id(), d.subtask_index()};
  }
  auto ctx = ContextWithDeadline(std::chrono::seconds(60));
  proto::Empty empty;
  grpc::Status s = (*p)->stub->DeployTask(ctx.get(), d, &empty);
  if (!s.ok()) {
    absl::MutexLock lock(&mu_);
    (*p)->attempts.erase(d.attempt_id());
    if ((*p)->attempts.empty()) (*p)->idle_since = std::chrono::steady_clock::now();
  }
  return s;
}

template <typename Call>
grpc::Status JobProcesses::ToAttempt(const std::string& attempt_id, Call call) {
  std::shared_ptr<Process> p = FindAttempt(attempt_id);
  if (!p) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown task attempt");
  auto ctx = ContextWithDeadline(std::chrono::seconds(10));
  proto::Empty empty;
  return call(*p->stub, ctx.get(), &empty);
}

grpc::Status JobProcesses::Cancel(const proto::CancelTaskRequest& req) {
  return ToAttempt(req.attempt_id(), [&](auto& stub, auto* ctx, auto* empty) {
    return stub.CancelTask(ctx, req, empty);
  });
}

grpc::Status JobProcesses::Trigger(const proto::TriggerCheckpointRequest& req) {
  return ToAttempt(req.attempt_id(), [&](auto& stub, auto* ctx, auto* empty) {
    return stub.TriggerCheckpoint(ctx, req, empty);
  });
}

grpc::Status JobProcesses::Notify(const proto::CheckpointNotification& req) {
  return ToAttempt(req.attempt_id(), [&](auto& stub, auto* ctx, auto* empty) {
    return stub.NotifyCheckpoint(ctx, req, empty);
  });
}

grpc::Status JobProcesses::Release(const proto::ReleaseJobRequest& req) {
  absl::StatusOr<std::shared_ptr<Process>> p = Find(req.job_id(), /*start=*/false);
  if (!p.ok()) return grpc::Status::OK;  // nothing of the job runs here
  {
    absl::MutexLock lock(&mu_);
    (*p)->attempts.clear();
    (*p)->idle_since = std::chrono::steady_clock::now();
  }
  auto ctx = ContextWithDeadline(std::chrono::seconds(30));
  proto::Empty empty;
  return (*p)->stub->ReleaseJob(ctx.get(), req, &empty);
}

void JobProcesses::PassConnection(int fd, const std::string& job_id) {
  absl::StatusOr<std::shared_ptr<Process>> p = Find(job_id, /*start=*/true);
  if (!p.ok()) {
    Log()->warn("data connection for job {} refused: {}", job_id, p.status().message());
    close(fd);
    return;
  }
  if (!network::SendDescriptor((*p)->control_fd, fd)) {
    Log()->warn("cannot pass a data connection to the process of job {}: {}", job_id,
                strerror(errno));
  }
  close(fd);  // the process has its own descriptor now
}

void JobProcesses::CancelAll() {
  std::vector<std::pair<std::shared_ptr<Process>, std::string>> targets;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [job, p] : processes_) {
      for (const auto& [attempt, a] : p->attempts) targets.emplace_back(p, attempt);
    }
  }
  for (const auto& [p, attempt] : targets) {
    proto::CancelTaskRequest req;
    req.set_attempt_id(attempt);
    auto ctx = ContextWithDeadline(std::chrono::seconds(5));
    proto::Empty empty;
    (void)p->stub->CancelTask(ctx.get(), req, &empty);
  }
}

proto::NetworkMemoryStats JobProcesses::NetworkMemory(proto::NetworkMemoryStats total) {
  std::vector<std::shared_ptr<Process>> live;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [job, p] : processes_) live.push_back(p);
  }
  int used = 0;
  for (const auto& p : live) {
    auto ctx = ContextWithDeadline(std::chrono::seconds(1));
    proto::NetworkMemoryStats n;
    if (p->stub->NetworkMemory(ctx.get(), proto::Empty(), &n).ok()) used += n.used_segments();
  }
  absl::MutexLock lock(&mu_);
  peak_used_segments_ = std::max(peak_used_segments_, used);
  total.set_used_segments(used);
  total.set_peak_used_segments(peak_used_segments_);
  return total;
}

void JobProcesses::AddMemory(proto::MemoryStats& total) {
  std::vector<std::shared_ptr<Process>> live;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [job, p] : processes_) live.push_back(p);
  }
  for (const auto& p : live) {
    auto ctx = ContextWithDeadline(std::chrono::seconds(1));
    proto::MemoryStats m;
    if (!p->stub->Memory(ctx.get(), proto::Empty(), &m).ok()) continue;
    for (const proto::MemoryPartStats& part : m.parts()) {
      if (part.part() == "network" || part.used_bytes() < 0) continue;
      for (proto::MemoryPartStats& mine : *total.mutable_parts()) {
        if (mine.part() != part.part()) continue;
        mine.set_used_bytes(mine.used_bytes() + part.used_bytes());
        // A job process's own peak may fall between two samples of the sum.
        mine.set_peak_bytes(std::max(mine.peak_bytes(), part.peak_bytes()));
      }
    }
  }
}

void JobProcesses::Shutdown() {
  spawner_.Shutdown();  // no start and no sweep from now on
  std::vector<std::shared_ptr<Process>> all;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& [job, p] : processes_) {
      Stop(*p);
      all.push_back(p);
    }
  }
  {
    // Each supervisor marks its process ended; whatever is left after the grace gets SIGKILL.
    absl::MutexLock lock(&mu_);
    auto all_ended = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return std::all_of(all.begin(), all.end(), [](const auto& p) { return p->ended; });
    };
    mu_.AwaitWithTimeout(absl::Condition(&all_ended), absl::FromChrono(kStopGrace));
    for (const auto& p : all) {
      if (!p->ended) kill(p->pid, SIGKILL);
    }
  }
  std::vector<std::shared_ptr<Process>> to_join;
  {
    absl::MutexLock lock(&mu_);
    to_join.swap(ended_);
  }
  for (auto& p : all) to_join.push_back(p);
  for (auto& p : to_join) {
    if (p->supervisor.joinable()) p->supervisor.join();
  }
}

JobProcesses::Process::~Process() {
  if (control_fd >= 0) close(control_fd);
}

}  // namespace sluice::taskmanager
