// `sluice cluster start|stop|add-taskmanager`: a JobManager and TaskManagers on this machine,
// tracked by pid files in one directory:
//   DIR/jobmanager.pid  DIR/jobmanager.address  DIR/taskmanager-<i>.pid
//   DIR/log/jobmanager.log  DIR/log/taskmanager-<i>.log  DIR/blobs/  DIR/taskmanager-<i>/
//   DIR/taskmanager.args  (the arguments every TaskManager gets, one per line)

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/daemons.h"
#include "common/process.h"

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kStartTimeout = absl::Seconds(30);
constexpr absl::Duration kStopGrace = absl::Seconds(10);
constexpr absl::Duration kPoll = absl::Milliseconds(50);
constexpr int kLogTailLines = 20;

constexpr char kJobManager[] = "sluice-jobmanager";
constexpr char kTaskManager[] = "sluice-taskmanager";

struct Daemon {
  std::string label;  // "JobManager", "TaskManager 2"
  pid_t pid;
  std::string pid_file;
  std::string log_file;
};

std::string TaskManagerPidFile(const fs::path& dir, int i) {
  return (dir / absl::StrCat("taskmanager-", i, ".pid")).string();
}

// TaskManager pid files in DIR, ordered by index.
std::vector<std::pair<int, std::string>> FindTaskManagerPidFiles(const fs::path& dir) {
  std::vector<std::pair<int, std::string>> files;
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    absl::string_view index = name;
    int i = 0;
    if (absl::ConsumePrefix(&index, "taskmanager-") && absl::ConsumeSuffix(&index, ".pid") &&
        absl::SimpleAtoi(index, &i)) {
      files.emplace_back(i, entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

void PrintLogTail(const Daemon& d, const std::string& how) {
  std::cerr << "sluice: the " << d.label << " (pid " << d.pid << ") exited (" << how
            << ") during startup; last lines of " << d.log_file << ":\n"
            << TailLines(d.log_file, kLogTailLines) << std::flush;
}

// Stops what a failed `cluster start` started, TaskManagers first.
void StopStarted(const std::vector<Daemon>& started) {
  for (auto it = started.rbegin(); it != started.rend(); ++it) {
    (void)StopProcess(it->pid, kStopGrace);
    fs::remove(it->pid_file);
  }
}

// Reads "host:port" once the JobManager has written it completely (the same text twice).
std::optional<std::string> ReadAddress(const std::string& path, std::string* previous) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string address(absl::StripAsciiWhitespace(text));
  size_t colon = address.rfind(':');
  int port = 0;
  bool complete = colon != std::string::npos && colon > 0 &&
                  absl::SimpleAtoi(address.substr(colon + 1), &port) && port > 0;
  bool stable = address == *previous;
  *previous = address;
  if (complete && (stable || absl::EndsWith(text, "\n"))) return address;
  return std::nullopt;
}

absl::StatusOr<Daemon> Start(const std::string& label, const std::string& binary,
                             const std::vector<std::string>& args, const std::string& pid_file,
                             const std::string& log_file) {
  absl::StatusOr<pid_t> pid = SpawnDaemon(binary, args, log_file);
  if (!pid.ok()) return pid.status();
  Daemon d{label, *pid, pid_file, log_file};
  if (absl::Status s = WritePidFile(pid_file, *pid); !s.ok()) {
    (void)StopProcess(*pid, kStopGrace);
    return s;
  }
  return d;
}

constexpr char kTaskManagerArgsFile[] = "taskmanager.args";

//! The arguments of TaskManager `i` of the cluster in `dir`: the cluster's, then its own folder.
std::vector<std::string> TaskManagerArgs(const fs::path& dir, std::vector<std::string> args,
                                         int i) {
  args.insert(args.end(), {"-D", absl::StrCat("taskmanager.cache.directory=",
                                              (dir / absl::StrCat("taskmanager-", i)).string())});
  return args;
}

//! Waits until `expected_total` TaskManagers are registered, or one of `started` exits (its log
//! tail printed; Aborted). Returns the error to print, or OK.
absl::Status AwaitRegistered(JobManagerClient& client, const std::vector<Daemon>& started,
                             size_t expected_total) {
  absl::Time deadline = absl::Now() + kStartTimeout;
  size_t registered = 0;
  std::string how;
  while (true) {
    for (const Daemon& d : started) {
      if (ChildExited(d.pid, &how)) {
        PrintLogTail(d, how);
        return absl::AbortedError(absl::StrCat("the ", d.label, " exited during startup"));
      }
    }
    absl::StatusOr<proto::ListTaskManagersResponse> tms = client.ListTaskManagers(absl::Seconds(2));
    if (tms.ok()) registered = static_cast<size_t>(tms->taskmanagers_size());
    if (registered >= expected_total) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("only ", registered, " of ", expected_total,
                                                      " TaskManagers registered within ",
                                                      absl::FormatDuration(kStartTimeout)));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

std::optional<int> ParseCount(const ParsedArgs& args, const std::string& option, int dflt) {
  std::optional<std::string> text = args.Get(option);
  if (!text) return dflt;
  if (*text == "0" && option == "--taskmanagers") return 0;  // A JobManager alone is fine.
  return ParsePositiveInt(*text);
}

}  // namespace

int ClusterStartCommand(const Invocation& invocation) {
  const ParsedArgs& args = invocation.args;
  std::optional<int> taskmanagers = ParseCount(args, "--taskmanagers", 1);
  if (!taskmanagers) {
    return UsageError("cluster start", absl::StrCat("--taskmanagers must be a number >= 0, got '",
                                                    *args.Get("--taskmanagers"), "'"));
  }
  // Without --slots, the configuration (--config, -D) decides.
  std::optional<int> slots = ParseCount(
      args, "--slots", static_cast<int>(invocation.config.GetInt("taskmanager.numberOfTaskSlots")));
  if (!slots) {
    return UsageError("cluster start", absl::StrCat("--slots must be a positive integer, got '",
                                                    *args.Get("--slots"), "'"));
  }

  if (args.Get("--dir")->empty()) return UsageError("cluster start", "--dir must not be empty");
  const fs::path dir = fs::absolute(*args.Get("--dir")).lexically_normal();
  std::error_code ec;
  fs::create_directories(dir / "log", ec);
  if (ec) return Fail(absl::StrCat("cannot create ", (dir / "log").string(), ": ", ec.message()));

  const std::string jm_pid_file = (dir / "jobmanager.pid").string();
  if (absl::StatusOr<pid_t> pid = ReadPidFile(jm_pid_file); pid.ok() && IsAlive(*pid)) {
    return Fail(absl::StrCat("a JobManager is already running in ", dir.string(), " (pid ", *pid,
                             "); stop it with 'sluice cluster stop --dir ", dir.string(), "'"));
  }
  for (const auto& [i, file] : FindTaskManagerPidFiles(dir)) {
    absl::StatusOr<pid_t> pid = ReadPidFile(file);
    if (pid.ok() && IsAlive(*pid) && IsProgram(*pid, kTaskManager)) {
      return Fail(absl::StrCat("TaskManager ", i, " of an earlier cluster is still running in ",
                               dir.string(), " (pid ", *pid, "); stop it with 'sluice cluster stop",
                               " --dir ", dir.string(), "'"));
    }
    fs::remove(file, ec);  // Stale.
  }

  // Said once here; each daemon's log says it again.
  if (std::string warning = invocation.config.IgnoredKeysWarning(); !warning.empty()) {
    std::cerr << "sluice: warning: " << warning << std::endl;
  }

  absl::StatusOr<std::string> bin_dir = ExecutableDirectory();
  if (!bin_dir.ok()) return Fail(bin_dir.status());
  const std::string jm_binary = (fs::path(*bin_dir) / kJobManager).string();
  const std::string tm_binary = (fs::path(*bin_dir) / kTaskManager).string();

  std::vector<std::string> user_args;
  for (const std::string& define : args.defines) user_args.insert(user_args.end(), {"-D", define});
  if (!invocation.config_path.empty()) {
    user_args.insert(user_args.end(), {"--config", fs::absolute(invocation.config_path).string()});
  }

  const std::string address_file = (dir / "jobmanager.address").string();
  fs::remove(address_file, ec);
  const std::string rest_address_file = (dir / "rest.address").string();
  fs::remove(rest_address_file, ec);
  std::vector<std::string> jm_args = {
      "-D", absl::StrCat("blob.storage.directory=", (dir / "blobs").string()),
      "-D", absl::StrCat("jobmanager.address-file=", address_file),
      "-D", absl::StrCat("rest.address-file=", rest_address_file),
      "-D", absl::StrCat("env.log.dir=", (dir / "log").string())};
  jm_args.insert(jm_args.end(), user_args.begin(), user_args.end());  // The user's win.
  const std::string jm_log = (dir / "log" / "jobmanager.log").string();
  absl::StatusOr<Daemon> jm = Start("JobManager", jm_binary, jm_args, jm_pid_file, jm_log);
  if (!jm.ok()) return Fail(jm.status());
  std::cout << "Starting JobManager (pid " << jm->pid << ", log " << jm_log << ")..." << std::endl;
  std::vector<Daemon> started = {*jm};

  std::string address, previous, how;
  absl::Time deadline = absl::Now() + kStartTimeout;
  while (true) {
    if (std::optional<std::string> a = ReadAddress(address_file, &previous)) {
      address = *a;
      break;
    }
    if (ChildExited(jm->pid, &how)) {
      PrintLogTail(*jm, how);
      fs::remove(jm_pid_file, ec);
      return kExitFailure;
    }
    if (absl::Now() >= deadline) {
      StopStarted(started);
      return Fail(absl::StrCat(
          "the JobManager did not report its address within ", absl::FormatDuration(kStartTimeout),
          " and was stopped; last lines of ", jm_log, ":\n",
          absl::StripTrailingAsciiWhitespace(TailLines(jm_log, kLogTailLines))));
    }
    absl::SleepFor(kPoll);
  }
  const size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::cout << "JobManager is listening on " << address << "." << std::endl;
  // The JobManager writes the REST address before its RPC address (none with rest.port -1).
  std::string rest_seen;
  if (std::optional<std::string> rest = ReadAddress(rest_address_file, &rest_seen)) {
    std::cout << "REST API and dashboard: " << *rest << "/" << std::endl;
  }

  // The user's settings first: the JobManager's actual address (it may have picked an ephemeral
  // port), the slot count and a cache directory per TaskManager must win. Kept for
  // `cluster add-taskmanager`.
  std::vector<std::string> cluster_tm_args = {
      "-D", absl::StrCat("env.log.dir=", (dir / "log").string())};  // the user's may win
  cluster_tm_args.insert(cluster_tm_args.end(), user_args.begin(), user_args.end());
  cluster_tm_args.insert(cluster_tm_args.end(),
                         {"-D", absl::StrCat("jobmanager.rpc.address=", host), "-D",
                          absl::StrCat("jobmanager.rpc.port=", address.substr(colon + 1)), "-D",
                          absl::StrCat("taskmanager.numberOfTaskSlots=", *slots)});
  {
    std::ofstream out(dir / kTaskManagerArgsFile, std::ios::trunc);
    for (const std::string& a : cluster_tm_args) out << a << "\n";
  }
  for (int i = 1; i <= *taskmanagers; ++i) {
    std::vector<std::string> tm_args = TaskManagerArgs(dir, cluster_tm_args, i);
    std::string log = (dir / "log" / absl::StrCat("taskmanager-", i, ".log")).string();
    absl::StatusOr<Daemon> tm =
        Start(absl::StrCat("TaskManager ", i), tm_binary, tm_args, TaskManagerPidFile(dir, i), log);
    if (!tm.ok()) {
      StopStarted(started);
      return Fail(tm.status());
    }
    std::cout << "Starting TaskManager " << i << " with " << *slots << " slot(s) (pid " << tm->pid
              << ", log " << log << ")..." << std::endl;
    started.push_back(*tm);
  }

  // Every TaskManager must register; a daemon that dies meanwhile fails the start.
  JobManagerClient client(address);
  if (absl::Status s = AwaitRegistered(client, started, static_cast<size_t>(*taskmanagers));
      !s.ok()) {
    StopStarted(started);
    fs::remove(address_file, ec);
    if (absl::IsAborted(s)) {
      std::cerr << "sluice: stopped the daemons started so far." << std::endl;
      return kExitFailure;
    }
    return Fail(absl::StrCat(s.message(), "; see the logs in ", (dir / "log").string()));
  }
  std::cout << "Cluster started in " << dir.string() << ": 1 JobManager, " << *taskmanagers
            << " TaskManager(s) with " << *slots << " slot(s) each.\n"
            << address << std::endl;
  return kExitOk;
}

int ClusterStopCommand(const Invocation& invocation) {
  if (invocation.args.Get("--dir")->empty()) {
    return UsageError("cluster stop", "--dir must not be empty");
  }
  const fs::path dir = fs::absolute(*invocation.args.Get("--dir")).lexically_normal();
  std::vector<std::pair<int, std::string>> tm_files = FindTaskManagerPidFiles(dir);
  const std::string jm_pid_file = (dir / "jobmanager.pid").string();
  std::error_code ec;
  bool has_jm = fs::exists(jm_pid_file, ec);
  if (tm_files.empty() && !has_jm) {
    return Fail(absl::StrCat("no cluster running in ", dir.string()));
  }

  // Signal every daemon of one kind, then wait for them together.
  auto stop_group = [&](const std::vector<std::pair<std::string, std::string>>& group,
                        const char* program) {
    bool ok = true;
    std::vector<std::pair<std::string, pid_t>> signalled;
    for (const auto& [label, file] : group) {
      absl::StatusOr<pid_t> pid = ReadPidFile(file);
      if (!pid.ok()) {
        std::cout << label << ": " << pid.status().message() << "; removed it." << std::endl;
      } else if (!IsAlive(*pid)) {
        std::cout << label << " (pid " << *pid << ") was not running." << std::endl;
      } else if (!IsProgram(*pid, program)) {
        std::cout << label << ": pid " << *pid << " is not a " << program
                  << " any more; left it alone." << std::endl;
      } else {
        ::kill(*pid, SIGTERM);
        signalled.emplace_back(label, *pid);
      }
      fs::remove(file, ec);
    }
    std::vector<pid_t> pids;
    for (const auto& s : signalled) pids.push_back(s.second);
    std::vector<pid_t> stubborn = WaitForExit(pids, kStopGrace);
    for (pid_t pid : stubborn) ::kill(pid, SIGKILL);
    std::vector<pid_t> survivors = WaitForExit(stubborn, absl::Seconds(2));
    for (const auto& [label, pid] : signalled) {
      bool killed = std::find(stubborn.begin(), stubborn.end(), pid) != stubborn.end();
      if (std::find(survivors.begin(), survivors.end(), pid) != survivors.end()) {
        Fail(absl::StrCat(label, " (pid ", pid, ") survived SIGKILL"));
        ok = false;
      } else {
        std::cout << "Stopped " << label << " (pid " << pid << ")"
                  << (killed ? " with SIGKILL after it ignored SIGTERM" : "") << "." << std::endl;
      }
    }
    return ok;
  };

  std::vector<std::pair<std::string, std::string>> tms;
  for (const auto& [i, file] : tm_files) tms.emplace_back(absl::StrCat("TaskManager ", i), file);
  bool ok = stop_group(tms, kTaskManager);
  if (has_jm) ok = stop_group({{"JobManager", jm_pid_file}}, kJobManager) && ok;
  fs::remove(dir / "jobmanager.address", ec);
  return ok ? kExitOk : kExitFailure;
}

int ClusterAddTaskManagerCommand(const Invocation& invocation) {
  const ParsedArgs& args = invocation.args;
  if (args.Get("--dir")->empty())
    return UsageError("cluster add-taskmanager", "--dir must not be empty");
  const fs::path dir = fs::absolute(*args.Get("--dir")).lexically_normal();
  std::ifstream in(dir / kTaskManagerArgsFile);
  absl::StatusOr<pid_t> jm_pid = ReadPidFile((dir / "jobmanager.pid").string());
  if (!in || !jm_pid.ok() || !IsAlive(*jm_pid)) {
    return Fail(absl::StrCat("no cluster running in ", dir.string(),
                             " (start one with 'sluice cluster start --dir ", dir.string(), "')"));
  }
  std::vector<std::string> tm_args;
  for (std::string line; std::getline(in, line);) tm_args.push_back(line);
  if (std::optional<std::string> text = args.Get("--slots")) {
    std::optional<int> slots = ParsePositiveInt(*text);
    if (!slots) {
      return UsageError("cluster add-taskmanager",
                        absl::StrCat("--slots must be a positive integer, got '", *text, "'"));
    }
    tm_args.insert(tm_args.end(), {"-D", absl::StrCat("taskmanager.numberOfTaskSlots=", *slots)});
  }
  // The lowest index without a live TaskManager: a replacement reuses the folders of a dead one
  // (it removes the state that one left behind).
  std::set<int> live;
  for (const auto& [i, file] : FindTaskManagerPidFiles(dir)) {
    absl::StatusOr<pid_t> pid = ReadPidFile(file);
    if (pid.ok() && IsAlive(*pid) && IsProgram(*pid, kTaskManager)) live.insert(i);
  }
  int index = 1;
  while (live.count(index)) ++index;

  absl::StatusOr<std::string> bin_dir = ExecutableDirectory();
  if (!bin_dir.ok()) return Fail(bin_dir.status());
  std::string address;
  {
    std::ifstream a(dir / "jobmanager.address");
    std::getline(a, address);
  }
  JobManagerClient client(std::string(absl::StripAsciiWhitespace(address)));
  if (absl::StatusOr<proto::ListTaskManagersResponse> reachable = client.ListTaskManagers();
      !reachable.ok()) {
    return Fail(reachable.status());
  }
  const std::string log = (dir / "log" / absl::StrCat("taskmanager-", index, ".log")).string();
  absl::StatusOr<Daemon> tm =
      Start(absl::StrCat("TaskManager ", index), (fs::path(*bin_dir) / kTaskManager).string(),
            TaskManagerArgs(dir, tm_args, index), TaskManagerPidFile(dir, index), log);
  if (!tm.ok()) return Fail(tm.status());
  std::cout << "Starting TaskManager " << index << " (pid " << tm->pid << ", log " << log << ")..."
            << std::endl;
  // Registered once the JobManager lists the id its log names ("TaskManager <id> started").
  absl::Time deadline = absl::Now() + kStartTimeout;
  std::string how;
  while (true) {
    if (ChildExited(tm->pid, &how)) {
      PrintLogTail(*tm, how);
      std::error_code ec;
      fs::remove(tm->pid_file, ec);
      return kExitFailure;
    }
    // The log may hold a dead predecessor's lines too: the last start line is ours.
    std::string tail = TailLines(log, 200);
    size_t at = tail.rfind("] TaskManager ");
    size_t end = at == std::string::npos ? at : tail.find(" started: ", at);
    size_t eol = at == std::string::npos ? at : tail.find('\n', at);
    if (end != std::string::npos && (eol == std::string::npos || end < eol)) {
      std::string id = tail.substr(at + 14, end - at - 14);
      absl::StatusOr<proto::ListTaskManagersResponse> tms = client.ListTaskManagers();
      if (tms.ok() && std::any_of(tms->taskmanagers().begin(), tms->taskmanagers().end(),
                                  [&](const proto::TaskManagerInfo& t) { return t.id() == id; })) {
        std::cout << "TaskManager " << index << " (" << id << ") registered." << std::endl;
        return kExitOk;
      }
    }
    if (absl::Now() >= deadline) {
      StopStarted({*tm});
      return Fail(absl::StrCat("TaskManager ", index, " did not register within ",
                               absl::FormatDuration(kStartTimeout), "; see ", log));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

}  // namespace sluice::cli
