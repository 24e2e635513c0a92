// `sluice`: the command-line client of a Sluice cluster. Parses the command line, loads the
// configuration, and hands over to one command (see command.h for the list).

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/args.h"
#include "cli/cli_spec.h"
#include "cli/command.h"
#include "cli/discovery.h"
#include "common/daemon.h"

namespace sluice::cli {
namespace {

using CommandFn = int (*)(const Invocation&);

const std::map<std::string, CommandFn>& Commands() {
  static const auto* commands = new std::map<std::string, CommandFn>{
      {"cluster start", ClusterStartCommand},
      {"cluster stop", ClusterStopCommand},
      {"cluster add-taskmanager", ClusterAddTaskManagerCommand},
      {"run", RunCommand},
      {"list", ListCommand},
      {"status", StatusCommand},
      {"exceptions", ExceptionsCommand},
      {"logs", LogsCommand},
      {"watermarks", WatermarksCommand},
      {"cancel", CancelCommand},
      {"taskmanagers", TaskManagersCommand},
      {"checkpoints", CheckpointsCommand},
      {"savepoint", SavepointCommand},
      {"stop", StopCommand},
      {"rescale", RescaleCommand},
  };
  return *commands;
}

bool NeedsJobManager(std::string_view command) {
  return command != "cluster start" && command != "cluster stop" && command != "version";
}

// Daemons started by `cluster start` inherit fds 0-2; make sure they exist so that files we
// open never land on them.
void EnsureStandardFds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1) ::open("/dev/null", O_RDWR);
  }
}

int ShowHelp(const ParsedArgs& args) {
  std::string topic = args.command == "help" ? absl::StrJoin(args.positionals, " ") : args.command;
  if (!topic.empty() && FindCommand(SluiceCli(), topic) == nullptr && topic != "cluster") {
    std::vector<std::string> names;
    for (const CommandSpec& c : SluiceCli().commands) names.push_back(c.name);
    std::string message = absl::StrCat("unknown command '", topic, "'");
    if (std::string s = Suggest(topic, names); !s.empty()) {
      absl::StrAppend(&message, " (did you mean '", s, "'?)");
    }
    return UsageError("", message);
  }
  std::cout << UsageText(topic) << std::flush;
  return kExitOk;
}

int Main(int argc, char** argv) {
  EnsureStandardFds();
  std::vector<std::string> raw(argv + 1, argv + argc);
  Invocation invocation;
  ParsedArgs& args = invocation.args;
  if (absl::Status s = ParseArgs(SluiceCli(), raw, &args); !s.ok()) {
    if (raw.empty()) {
      std::cerr << "sluice: " << std::string(s.message()) << "\n\n" << UsageText("") << std::flush;
      return kExitUsage;
    }
    return UsageError(args.command, std::string(s.message()));
  }
  if (args.help || args.command == "help") return ShowHelp(args);
  if (args.version || args.command == "version") {
    std::cout << "sluice " << SLUICE_VERSION << std::endl;
    return kExitOk;
  }

  // `cluster stop` must work even when the configuration has been broken since the start.
  if (args.command != "cluster stop") {
    absl::StatusOr<std::string> config_file =
        ConfigFileOfThisProcess(args.Get("--config").value_or(""));
    if (!config_file.ok()) {
      std::cerr << "sluice: " << config_file.status().message() << std::endl;
      return kExitUsage;
    }
    invocation.config_path = *config_file;
    absl::StatusOr<config::Configuration> config =
        config::Configuration::Load(invocation.config_path, args.defines);
    if (!config.ok()) {
      std::cerr << "sluice: " << config.status().message() << std::endl;
      return kExitUsage;
    }
    invocation.config = *std::move(config);
  }

  if (NeedsJobManager(args.command)) {
    absl::StatusOr<std::string> jobmanager = FindJobManager({
        .flag = args.Get("--jobmanager"),
        .cluster_dir = args.Get("--dir"),
        .env = std::getenv("SLUICE_JOBMANAGER"),
        .config = &invocation.config,
    });
    if (!jobmanager.ok())
      return UsageError(args.command, std::string(jobmanager.status().message()));
    invocation.jobmanager = *std::move(jobmanager);
  }

  auto it = Commands().find(args.command);
  if (it == Commands().end())
    return UsageError("", absl::StrCat("unknown command '", args.command, "'"));
  return it->second(invocation);
}

}  // namespace
}  // namespace sluice::cli

int main(int argc, char** argv) { return sluice::cli::Main(argc, argv); }
