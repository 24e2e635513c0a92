#include "tests/cluster_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/process.h"
#include "common/states.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

constexpr absl::Duration kPoll = absl::Milliseconds(200);

// The arguments of /proc/<pid>/cmdline joined by spaces; empty if gone (or a zombie).
std::string CommandLine(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

// Alive and not a zombie (a killed daemon is reparented; its new parent may reap it late).
bool Alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

// Whether `pid` is still one of this cluster's daemons (guards against pid reuse).
bool IsOurDaemon(pid_t pid, const std::string& cluster_dir) {
  if (!Alive(pid)) return false;
  std::string cmdline = CommandLine(pid);
  return cmdline.find("sluice-") != std::string::npos &&
         cmdline.find(cluster_dir) != std::string::npos;
}

std::optional<pid_t> ReadPid(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

std::vector<pid_t> PidsInDir(const std::string& dir) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".pid") continue;
    if (std::optional<pid_t> pid = ReadPid(e.path().string())) pids.push_back(*pid);
  }
  return pids;
}

std::string Tail(const std::string& path, int lines) {
  std::vector<std::string> all = absl::StrSplit(ReadFile(path), '\n');
  size_t first = all.size() > static_cast<size_t>(lines) ? all.size() - lines : 0;
  std::vector<std::string> tail(all.begin() + static_cast<long>(first), all.end());
  return absl::StrJoin(tail, "\n");
}

// The cleanup the destructor does, as a shell script for the guardian: $1 = cluster dir,
// $2 = temp root. stdin is the pipe from the test process; "done" means the test cleaned up.
constexpr char kGuardianScript[] = R"sh(
if read -r line && [ "$line" = done ]; then exit 0; fi
for f in "$1"/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f" 2>/dev/null) || continue
  cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || continue
  case "$cmd" in
    *sluice-*) case "$cmd" in *"$1"*) kill -9 "$pid" 2>/dev/null ;; esac ;;
  esac
done
sleep 1
rm -rf "$2"
)sh";

}  // namespace

// ---- CommandResult ----

std::string CommandResult::Describe() const {
  std::string how = timed_out          ? "timed out"
                    : term_signal != 0 ? absl::StrCat("killed by signal ", term_signal)
                                       : absl::StrCat("exit code ", exit_code);
  return absl::StrCat(how, "\n--- stdout ---\n", out, "\n--- stderr ---\n", err);
}

std::string CommandResult::LastLine() const {
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipWhitespace());
  return lines.empty() ? "" : std::string(absl::StripAsciiWhitespace(lines.back()));
}

// ---- paths and processes ----

std::string BuildDir() {
  if (const char* dir = std::getenv("SLUICE_BUILD_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return fs::path(ExecutableDirectory().value_or(".")).parent_path().string();
}

std::string BinaryPath(const std::string& name) { return BuildDir() + "/bin/" + name; }
std::string ExamplePackage(const std::string& name) {
  return BuildDir() + "/examples/" + name + ".so";
}
std::string TestPackage(const std::string& name) {
  return BuildDir() + "/tests/packages/" + name + ".so";
}

CommandResult RunCommand(const std::vector<std::string>& argv, absl::Duration timeout) {
  CommandResult result;
  absl::StatusOr<ProcessResult> r =
      RunProcess(argv, std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout)));
  if (!r.ok()) {
    result.err = absl::StrCat("cannot run ", argv[0], ": ", r.status().ToString());
    return result;
  }
  result.exit_code = r->exit_code;
  result.term_signal = r->term_signal;
  result.timed_out = r->timed_out;
  result.out = std::move(r->out);
  result.err = std::move(r->err);
  return result;
}

CommandResult RunSluice(const std::vector<std::string>& args, absl::Duration timeout) {
  std::vector<std::string> argv = {BinaryPath("sluice")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout);
}

// ---- JSON ----

absl::StatusOr<JsonValue> ParseJson(const std::string& text) {
  JsonValue value;
  auto status = google::protobuf::util::JsonStringToMessage(
      std::string(absl::StripAsciiWhitespace(text)), &value);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not JSON (", status.ToString(), "): '", text, "'"));
  }
  return value;
}

