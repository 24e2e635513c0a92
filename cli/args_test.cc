#include "cli/args.h"

#include <string>
#include <vector>

#include "cli/cli_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace sluice::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// Parses `args` against the real `sluice` table.
absl::Status Parse(const std::vector<std::string>& args, ParsedArgs* out) {
  return ParseArgs(SluiceCli(), args, out);
}

TEST(ArgsTest, ParsesCommandPositionalsAndOptions) {
  ParsedArgs p;
  ASSERT_TRUE(Parse({"run", "job.so", "--parallelism", "4", "--name=wc", "--detached"}, &p).ok());
  EXPECT_EQ(p.command, "run");
  EXPECT_THAT(p.positionals, ElementsAre("job.so"));
  EXPECT_EQ(p.Get("--parallelism"), "4");
  EXPECT_EQ(p.Get("--name"), "wc");
  EXPECT_TRUE(p.Has("--detached"));
  EXPECT_FALSE(p.Has("--json"));
  EXPECT_FALSE(p.help);
}

TEST(ArgsTest, TwoWordCommand) {
  ParsedArgs p;
  ASSERT_TRUE(Parse({"cluster", "start", "--dir", "/tmp/c", "--taskmanagers", "2"}, &p).ok());
  EXPECT_EQ(p.command, "cluster start");
  EXPECT_EQ(p.Get("--dir"), "/tmp/c");
  EXPECT_EQ(p.Get("--taskmanagers"), "2");
}

TEST(ArgsTest, GlobalOptionsAnywhere) {
  ParsedArgs p;
  ASSERT_TRUE(Parse({"--jobmanager", "h:1", "status", "--config", "c.yaml", "J1"}, &p).ok());
  EXPECT_EQ(p.command, "status");
  EXPECT_THAT(p.positionals, ElementsAre("J1"));
  EXPECT_EQ(p.Get("--jobmanager"), "h:1");
  EXPECT_EQ(p.Get("--config"), "c.yaml");

  // Command options may come before the command words too.
  ASSERT_TRUE(Parse({"--json", "list"}, &p).ok());
  EXPECT_EQ(p.command, "list");
  EXPECT_TRUE(p.Has("--json"));
}

TEST(ArgsTest, DefineForms) {
  ParsedArgs p;
  ASSERT_TRUE(
      Parse({"-D", "a.b=1", "list", "-Dc.d=x=y", "-D", "e=", "-Dparallelism.default=3"}, &p).ok());
  EXPECT_THAT(p.defines, ElementsAre("a.b=1", "c.d=x=y", "e=", "parallelism.default=3"));
  EXPECT_EQ(p.command, "list");
}

TEST(ArgsTest, DefineWithoutEqualsOrKeyIsAnError) {
  ParsedArgs p;
  absl::Status s = Parse({"list", "-D", "novalue"}, &p);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(Message(s), HasSubstr("key=value"));
  EXPECT_FALSE(Parse({"list", "-D=1"}, &p).ok());
  EXPECT_FALSE(Parse({"list", "-D"}, &p).ok());
}

TEST(ArgsTest, UnknownOptionSuggestsTheClosestOne) {
  ParsedArgs p;
  absl::Status s = Parse({"run", "job.so", "--paralelism", "2"}, &p);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(Message(s), HasSubstr("unknown option '--paralelism'"));
  EXPECT_THAT(Message(s), HasSubstr("did you mean '--parallelism'?"));
  EXPECT_EQ(p.command, "run");  // Known, so that the caller can show its usage.
}

TEST(ArgsTest, UnknownOptionWithoutCloseMatch) {
  ParsedArgs p;
  absl::Status s = Parse({"list", "--frobnicate"}, &p);
  EXPECT_EQ(Message(s), "unknown option '--frobnicate'");
  EXPECT_FALSE(Parse({"list", "-x"}, &p).ok());
}

TEST(ArgsTest, OptionOfAnotherCommandIsRejected) {
  ParsedArgs p;
  absl::Status s = Parse({"cancel", "J1", "--json"}, &p);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(Message(s), HasSubstr("'--json' is not valid for 'cancel'"));
}

TEST(ArgsTest, MissingOptionValue) {
  ParsedArgs p;
  absl::Status s = Parse({"run", "job.so", "--parallelism"}, &p);
  EXPECT_THAT(Message(s), HasSubstr("'--parallelism' requires a value"));
  // A following long option is not taken as the value.
  s = Parse({"run", "job.so", "--name", "--detached"}, &p);
  EXPECT_THAT(Message(s), HasSubstr("'--name' requires a value"));
  // But a negative number is (and is then rejected by the command, not the parser).
  ASSERT_TRUE(Parse({"run", "job.so", "--parallelism", "-1"}, &p).ok());
  EXPECT_EQ(p.Get("--parallelism"), "-1");
}

TEST(ArgsTest, FlagWithValueIsAnError) {
  ParsedArgs p;
  EXPECT_THAT(Message(Parse({"list", "--json=yes"}, &p)), HasSubstr("does not take a value"));
}

