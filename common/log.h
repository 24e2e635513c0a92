// One named spdlog logger per subsystem, all writing to stderr with the same pattern.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

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

//! A client-given string (a job name, a path, an argument) made safe to log: C-escaped (\n, \t,
//! \\, \", \xNN for other bytes outside printable ASCII), so it cannot forge log lines, and cut
//! after `max_bytes` with a note of the full length, so it cannot flood the log.
std::string Untrusted(absl::string_view text, size_t max_bytes = 256);

}  // namespace sluice::log