const JsonValue& Field(const JsonValue& v, const std::string& key) {
  static const JsonValue* null_value = new JsonValue();
  if (!v.has_struct_value()) return *null_value;
  auto it = v.struct_value().fields().find(key);
  return it == v.struct_value().fields().end() ? *null_value : it->second;
}

std::string StringField(const JsonValue& v, const std::string& key) {
  return Field(v, key).string_value();
}

int64_t IntField(const JsonValue& v, const std::string& key) {
  return static_cast<int64_t>(Field(v, key).number_value());
}

std::vector<std::string> Keys(const JsonValue& v) {
  std::vector<std::string> keys;
  for (const auto& [k, unused] : v.struct_value().fields()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::vector<std::pair<std::string, const JsonValue*>> Subtasks(const JsonValue& status) {
  std::vector<std::pair<std::string, const JsonValue*>> out;
  for (const JsonValue& vertex : Field(status, "vertices").list_value().values()) {
    for (const JsonValue& s : Field(vertex, "subtasks").list_value().values()) {
      out.emplace_back(StringField(vertex, "name"), &s);
    }
  }
  return out;
}

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kPoll);
  }
}

// ---- files ----

namespace {
bool IsHiddenName(const std::string& name) {
  return !name.empty() && (name[0] == '.' || name[0] == '_');
}
}  // namespace

std::vector<std::string> VisibleFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && !IsHiddenName(e.path().filename().string())) {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> VisibleLines(const std::string& dir) {
  std::vector<std::string> lines;
  for (const std::string& file : VisibleFiles(dir)) {
    for (absl::string_view line : absl::StrSplit(ReadFile(file), '\n', absl::SkipEmpty())) {
      lines.emplace_back(line);
    }
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

void PublishLinesFile(const std::string& dir, int n) {
  std::string content;
  for (int i = 0; i < 500; ++i) absl::StrAppend(&content, "file ", n, " line ", i, "\n");
  const std::string hidden = absl::StrCat(dir, "/.in-", n, ".inprogress");
  WriteFile(hidden, content);
  ASSERT_EQ(std::rename(hidden.c_str(), absl::StrCat(dir, "/in-", n).c_str()), 0);
}

std::vector<std::string> HiddenFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
    if (IsHiddenName(e.path().filename().string())) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

// ---- LocalCluster ----

LocalCluster::LocalCluster() {
  std::string base = fs::temp_directory_path().string() + "/sluice-it-XXXXXX";
  std::vector<char> buf(base.begin(), base.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed: " << std::strerror(errno);
    return;
  }
  root_ = buf.data();
  cluster_dir_ = root_ + "/cluster";
  StartGuardian();
}

LocalCluster::~LocalCluster() { Cleanup(); }

void LocalCluster::StartGuardian() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return;
  }
  // Everything the child needs is prepared before fork: it may only make system calls.
  std::vector<std::string> args = {"/bin/sh",    "-c", kGuardianScript, "sluice-test-guardian",
                                   cluster_dir_, root_};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child = ::fork();
  if (child == 0) {
    // Double fork and a new session: the guardian must not be part of the test's process tree,
    // which ctest kills on a timeout.
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    ::dup2(fds[0], STDIN_FILENO);
    int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDERR_FILENO);
    }
    ::execv("/bin/sh", argv.data());
    ::_exit(127);
  }
  ::close(fds[0]);
  if (child < 0) {
    ::close(fds[1]);
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    return;
  }
  while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
  guardian_fd_ = fds[1];
}

