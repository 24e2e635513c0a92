// One named spdlog logger per subsystem, all writing to stderr with the same pattern.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

// Debian's abseil has its own string_view type (not std::string_view): let fmt print it.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  template <typename Ctx>
  auto format(absl::string_view s, Ctx& ctx) const {
    return fmt::formatter<fmt::string_view>::format(fmt::string_view(s.data(), s.size()), ctx);
  }
};

namespace sluice::log {

//! Sets the level of every logger ("trace", "debug", "info", "warn", "error", "off").
void SetLevel(const std::string& level);

//! The logger of a subsystem ("jobmanager", "taskmanager", "network", "task", ...), created once.
std::shared_ptr<spdlog::logger> Get(const std::string& name);

//! "text" (the default: one line per record) or "json" (one JSON object per line, with the
//! thread's context as fields: job_id, vertex, subtask, attempt_id, checkpoint_id). Applies to
//! every logger, those made later included. InvalidArgument for another value.
absl::Status SetFormat(const std::string& format);

//! Adds key=value to the context of the calling thread's log records until destroyed (nested
//! scopes stack; an inner value for the same key wins while it lives). Thread-local: set it on the
//! thread that logs (a task thread, a JobMaster's executor, a checkpoint's handling).
class ScopedContext {
 public:
  ScopedContext(std::string key, std::string value);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;
};

//! Sets key=value for the rest of the calling thread's life (a dedicated thread's identity).
void SetThreadContext(const std::string& key, const std::string& value);

//! A client-given string (a job name, a path, an argument) made safe to log: C-escaped (\n, \t,
//! \\, \", \xNN for other bytes outside printable ASCII), so it cannot forge log lines, and cut
//! after `max_bytes` with a note of the full length, so it cannot flood the log.
std::string Untrusted(absl::string_view text, size_t max_bytes = 256);

}  // namespace sluice::log
