#include "cli/daemons.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace sluice::cli {
namespace {

constexpr absl::Duration kExitPoll = absl::Milliseconds(50);
constexpr absl::Duration kKillWait = absl::Seconds(2);

std::string ErrnoText() { return std::strerror(errno); }

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void ExecChild(const char* binary, char* const argv[], int null_fd, int log_fd,
                            int error_fd) {
  ::setsid();
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 ||
      ::dup2(log_fd, STDERR_FILENO) < 0) {
    int err = errno;
    (void)!::write(error_fd, &err, sizeof(err));
    ::_exit(127);
  }
  // Whatever else this process had open must not leak into the daemon.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execv(binary, argv);
  int err = errno;
  (void)!::write(error_fd, &err, sizeof(err));
  ::_exit(127);
}

// The state letter from /proc/<pid>/stat ('Z' for a zombie), or 0 if unreadable.
char ProcessState(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return 0;
  return stat[paren + 2];
}

}  // namespace

absl::StatusOr<pid_t> SpawnDaemon(const std::string& binary, const std::vector<std::string>& args,
                                  const std::string& log_path) {
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    return absl::InternalError(absl::StrCat("cannot open ", log_path, ": ", ErrnoText()));
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int error_pipe[2];
  if (null_fd < 0 || ::pipe2(error_pipe, O_CLOEXEC) != 0) {
    std::string error = ErrnoText();
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    return absl::InternalError(absl::StrCat("cannot prepare to start ", binary, ": ", error));
  }
  // Built before fork: the child may not allocate.
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid == 0) ExecChild(binary.c_str(), argv.data(), null_fd, log_fd, error_pipe[1]);
  int fork_errno = errno;
  ::close(error_pipe[1]);
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    ::close(error_pipe[0]);
    return absl::InternalError(absl::StrCat("cannot fork: ", std::strerror(fork_errno)));
  }
  // The pipe closes on a successful exec; otherwise the child reports its errno.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(error_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  ::close(error_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    ::waitpid(pid, nullptr, 0);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot execute ", binary, ": ", std::strerror(child_errno)));
  }
  return pid;
}

bool ChildExited(pid_t pid, std::string* how) {
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == 0) return false;
  if (r < 0) {
    // Not our child (or already reaped): fall back to a liveness check.
    if (IsAlive(pid)) return false;
    *how = "exit status unknown";
    return true;
  }
  if (WIFEXITED(status)) {
    *how = absl::StrCat("exit code ", WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    *how = absl::StrCat("killed by signal ", WTERMSIG(status));
  } else {
    *how = "exit status unknown";
  }
  return true;
}

bool IsAlive(pid_t pid) {
  if (pid <= 0) return false;
  ::waitpid(pid, nullptr, WNOHANG);  // Reaps it if it is our own exited child.
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  return ProcessState(pid) != 'Z';
}

bool IsProgram(pid_t pid, std::string_view program) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"), std::ios::binary);
  std::string argv0;
  if (!std::getline(in, argv0, '\0')) return false;
  return std::filesystem::path(argv0).filename() == program;
}

std::vector<pid_t> WaitForExit(const std::vector<pid_t>& pids, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  std::vector<pid_t> alive = pids;
  while (true) {
    std::erase_if(alive, [](pid_t pid) { return !IsAlive(pid); });
    if (alive.empty() || absl::Now() >= deadline) return alive;
    absl::SleepFor(kExitPoll);
  }
}

absl::StatusOr<std::string> StopProcess(pid_t pid, absl::Duration grace) {
  if (::kill(pid, SIGTERM) != 0 && errno == ESRCH) return "stopped";
  if (WaitForExit({pid}, grace).empty()) return "stopped";
  ::kill(pid, SIGKILL);
  if (WaitForExit({pid}, kKillWait).empty()) return "killed";
  return absl::InternalError(absl::StrCat("process ", pid, " survived SIGKILL"));
}

absl::StatusOr<pid_t> ReadPidFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 0) {
    return absl::DataLossError(absl::StrCat(path, " does not hold a process id"));
  }
  return static_cast<pid_t>(pid);
}

absl::Status WritePidFile(const std::string& path, pid_t pid) {
  std::string tmp = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << pid << "\n";
    if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot write ", path, ": ", ec.message()));
  return absl::OkStatus();
}

std::string TailLines(const std::string& path, int n) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  constexpr std::streamoff kMaxBytes = 64 * 1024;
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kMaxBytes));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  size_t first = lines.size() > static_cast<size_t>(n) ? lines.size() - n : 0;
  std::string out;
  for (size_t i = first; i < lines.size(); ++i) absl::StrAppend(&out, lines[i], "\n");
  return out;
}

}  // namespace sluice::cli
