#include "taskmanager/failure_report.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/rpc.h"
#include "sluice/internal/user_code_error.h"
#include "sluice_proto/cluster.grpc.pb.h"

namespace sluice::taskmanager {
namespace {

constexpr int kMaxFrames = 48;

struct ThrowStack {
  void* frames[kMaxFrames];
  int count = 0;
};
thread_local ThrowStack t_throw_stack;

constexpr size_t kCrashContextBytes = 256;
thread_local char t_crash_context[kCrashContextBytes];

int g_watchdog_fd = -1;  // write end of the pipe to the watchdog; -1 without one

// Appends `text` to `buf` (of `size` bytes, `*used` filled): async-signal-safe string building.
void Append(char* buf, size_t size, size_t* used, const char* text) {
  while (*text != '\0' && *used + 1 < size) buf[(*used)++] = *text++;
  buf[*used] = '\0';
}

std::string BaseName(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

std::string Symbolize(void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0) return absl::StrFormat("%p", address);
  std::string module = info.dli_fname ? BaseName(info.dli_fname) : "?";
  if (info.dli_sname != nullptr) {
    uintptr_t offset =
        reinterpret_cast<uintptr_t>(address) - reinterpret_cast<uintptr_t>(info.dli_saddr);
    return absl::StrFormat("%s +0x%x in %s", internal::Demangle(info.dli_sname), offset, module);
  }
  uintptr_t offset =
      reinterpret_cast<uintptr_t>(address) - reinterpret_cast<uintptr_t>(info.dli_fbase);
  return absl::StrFormat("%s+0x%x", module, offset);
}

std::string Where(const FailureContext& where) {
  std::string out = "  in ";
  if (!where.operator_name.empty()) {
    absl::StrAppend(&out, "operator '", where.operator_name, "'");
    if (!where.operator_uid.empty()) absl::StrAppend(&out, " (uid ", where.operator_uid, ")");
    absl::StrAppend(&out, " of ");
  }
  absl::StrAppend(&out, "task '", where.task, "' of job ", where.job_id, "\n");
  return out;
}

std::string StackBlock() {
  std::string stack = LastThrowStack();
  return stack.empty() ? "" : absl::StrCat("  thrown at:\n", stack);
}

// Writes `text` to stderr with write(2) only: async-signal-safe.
void WriteStderr(const char* text) {
  size_t left = strlen(text);
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, text, left);
    if (n <= 0) return;
    text += n;
    left -= static_cast<size_t>(n);
  }
}

