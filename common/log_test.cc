#include "common/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace sluice::log {
namespace {

// Regression (fault probe, gap 7): a job name with a newline forged a line in jobmanager.log.
TEST(UntrustedTest, ControlCharactersCannotBreakALogLine) {
  EXPECT_EQ(Untrusted("ledger"), "ledger");
  const std::string forged =
      Untrusted("x\n2026-01-01 00:00:00.000 error [jobmaster] forged\r\t\x01");
  EXPECT_EQ(forged.find('\n'), std::string::npos);
  EXPECT_EQ(forged.find('\r'), std::string::npos);
  EXPECT_EQ(forged, "x\\n2026-01-01 00:00:00.000 error [jobmaster] forged\\r\\t\\x01");
  EXPECT_EQ(Untrusted("a\\b"), "a\\\\b") << "a backslash cannot fake an escape";
}

TEST(UntrustedTest, LongStringsAreCutWithTheirLength) {
  const std::string name(10 * 1024, 'n');
  const std::string shown = Untrusted(name, 16);
  EXPECT_EQ(shown, std::string(16, 'n') + "... (10240 bytes)");
  EXPECT_EQ(Untrusted(std::string(16, 'n'), 16), std::string(16, 'n'));
}

TEST(LogFormatTest, JsonRecordsCarryTheThreadsContextAsFields) {
  ASSERT_TRUE(SetFormat("json").ok());
  auto logger = Get("logtest");
  ::testing::internal::CaptureStderr();
  {
    SetThreadContext("job_id", "job-1");
    ScopedContext checkpoint("checkpoint_id", "7");
    logger->info("said \"hi\"\nthen left");
  }
  logger->warn("after the scope");
  std::thread([&] { logger->info("another thread"); }).join();
  const std::string out = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(SetFormat("text").ok());

  std::vector<nlohmann::json> lines;
  size_t start = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(nlohmann::json::parse(out.substr(start, nl - start)));
  }
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_EQ(lines[0]["message"], "said \"hi\"\nthen left");
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["logger"], "logtest");
  EXPECT_EQ(lines[0]["job_id"], "job-1");
  EXPECT_EQ(lines[0]["checkpoint_id"], "7");
  EXPECT_TRUE(lines[0]["@timestamp"].get<std::string>().ends_with("Z")) << lines[0];
  EXPECT_EQ(lines[1]["job_id"], "job-1") << "the thread's context stays";
  EXPECT_FALSE(lines[1].contains("checkpoint_id")) << "the scope ended";
  EXPECT_FALSE(lines[2].contains("job_id")) << "another thread has its own context";
}

TEST(LogFormatTest, AnUnknownFormatIsRefused) {
  absl::Status s = SetFormat("xml");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
}

}  // namespace
}  // namespace sluice::log