absl::Status LocalCluster::Start(const ClusterOptions& options) {
  if (root_.empty()) return absl::InternalError("no temp directory");
  options_ = options;
  std::vector<std::string> args = {"cluster",
                                   "start",
                                   "--dir",
                                   cluster_dir_,
                                   "--taskmanagers",
                                   absl::StrCat(options.taskmanagers),
                                   "--slots",
                                   absl::StrCat(options.slots),
                                   "-D",
                                   "jobmanager.rpc.port=0",
                                   "-D",
                                   "rest.port=0",
                                   "-D",
                                   "metrics.reporter.prom.port=0",
                                   "-D",
                                   "heartbeat.interval=500ms",
                                   "-D",
                                   "heartbeat.timeout=3s"};
  for (const std::string& d : options.defines) args.insert(args.end(), {"-D", d});
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  started_ = true;  // Even a failed start may leave something to clean up.
  CommandResult r = RunSluice(args);
  start_result_ = r;
  for (pid_t pid : PidsInDir(cluster_dir_)) pids_.push_back(pid);
  if (!r.ok()) {
    return absl::InternalError(absl::StrCat("sluice cluster start failed: ", r.Describe()));
  }
  address_ = r.LastLine();
  std::string from_file(absl::StripAsciiWhitespace(ReadFile(cluster_dir_ + "/jobmanager.address")));
  if (address_.empty() || address_ != from_file) {
    return absl::InternalError(absl::StrCat("cluster start printed address '", address_,
                                            "' but jobmanager.address holds '", from_file, "'"));
  }
  return absl::OkStatus();
}

void LocalCluster::Cleanup() {
  if (root_.empty()) return;
  if (started_) {
    if (::testing::Test::HasFailure()) std::cerr << LogTails() << std::endl;
    for (pid_t pid : PidsInDir(cluster_dir_)) pids_.push_back(pid);
    // A frozen daemon would sit out SIGTERM until the stop's grace period ends.
    for (pid_t pid : pids_) {
      if (IsOurDaemon(pid, cluster_dir_)) ::kill(pid, SIGCONT);
    }
    CommandResult stop = RunSluice({"cluster", "stop", "--dir", cluster_dir_}, absl::Seconds(60));
    if (!stop.ok()) std::cerr << "sluice cluster stop: " << stop.Describe() << std::endl;
    for (pid_t pid : PidsInDir(cluster_dir_)) pids_.push_back(pid);
    std::vector<pid_t> killed;
    for (pid_t pid : pids_) {
      if (IsOurDaemon(pid, cluster_dir_)) {
        std::cerr << "killing leftover daemon " << pid << ": " << CommandLine(pid) << std::endl;
        ::kill(pid, SIGKILL);
        killed.push_back(pid);
      }
    }
    WaitUntil(
        [&] {
          return std::none_of(killed.begin(), killed.end(), [](pid_t p) { return Alive(p); });
        },
        absl::Seconds(10));
  }
  if (guardian_fd_ >= 0) {
    (void)!::write(guardian_fd_, "done\n", 5);
    ::close(guardian_fd_);
    guardian_fd_ = -1;
  }
  std::error_code ec;
  if (const char* keep = std::getenv("SLUICE_TEST_KEEP_DIR");
      keep != nullptr && *keep != '\0' && ::testing::Test::HasFailure()) {
    std::cerr << "SLUICE_TEST_KEEP_DIR is set: kept " << root_ << std::endl;
  } else {
    fs::remove_all(root_, ec);
  }
  root_.clear();
}

std::string LocalCluster::NewDir(const std::string& name) {
  std::string dir = root_ + "/" + name;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) ADD_FAILURE() << "cannot create " << dir << ": " << ec.message();
  return dir;
}

std::string LocalCluster::ScratchPath(const std::string& name) const { return root_ + "/" + name; }

CommandResult LocalCluster::Sluice(std::vector<std::string> args, absl::Duration timeout) {
  args.insert(args.end(), {"--jobmanager", address_});
  return RunSluice(args, timeout);
}

absl::StatusOr<pid_t> LocalCluster::TaskManagerPid(int i) const {
  std::string file = absl::StrCat(cluster_dir_, "/taskmanager-", i, ".pid");
  std::optional<pid_t> pid = ReadPid(file);
  if (!pid) return absl::NotFoundError(absl::StrCat("no pid in ", file));
  if (!IsOurDaemon(*pid, cluster_dir_)) {
    return absl::FailedPreconditionError(
        absl::StrCat("TaskManager ", i, " (pid ", *pid, ") is not running"));
  }
  return *pid;
}