void OnCrash(int sig, siginfo_t*, void*) {
  // Only async-signal-safe calls: write(2), backtrace_symbols_fd (its buffer comes from the
  // stack), then the default action of the signal, which ends the process.
  // The watchdog first: it is one write(2), and backtrace below may itself fail on a broken stack.
  if (g_watchdog_fd >= 0) {
    char line[kCrashContextBytes + 64];
    size_t used = 0;
    Append(line, sizeof(line), &used, "crash SIG");
    Append(line, sizeof(line), &used, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    Append(line, sizeof(line), &used, " ");
    Append(line, sizeof(line), &used, t_crash_context);
    Append(line, sizeof(line), &used, "\n");
    (void)!::write(g_watchdog_fd, line, used);
  }
  WriteStderr("\n*** sluice-taskmanager crashed (");
  WriteStderr(sigabbrev_np(sig) ? "SIG" : "signal ");
  WriteStderr(sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
  WriteStderr(")");
  if (t_crash_context[0] != '\0') {
    WriteStderr(" while running task '");
    WriteStderr(t_crash_context);
    WriteStderr("'");
  } else {
    WriteStderr(" outside of a task");
  }
  WriteStderr("; the stack of the crashing thread:\n");
  void* frames[kMaxFrames];
  int n = backtrace(frames, kMaxFrames);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  WriteStderr("*** end of the crash report\n");
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void RecordThrowStack() { t_throw_stack.count = backtrace(t_throw_stack.frames, kMaxFrames); }

std::string LastThrowStack() {
  // The frames up to the first one in the TaskManager itself: what lies below (the task's loop,
  // the thread) is the same for every failure and says nothing about the user's code.
  Dl_info self{};
  dladdr(reinterpret_cast<void*>(&RecordThrowStack), &self);
  const ThrowStack& s = t_throw_stack;
  auto in_self = [&self](void* frame) {
    Dl_info info{};
    return dladdr(frame, &info) != 0 && info.dli_fbase == self.dli_fbase;
  };
  // The first frames are RecordThrowStack and the hook, in this executable; before them there
  // may be a sanitizer's interceptor of backtrace().
  int first = 0;
  while (first < s.count && !in_self(s.frames[first])) ++first;
  while (first < s.count && in_self(s.frames[first])) ++first;
  std::string out;
  for (int i = first; i < s.count; ++i) {
    if (in_self(s.frames[i])) {
      absl::StrAppend(&out, "    #", i - first, " ... (the TaskManager's task loop)\n");
      break;
    }
    absl::StrAppend(&out, "    #", i - first, " ", Symbolize(s.frames[i]), "\n");
  }
  return out;
}

std::string DescribeUserCodeError(const UserCodeError& e, const FailureContext& where) {
  std::string out = absl::StrCat(e.exception_type(), ": ", e.message(), "\n", Where(where));
  if (!e.record().empty()) {
    absl::StrAppend(&out,
                    "  while processing record: ", absl::StrReplaceAll(e.record(), {{"\n", "\\n"}}),
                    "\n");
  }
  absl::StrAppend(&out, StackBlock());
  return out;
}

std::string DescribeException(const std::type_info& type, const char* what,
                              const FailureContext& where) {
  return absl::StrCat(internal::Demangle(type.name()), ": ", what, "\n", Where(where),
                      StackBlock());
}

void InstallCrashHandler() {
  // The handler runs on the crashing thread's own stack; a stack overflow then dies without a
  // report (an alternate stack per task thread would cover it).
  struct sigaction action {};
  action.sa_sigaction = OnCrash;
  action.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &action, nullptr);
  // backtrace() loads libgcc on first use, which allocates: do it now, not in the handler.
  void* frame[1];
  (void)backtrace(frame, 1);
}

namespace {

// The watchdog's life: collect what the TaskManager says until the pipe closes, then report a
// crash if there was one.
[[noreturn]] void RunWatchdog(int fd) {
  prctl(PR_SET_NAME, "tm-watchdog");
  signal(SIGTERM, SIG_IGN);  // a `cluster stop` is for the TaskManager; we follow it out
  signal(SIGINT, SIG_IGN);
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  std::string id, jobmanager;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    if (parts.size() == 3 && parts[0] == "id") {
      id = parts[1];
      jobmanager = parts[2];
    }
  }
  CrashNote crash;
  if (FindCrashNote(text, &crash) && !id.empty()) {
    auto ctx = ContextWithDeadline(std::chrono::seconds(5));
    proto::CrashReport report;
    report.set_taskmanager_id(id);
    report.set_signal(crash.signal);
    report.set_task(crash.task);
    proto::Empty empty;
    (void)proto::JobManagerService::NewStub(MakeChannel(jobmanager))
        ->ReportCrash(ctx.get(), report, &empty);
  }
  _exit(0);
}

}  // namespace

void StartCrashWatchdog() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return;  // no watchdog: crashes read as lost connections
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (pid == 0) {
    ::close(fds[1]);
    RunWatchdog(fds[0]);
  }
  ::close(fds[0]);
  g_watchdog_fd = fds[1];
}

void UseCrashPipe(int fd) { g_watchdog_fd = fd; }

bool FindCrashNote(const std::string& text, CrashNote* note) {
  bool found = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(' ', 2));
    if (parts.size() >= 2 && parts[0] == "crash") {
      *note = CrashNote{parts[1], parts.size() == 3 ? parts[2] : ""};
      found = true;
    }
  }
  return found;
}

void TellWatchdog(const std::string& taskmanager_id, const std::string& jobmanager_address) {
  if (g_watchdog_fd < 0) return;
  std::string line = absl::StrCat("id ", taskmanager_id, " ", jobmanager_address, "\n");
  (void)!::write(g_watchdog_fd, line.data(), line.size());
}

void SetCrashContext(const std::string& task) {
  size_t n = std::min(task.size(), kCrashContextBytes - 1);
  memcpy(t_crash_context, task.data(), n);
  t_crash_context[n] = '\0';
}

}  // namespace sluice::taskmanager
