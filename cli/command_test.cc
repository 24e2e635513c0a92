#include "cli/command.h"

#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace sluice::cli {
namespace {

std::string Printed(const Json& json) {
  ::testing::internal::CaptureStdout();
  PrintJson(json);
  return ::testing::internal::GetCapturedStdout();
}

TEST(PrintJsonTest, KeepsKeysInTheOrderTheyWereSet) {
  Json status = {{"name", "wordcount"}, {"parallelism", 4}, {"running", true}};
  status["error"] = nullptr;
  status["vertices"] = Json::array({{{"id", 1}}, {{"id", 2}, {"tags", Json::array()}}});
  EXPECT_EQ(Printed(status), R"({"name":"wordcount","parallelism":4,"running":true,"error":null,)"
                             R"("vertices":[{"id":1},{"id":2,"tags":[]}]})"
                             "\n");
}

TEST(PrintJsonTest, EscapesOnlyQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Printed({{"a\"b\n", "a\"b\\c\r\t\b\f"}}), R"({"a\"b\n":"a\"b\\c\r\t\b\f"})"
                                                      "\n");
  EXPECT_EQ(Printed(Json(std::string("\x00\x01\x1f\x7f", 4))), "\"\\u0000\\u0001\\u001f\x7f\"\n");
  EXPECT_EQ(Printed(Json("grüße, 東京 🚀")), "\"grüße, 東京 🚀\"\n");
}

TEST(PrintJsonTest, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  EXPECT_EQ(Printed(Json(std::string("a\xff"
                                     "b"))),
            "\"a\xEF\xBF\xBD"
            "b\"\n");
}

TEST(PrintJsonTest, Numbers) {
  Json numbers = {std::numeric_limits<int64_t>::min(),
                  std::numeric_limits<int64_t>::max(),
                  0.1,
                  -2.5e-8,
                  3.0,
                  std::numeric_limits<double>::quiet_NaN()};
  EXPECT_EQ(Printed(numbers), "[-9223372036854775808,9223372036854775807,0.1,-2.5e-08,3.0,null]\n");
}

}  // namespace
}  // namespace sluice::cli
