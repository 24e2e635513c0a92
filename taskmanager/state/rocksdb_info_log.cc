#include "taskmanager/state/rocksdb_info_log.h"

#include <rocksdb/env.h>
#include <rocksdb/listener.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string_view>

#include "common/log.h"

namespace sluice::state {
namespace {

class InfoLog final : public rocksdb::Logger {
 public:
  explicit InfoLog(std::string name)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), name_(std::move(name)) {}

  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel() || level == rocksdb::InfoLogLevel::HEADER_LEVEL) return;
    char buf[1024];
    const int n = std::vsnprintf(buf, sizeof buf, format, ap);
    if (n < 0) return;
    std::string_view message(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
    while (!message.empty() && message.back() == '\n') message.remove_suffix(1);
    auto logger = log::Get("state");
    const fmt::string_view text(message.data(), message.size());
    if (message.find("File Deletions") != std::string_view::npos) {
      // 7.8 logs two of these at WARN for every checkpoint: noise.
      logger->debug("rocksdb {}: {}", name_, text);
    } else if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      logger->error("rocksdb {}: {}", name_, text);
    } else {
      logger->warn("rocksdb {}: {}", name_, text);
    }
  }
  // Calls without a level (and LogHeader) are INFO: below our WARN.
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }

 private:
  const std::string name_;
};

class NoAutoRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

}  // namespace

std::shared_ptr<rocksdb::Logger> MakeRocksDbInfoLog(std::string name) {
  return std::make_shared<InfoLog>(std::move(name));
}

std::shared_ptr<rocksdb::EventListener> MakeNoAutoRecoveryListener() {
  return std::make_shared<NoAutoRecovery>();
}

}  // namespace sluice::state
