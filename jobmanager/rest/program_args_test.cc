#include "jobmanager/rest/program_args.h"

#include <gtest/gtest.h>

namespace sluice::jobmanager::rest {
namespace {

using Args = std::vector<std::string>;
using Map = std::map<std::string, std::string>;

TEST(ProgramArgsTest, SplitsLikeAShell) {
  EXPECT_EQ(*SplitProgramArgs(""), Args{});
  EXPECT_EQ(*SplitProgramArgs("  a  b\tc "), (Args{"a", "b", "c"}));
  EXPECT_EQ(*SplitProgramArgs(R"(--name 'two words' x="a b" \"q)"),
            (Args{"--name", "two words", "x=a b", "\"q"}));
  EXPECT_EQ(*SplitProgramArgs(R"(k="say \"hi\"")"), (Args{R"(k=say "hi")"}));
  EXPECT_TRUE(absl::IsInvalidArgument(SplitProgramArgs("'open").status()));
}

TEST(ProgramArgsTest, TakesEveryFormAFlinkUserWrites) {
  EXPECT_EQ(*ParseProgramArgs(
                {"splits=6", "--rate=10", "--input", "/tmp/x", "--arg", "a=b=c", "--verbose"}),
            (Map{{"splits", "6"},
                 {"rate", "10"},
                 {"input", "/tmp/x"},
                 {"a", "b=c"},
                 {"verbose", "true"}}));
  EXPECT_EQ(*ParseProgramArgs({"--flag", "--other", "x"}), (Map{{"flag", "true"}, {"other", "x"}}));
}

TEST(ProgramArgsTest, RefusesArgumentsThatFitNoForm) {
  EXPECT_TRUE(absl::IsInvalidArgument(ParseProgramArgs({"lonely"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseProgramArgs({"=x"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseProgramArgs({"--arg"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseProgramArgs({"--arg", "novalue"}).status()));
}

}  // namespace
}  // namespace sluice::jobmanager::rest
