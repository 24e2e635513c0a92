// `sluice logs DAEMON [--lines N] [--follow]`: a daemon's log, read through the JobManager (which
// asks the TaskManager), so that nobody needs to know where the file is or be on its machine.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/client.h"
#include "cli/command.h"

namespace sluice::cli {
namespace {

constexpr int kDefaultLines = 100;
constexpr int64_t kBytesPerLine = 512;  // what we fetch per line asked for, at least 64 KiB
constexpr auto kFollowPoll = std::chrono::milliseconds(500);

std::atomic<bool> g_interrupted{false};
void OnInterrupt(int) { g_interrupted = true; }

//! The last `lines` lines of `text` (a first, partial line dropped when `text` is a tail).
std::string_view LastLines(std::string_view text, int lines, bool starts_mid_file) {
  if (starts_mid_file) {
    size_t first = text.find('\n');
    text = first == std::string_view::npos ? std::string_view() : text.substr(first + 1);
  }
  size_t at = text.size();
  if (at > 0 && text[at - 1] == '\n') --at;
  for (int n = 0; n < lines && at != std::string_view::npos && at > 0; ++n) {
    at = text.rfind('\n', at - 1);
  }
  return at == std::string_view::npos || at == 0 ? text : text.substr(at + 1);
}

}  // namespace

int LogsCommand(const Invocation& invocation) {
  const ParsedArgs& args = invocation.args;
  int lines = kDefaultLines;
  if (std::optional<std::string> n = args.Get("--lines")) {
    std::optional<int> parsed = ParsePositiveInt(*n);
    if (!parsed)
      return UsageError("logs", absl::StrCat("--lines expects a positive integer, got '", *n, "'"));
    lines = *parsed;
  }
  JobManagerClient client(invocation.jobmanager);
  proto::DaemonLogRequest request;
  request.set_daemon(args.positionals[0]);
  request.set_offset(-std::max<int64_t>(64 << 10, lines * kBytesPerLine));
  absl::StatusOr<proto::DaemonLogResponse> first = client.ReadDaemonLog(request);
  if (!first.ok()) return Fail(first.status());
  std::cout << LastLines(first->data(), lines, first->offset() > 0) << std::flush;
  if (!args.Has("--follow")) return kExitOk;

  signal(SIGINT, OnInterrupt);
  signal(SIGTERM, OnInterrupt);
  uint64_t next = first->offset() + first->data().size();
  while (!g_interrupted) {
    std::this_thread::sleep_for(kFollowPoll);
    request.set_offset(static_cast<int64_t>(next));
    request.set_max_bytes(0);
    absl::StatusOr<proto::DaemonLogResponse> more = client.ReadDaemonLog(request);
    if (!more.ok()) return Fail(absl::StrCat("stopped following: ", more.status().message()));
    if (more->size() < next) {  // the file was truncated or replaced: start over
      std::cerr << "sluice: " << more->path() << " was truncated; reading it from the start\n";
      next = 0;
      continue;
    }
    std::cout << more->data() << std::flush;
    next = more->offset() + more->data().size();
  }
  return kExitOk;
}

}  // namespace sluice::cli