absl::Status LocalCluster::SignalTaskManager(int i, int sig) {
  absl::StatusOr<pid_t> pid = TaskManagerPid(i);
  if (!pid.ok()) return pid.status();
  if (::kill(*pid, sig) != 0) {
    return absl::InternalError(absl::StrCat("kill(", *pid, ", ", sig, "): ", std::strerror(errno)));
  }
  if (sig == SIGKILL && !WaitUntil([&] { return !Alive(*pid); }, absl::Seconds(10))) {
    return absl::InternalError(absl::StrCat("TaskManager pid ", *pid, " survived SIGKILL"));
  }
  return absl::OkStatus();
}

absl::Status LocalCluster::KillTaskManager(int i) { return SignalTaskManager(i, SIGKILL); }

absl::Status LocalCluster::FreezeTaskManager(int i) { return SignalTaskManager(i, SIGSTOP); }

absl::Status LocalCluster::ThawTaskManager(int i) { return SignalTaskManager(i, SIGCONT); }

absl::StatusOr<int> LocalCluster::AddTaskManager() {
  CommandResult r = RunSluice({"cluster", "add-taskmanager", "--dir", cluster_dir_});
  for (pid_t pid : PidsInDir(cluster_dir_)) pids_.push_back(pid);
  if (!r.ok()) {
    return absl::InternalError(absl::StrCat("sluice cluster add-taskmanager: ", r.Describe()));
  }
  // "TaskManager <i> (<id>) registered."
  const std::string last = r.LastLine();
  absl::string_view rest = last;
  int index = 0;
  if (!absl::ConsumePrefix(&rest, "TaskManager ") ||
      !absl::SimpleAtoi(rest.substr(0, rest.find(' ')), &index)) {
    return absl::InternalError(absl::StrCat("unexpected output: ", r.Describe()));
  }
  return index;
}

absl::StatusOr<std::string> LocalCluster::TaskManagerId(int i) {
  absl::StatusOr<JsonValue> tms = TaskManagers();
  if (!tms.ok()) return tms.status();
  std::string log = ReadFile(absl::StrCat(cluster_dir_, "/log/taskmanager-", i, ".log"));
  std::string best;
  size_t best_pos = std::string::npos;
  for (const JsonValue& tm : tms->list_value().values()) {
    std::string id = StringField(tm, "id");
    size_t pos = id.empty() ? std::string::npos : log.find(id);
    if (pos < best_pos) {
      best_pos = pos;
      best = id;
    }
  }
  if (best.empty()) {
    return absl::NotFoundError(
        absl::StrCat("the log of TaskManager ", i, " names none of the registered ids"));
  }
  return best;
}

