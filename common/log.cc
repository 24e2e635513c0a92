#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"

namespace sluice::log {
namespace {

std::mutex& Mu() {
  static std::mutex mu;
  return mu;
}
spdlog::level::level_enum& Level() {
  static spdlog::level::level_enum level = spdlog::level::info;
  return level;
}

}  // namespace

void SetLevel(const std::string& level) {
  std::lock_guard<std::mutex> lock(Mu());
  Level() = spdlog::level::from_str(level);
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->set_level(Level()); });
}

std::shared_ptr<spdlog::logger> Get(const std::string& name) {
  std::lock_guard<std::mutex> lock(Mu());
  if (auto existing = spdlog::get(name)) return existing;
  static auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %-5l [%n] %v");
  logger->set_level(Level());
  logger->flush_on(spdlog::level::info);
  spdlog::register_logger(logger);
  return logger;
}

std::string Untrusted(absl::string_view text, size_t max_bytes) {
  std::string out = absl::CHexEscape(text.substr(0, max_bytes));
  if (text.size() > max_bytes) absl::StrAppendFormat(&out, "... (%d bytes)", text.size());
  return out;
}

}  // namespace sluice::log
