#include "common/log.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace sluice::log