TEST(ArgsTest, RepeatedOptions) {
  ParsedArgs p;
  ASSERT_TRUE(Parse({"run", "j.so", "--arg", "a=1", "--arg=b=2"}, &p).ok());
  EXPECT_THAT(p.GetAll("--arg"), ElementsAre("a=1", "b=2"));
  EXPECT_THAT(Message(Parse({"run", "j.so", "--name", "a", "--name", "b"}, &p)),
              HasSubstr("given more than once"));
}

TEST(ArgsTest, UnknownCommandSuggestsTheClosestOne) {
  ParsedArgs p;
  absl::Status s = Parse({"lst"}, &p);
  EXPECT_EQ(Message(s), "unknown command 'lst' (did you mean 'list'?)");
  EXPECT_THAT(Message(Parse({"stauts", "J"}, &p)), HasSubstr("did you mean 'status'?"));
  EXPECT_THAT(Message(Parse({"taskmanager"}, &p)), HasSubstr("did you mean 'taskmanagers'?"));
  EXPECT_EQ(Message(Parse({"xyzzy"}, &p)), "unknown command 'xyzzy'");
}

TEST(ArgsTest, ClusterSubcommands) {
  ParsedArgs p;
  EXPECT_THAT(Message(Parse({"cluster"}, &p)), HasSubstr("missing 'cluster' command"));
  absl::Status s = Parse({"cluster", "strat", "--dir", "d"}, &p);
  EXPECT_EQ(Message(s), "unknown cluster command 'strat' (did you mean 'start'?)");
  EXPECT_THAT(Message(Parse({"cluster", "stop"}, &p)), HasSubstr("missing required option --dir"));
}

TEST(ArgsTest, PositionalCounts) {
  ParsedArgs p;
  EXPECT_EQ(Message(Parse({"run"}, &p)), "missing argument PACKAGE");
  EXPECT_EQ(Message(Parse({"status"}, &p)), "missing argument JOB");
  EXPECT_EQ(Message(Parse({"list", "extra"}, &p)), "unexpected argument 'extra'");
  EXPECT_EQ(Message(Parse({}, &p)), "missing command");
}

TEST(ArgsTest, DoubleDashEndsOptions) {
  ParsedArgs p;
  ASSERT_TRUE(Parse({"status", "--", "--weird-id"}, &p).ok());
  EXPECT_THAT(p.positionals, ElementsAre("--weird-id"));
}

TEST(ArgsTest, HelpSkipsArgumentChecks) {
  ParsedArgs p;
  ASSERT_TRUE(Parse({"run", "--help"}, &p).ok());
  EXPECT_TRUE(p.help);
  EXPECT_EQ(p.command, "run");
  ASSERT_TRUE(Parse({"-h"}, &p).ok());
  EXPECT_TRUE(p.help);
  EXPECT_EQ(p.command, "");
  ASSERT_TRUE(Parse({"cluster", "--help"}, &p).ok());
  EXPECT_EQ(p.command, "cluster");
  ASSERT_TRUE(Parse({"help", "cluster", "start"}, &p).ok());
  EXPECT_EQ(p.command, "help");
  EXPECT_THAT(p.positionals, ElementsAre("cluster", "start"));
}

TEST(ArgsTest, Suggest) {
  std::vector<std::string> verbs = {"run", "list", "status", "cancel"};
  EXPECT_EQ(Suggest("lst", verbs), "list");
  EXPECT_EQ(Suggest("ls", verbs), "list");
  EXPECT_EQ(Suggest("LIST", verbs), "list");
  EXPECT_EQ(Suggest("canc", verbs), "cancel");  // Unique prefix.
  EXPECT_EQ(Suggest("qqqq", verbs), "");
  EXPECT_EQ(Suggest("", verbs), "");
  EXPECT_EQ(Suggest("--jsn", {"--json", "--name"}), "--json");
}

TEST(ArgsTest, UsageMentionsEveryCommand) {
  std::string usage = UsageText("");
  for (const CommandSpec& c : SluiceCli().commands) {
    EXPECT_THAT(usage, HasSubstr(c.name)) << c.name;
  }
  EXPECT_THAT(UsageText("run"), HasSubstr("--parallelism N"));
  EXPECT_THAT(UsageLine("cluster start"), HasSubstr("sluice cluster start --dir DIR"));
  EXPECT_THAT(UsageText("cluster"), HasSubstr("cluster stop"));
  EXPECT_THAT(UsageText("cluster"), ::testing::Not(HasSubstr("taskmanagers [--json]")));
}