bool LocalCluster::JobManagerAlive() const {
  for (pid_t pid : pids_) {
    if (IsOurDaemon(pid, cluster_dir_) &&
        CommandLine(pid).find("sluice-jobmanager") != std::string::npos) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<JsonValue> LocalCluster::JobStatus(const std::string& job_id) {
  CommandResult r = Sluice({"status", job_id, "--json"});
  if (!r.ok()) return absl::InternalError(absl::StrCat("sluice status: ", r.Describe()));
  return ParseJson(r.out);
}

absl::StatusOr<JsonValue> LocalCluster::TaskManagers() {
  CommandResult r = Sluice({"taskmanagers", "--json"});
  if (!r.ok()) return absl::InternalError(absl::StrCat("sluice taskmanagers: ", r.Describe()));
  return ParseJson(r.out);
}

absl::StatusOr<JsonValue> LocalCluster::Jobs() {
  CommandResult r = Sluice({"list", "--json"});
  if (!r.ok()) return absl::InternalError(absl::StrCat("sluice list: ", r.Describe()));
  return ParseJson(r.out);
}

absl::StatusOr<std::string> LocalCluster::SubmitDetached(const std::string& package,
                                                         int parallelism,
                                                         const std::vector<std::string>& job_args,
                                                         const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"run", package, "--detached", "--parallelism",
                                   absl::StrCat(parallelism)};
  for (const std::string& a : job_args) args.insert(args.end(), {"--arg", a});
  args.insert(args.end(), extra.begin(), extra.end());
  CommandResult r = Sluice(args);
  if (!r.ok()) return absl::InternalError(absl::StrCat("sluice run --detached: ", r.Describe()));
  std::string id = r.LastLine();
  if (id.empty() || id.find(' ') != std::string::npos) {
    return absl::InternalError(absl::StrCat("no job id on the last line: ", r.Describe()));
  }
  return id;
}

std::string LocalCluster::RestAddress() const {
  return std::string(absl::StripAsciiWhitespace(ReadFile(cluster_dir_ + "/rest.address")));
}

bool IsTerminalJobState(const std::string& state) { return IsTerminalJobStateName(state); }

std::vector<std::string> CheckpointDefines(const std::string& backend,
                                           const std::string& checkpoints,
                                           const std::string& savepoints) {
  std::vector<std::string> d = {"-D", "execution.checkpointing.interval=1s", "-D",
                                "state.checkpoints.dir=" + checkpoints};
  if (!savepoints.empty()) d.insert(d.end(), {"-D", "state.savepoints.dir=" + savepoints});
  if (backend == "rocksdb") {
    d.insert(d.end(), {"-D", "state.backend.type=rocksdb", "-D", "state.backend.incremental=true"});
  }
  return d;
}

std::vector<std::string> RestartingCheckpointDefines(const std::string& backend,
                                                     const std::string& checkpoints,
                                                     const std::string& savepoints) {
  std::vector<std::string> d = CheckpointDefines(backend, checkpoints, savepoints);
  d.insert(d.end(), {"-D", "restart-strategy.type=fixed-delay", "-D",
                     "restart-strategy.fixed-delay.attempts=1000", "-D",
                     "restart-strategy.fixed-delay.delay=200ms"});
  return d;
}

absl::StatusOr<JsonValue> LocalCluster::WaitEnded(const std::string& job_id,
                                                  absl::Duration timeout) {
  return WaitForStatus(
      job_id, [](const JsonValue& s) { return IsTerminalJobState(StringField(s, "state")); },
      timeout);
}

absl::StatusOr<JsonValue> LocalCluster::WaitForStatus(
    const std::string& job_id, const std::function<bool(const JsonValue&)>& done,
    absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<JsonValue> last;
  while (true) {
    last = JobStatus(job_id);
    if (last.ok() && done(*last)) return last;
    if (absl::Now() >= deadline) break;
    absl::SleepFor(kPoll);
  }
  if (!last.ok()) return last.status();
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(*last, &json);
  return absl::DeadlineExceededError(absl::StrCat("job ", job_id,
                                                  " did not reach the expected "
                                                  "status within ",
                                                  absl::FormatDuration(timeout), "; last: ", json));
}

absl::StatusOr<JsonValue> LocalCluster::WaitForState(const std::string& job_id,
                                                     const std::string& state,
                                                     absl::Duration timeout) {
  return WaitForStatus(
      job_id, [&](const JsonValue& s) { return StringField(s, "state") == state; }, timeout);
}

absl::StatusOr<JsonValue> LocalCluster::WaitForAllRunning(const std::string& job_id,
                                                          absl::Duration timeout) {
  return WaitForStatus(
      job_id,
      [](const JsonValue& s) {
        auto subtasks = Subtasks(s);
        return StringField(s, "state") == "RUNNING" && !subtasks.empty() &&
               std::all_of(subtasks.begin(), subtasks.end(), [](const auto& st) {
                 return StringField(*st.second, "state") == "RUNNING";
               });
      },
      timeout);
}

std::string LocalCluster::LogTails(int lines) const {
  std::string out;
  std::error_code ec;
  std::vector<std::string> logs;
  for (const fs::directory_entry& e : fs::directory_iterator(cluster_dir_ + "/log", ec)) {
    logs.push_back(e.path().string());
  }
  std::sort(logs.begin(), logs.end());
  for (const std::string& log : logs) {
    absl::StrAppend(&out, "===== last ", lines, " lines of ", log, " =====\n", Tail(log, lines),
                    "\n");
  }
  return out;
}

}  // namespace sluice::testing
