#include "common/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

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
bool& Json() {
  static bool json = false;
  return json;
}

constexpr char kTextPattern[] = "%Y-%m-%d %H:%M:%S.%e %-5l [%n] %v";

//! key=value pairs of this thread, in the order they were set (later ones win on output).
std::vector<std::pair<std::string, std::string>>& ThreadContext() {
  thread_local std::vector<std::pair<std::string, std::string>> context;
  return context;
}

//! One JSON object per record: time (UTC, ISO 8601), level, logger, thread, message, and the
//! thread's context as fields.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using J = nlohmann::ordered_json;
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&secs, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &utc);
    J j;
    j["@timestamp"] = absl::StrFormat("%s.%03dZ", stamp, static_cast<int>(ms % 1000));
    j["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                             spdlog::level::to_string_view(msg.level).size());
    j["logger"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    j["thread"] = msg.thread_id;
    j["message"] = std::string(msg.payload.data(), msg.payload.size());
    for (const auto& [k, v] : ThreadContext()) j[k] = v;
    const std::string line = j.dump(-1, ' ', false, J::error_handler_t::replace) + "\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

void ApplyFormat(spdlog::logger& logger) {
  if (Json()) {
    logger.set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger.set_pattern(kTextPattern);
  }
}

}  // namespace

absl::Status SetFormat(const std::string& format) {
  if (format != "text" && format != "json") {
    return absl::InvalidArgumentError("log.format must be text or json, not '" + format + "'");
  }
  std::lock_guard<std::mutex> lock(Mu());
  Json() = format == "json";
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { ApplyFormat(*l); });
  return absl::OkStatus();
}

ScopedContext::ScopedContext(std::string key, std::string value) {
  ThreadContext().emplace_back(std::move(key), std::move(value));
}

ScopedContext::~ScopedContext() { ThreadContext().pop_back(); }

void SetThreadContext(const std::string& key, const std::string& value) {
  auto& context = ThreadContext();
  for (auto& [k, v] : context) {
    if (k == key) {
      v = value;
      return;
    }
  }
  context.emplace(context.begin(), key, value);  // below any scope pushed meanwhile
}

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
  ApplyFormat(*logger);
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