// A command's help shows only its own options, each with the text that fits that command.
TEST(ArgsTest, PerCommandHelpShowsOnlyItsOptions) {
  const std::string start = UsageText("cluster start");
  EXPECT_THAT(start, HasSubstr("--dir DIR"));
  EXPECT_THAT(start, HasSubstr("The cluster's folder"));
  EXPECT_THAT(start, ::testing::Not(HasSubstr("savepoint")));
  EXPECT_THAT(start, ::testing::Not(HasSubstr("--parallelism")));
  const std::string status = UsageText("status");
  EXPECT_THAT(status, HasSubstr("Folder of a cluster started with"));
  EXPECT_THAT(status, ::testing::Not(HasSubstr("--taskmanagers")));
  EXPECT_THAT(status, ::testing::Not(HasSubstr("The cluster's folder")));
  const std::string rescale = UsageText("rescale");
  EXPECT_THAT(rescale, HasSubstr("The job's new parallelism"));
  EXPECT_THAT(rescale, ::testing::Not(HasSubstr("parallelism.default")));
  EXPECT_THAT(UsageLine("savepoint"), HasSubstr("sluice savepoint JOB [TARGET_DIRECTORY]"));
}

TEST(ArgsTest, VersionFlagNeedsNoCommand) {
  ParsedArgs p;
  ASSERT_TRUE(Parse({"--version"}, &p).ok());
  EXPECT_TRUE(p.version);
  ASSERT_TRUE(Parse({"version"}, &p).ok());
  EXPECT_EQ(p.command, "version");
}

TEST(ArgsTest, SavepointCommands) {
  ParsedArgs p;
  ASSERT_TRUE(Parse({"savepoint", "J1", "--target-directory", "sp", "--json"}, &p).ok());
  EXPECT_EQ(p.command, "savepoint");
  EXPECT_THAT(p.positionals, ElementsAre("J1"));
  EXPECT_EQ(p.Get("--target-directory"), "sp");
  // Flink's `savepoint JOB [targetDirectory]`; --dir names the cluster folder.
  ASSERT_TRUE(Parse({"savepoint", "J1", "/sp", "--dir", "/cluster"}, &p).ok());
  EXPECT_THAT(p.positionals, ElementsAre("J1", "/sp"));
  EXPECT_EQ(p.Get("--dir"), "/cluster");
  EXPECT_THAT(Message(Parse({"savepoint", "J1", "--drain"}, &p)),
              HasSubstr("'--drain' is not valid for 'savepoint'"));
  EXPECT_EQ(Message(Parse({"savepoint"}, &p)), "missing argument JOB");

  // `stop JOB` and `cluster stop` are different commands.
  ASSERT_TRUE(Parse({"stop", "J1", "--drain", "--target-directory=/sp"}, &p).ok());
  EXPECT_EQ(p.command, "stop");
  EXPECT_TRUE(p.Has("--drain"));
  EXPECT_EQ(p.Get("--target-directory"), "/sp");
  ASSERT_TRUE(Parse({"cluster", "stop", "--dir", "d"}, &p).ok());
  EXPECT_EQ(p.command, "cluster stop");
  EXPECT_THAT(Message(Parse({"cluster", "stop", "--dir", "d", "--drain"}, &p)),
              HasSubstr("not valid for 'cluster stop'"));
}

TEST(ArgsTest, RescaleRequiresParallelism) {
  ParsedArgs p;
  ASSERT_TRUE(Parse({"rescale", "J1", "--parallelism", "3", "--json"}, &p).ok());
  EXPECT_EQ(p.command, "rescale");
  EXPECT_EQ(p.Get("--parallelism"), "3");
  EXPECT_THAT(Message(Parse({"rescale", "J1"}, &p)),
              HasSubstr("missing required option --parallelism N"));
  EXPECT_THAT(Message(Parse({"rescale", "J1", "--parallelism"}, &p)),
              HasSubstr("'--parallelism' requires a value"));
  // Not a positive integer: rejected by the command, as for `run`.
  ASSERT_TRUE(Parse({"rescale", "J1", "--parallelism", "0"}, &p).ok());
  EXPECT_THAT(UsageLine("rescale"), HasSubstr("sluice rescale JOB --parallelism N [--json]"));
}

TEST(ArgsTest, RunRestoreOptions) {
  ParsedArgs p;
  ASSERT_TRUE(
      Parse({"run", "j.so", "--from-savepoint", "sp/savepoint-1", "--allow-non-restored-state"}, &p)
          .ok());
  EXPECT_EQ(p.Get("--from-savepoint"), "sp/savepoint-1");
  EXPECT_TRUE(p.Has("--allow-non-restored-state"));
  ASSERT_TRUE(Parse({"run", "j.so", "--restore", "latest"}, &p).ok());
  EXPECT_EQ(p.Get("--restore"), "latest");
  EXPECT_THAT(Message(Parse({"run", "j.so", "--restore"}, &p)),
              HasSubstr("'--restore' requires a value (latest)"));
  EXPECT_THAT(Message(Parse({"status", "J1", "--from-savepoint", "x"}, &p)),
              HasSubstr("not valid for 'status'"));
  // --from-savepoint with --restore, and --restore other than `latest`, are rejected by `run`.
}

TEST(ArgsTest, EmptyOptionValueIsKept) {
  ParsedArgs p;
  ASSERT_TRUE(Parse({"run", "j.so", "--name="}, &p).ok());
  EXPECT_EQ(p.Get("--name"), "");
  EXPECT_THAT(p.GetAll("--arg"), IsEmpty());
}

}  // namespace
}  // namespace sluice::cli
