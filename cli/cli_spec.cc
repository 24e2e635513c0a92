#include "cli/cli_spec.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sluice::cli {
namespace {

CliSpec BuildSpec() {
  CliSpec spec;
  spec.program = "sluice";
  spec.options = {
      {.name = "--jobmanager",
       .value_name = "HOST:PORT",
       .help = "JobManager to talk to (else --dir, $SLUICE_JOBMANAGER, or the configuration's "
               "jobmanager.rpc.address and jobmanager.rpc.port)"},
      {.name = "--config",
       .value_name = "FILE",
       .help = "YAML configuration file (else $SLUICE_CONF_DIR/sluice.yaml, else "
               "conf/sluice.yaml next to the installation's bin/)"},
      {.name = "--dir",
       .value_name = "DIR",
       .help = "Folder of a cluster started with `sluice cluster start --dir DIR`: talk to its "
               "JobManager"},
      {.name = "--taskmanagers",
       .value_name = "N",
       .help = "Number of TaskManagers to start (default: 1)"},
      {.name = "--slots",
       .value_name = "S",
       .help = "Task slots per TaskManager (default: taskmanager.numberOfTaskSlots)"},
      {.name = "--parallelism",
       .value_name = "N",
       .help = "Default parallelism of the job (default: parallelism.default)"},
      {.name = "--name",
       .value_name = "NAME",
       .help = "Job name (default: the name the package gives its job)"},
      {.name = "--detached", .help = "Return once the job is submitted instead of following it"},
      {.name = "--arg",
       .value_name = "KEY=VALUE",
       .repeatable = true,
       .help = "Argument handed to the job's graph builder (repeatable)"},
      {.name = "--from-savepoint",
       .value_name = "PATH",
       .help = "Start the job from this savepoint or retained checkpoint (file:///abs, /abs or "
               "relative to here)"},
      {.name = "--restore",
       .value_name = "latest",
       .help = "Start the job from the newest savepoint or checkpoint of a job with its name"},
      {.name = "--allow-non-restored-state",
       .help = "Start even if the snapshot holds state of an operator the job no longer has"},
      {.name = "--target-directory",
       .value_name = "DIR",
       .help = "Where the savepoint goes (default: state.savepoints.dir)"},
      {.name = "--drain",
       .help = "Advance the watermark to the end of event time before the savepoint, so that "
               "event-time timers and windows fire"},
      {.name = "--follow", .help = "Keep printing lines as they are written (Ctrl-C ends)"},
      {.name = "--lines",
       .value_name = "N",
       .help = "Show the last N lines (default: 100; with --follow, then the new ones)"},
      {.name = "--json", .help = "Machine-readable JSON output"},
  };
  spec.global_options = {"--jobmanager", "--config"};
  const std::string kClusterDir = "The cluster's folder: pid files, logs, blobs and addresses";
  spec.commands = {
      {.name = "cluster start",
       .options = {"--dir", "--taskmanagers", "--slots"},
       .required_options = {"--dir"},
       .summary = "Start a JobManager and TaskManagers on this machine",
       .option_help = {{"--dir", kClusterDir}}},
      {.name = "cluster add-taskmanager",
       .options = {"--dir", "--slots"},
       .required_options = {"--dir"},
       .summary = "Start one more TaskManager for the cluster in DIR (or in place of a dead one)",
       .option_help = {{"--dir", kClusterDir}}},
      {.name = "cluster stop",
       .options = {"--dir"},
       .required_options = {"--dir"},
       .summary = "Stop the cluster started in DIR",
       .option_help = {{"--dir", kClusterDir}}},
      {.name = "run",
       .positionals = {"PACKAGE"},
       .options = {"--parallelism", "--name", "--detached", "--arg", "--from-savepoint",
                   "--restore", "--allow-non-restored-state", "--json", "--dir"},
       .summary = "Submit a job package and follow the job until it ends (unless --detached)"},
      {.name = "list", .options = {"--json", "--dir"}, .summary = "List the jobs"},
      {.name = "status",
       .positionals = {"JOB"},
       .options = {"--json", "--dir"},
       .summary = "Show a job's state (and why it restarts), vertices and subtasks"},
      {.name = "exceptions",
       .positionals = {"JOB"},
       .options = {"--json", "--dir"},
       .summary = "Show a job's failures, newest first: time, task, TaskManager and cause"},
      {.name = "watermarks",
       .positionals = {"JOB"},
       .options = {"--json", "--dir"},
       .summary = "Show each subtask's watermarks, what holds them back, idle inputs and lag"},
      {.name = "cancel",
       .positionals = {"JOB"},
       .options = {"--dir"},
       .summary = "Cancel a job and wait until it is CANCELED"},
      {.name = "taskmanagers",
       .options = {"--json", "--dir"},
       .summary = "List the registered TaskManagers: slots, network buffers, and each memory part "
                  "(budget, use, peak)"},
      {.name = "logs",
       .positionals = {"DAEMON"},
       .options = {"--follow", "--lines", "--dir"},
       .summary = "Show the log of the JobManager (DAEMON: jobmanager) or of a TaskManager (its "
                  "id, as `sluice taskmanagers` lists it)"},
      {.name = "checkpoints",
       .positionals = {"JOB"},
       .options = {"--json", "--dir"},
       .summary = "List a job's retained, in-progress and recent checkpoints"},
      {.name = "savepoint",
       .positionals = {"JOB"},
       .optional_positionals = 1,
       .options = {"--target-directory", "--json", "--dir"},
       .summary = "Take a savepoint of a running job and print its path (the folder may also be "
                  "given after JOB, as in Flink)"},
      {.name = "stop",
       .positionals = {"JOB"},
       .options = {"--target-directory", "--drain", "--json", "--dir"},
       .summary = "Stop a job with a savepoint, wait until it is FINISHED and print the path"},
      {.name = "rescale",
       .positionals = {"JOB"},
       .options = {"--parallelism", "--json", "--dir"},
       .required_options = {"--parallelism"},
       .summary = "Restart a job at another parallelism from a savepoint taken for it",
       .option_help = {{"--parallelism", "The job's new parallelism"}}},
      {.name = "version", .summary = "Print the version of this client"},
      {.name = "help",
       .optional_positionals = 2,
       .summary = "Show this help, or the help of one command"},
  };
  return spec;
}

const OptionSpec* Option(const CliSpec& spec, std::string_view name) {
  for (const OptionSpec& o : spec.options) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::string Synopsis(const CliSpec& spec, const CommandSpec& command) {
  std::string out = absl::StrCat(spec.program, " ", command.name);
  if (command.name == "help") return absl::StrCat(out, " [COMMAND]");
  for (const std::string& p : command.positionals) absl::StrAppend(&out, " ", p);
  if (command.name == "savepoint") absl::StrAppend(&out, " [TARGET_DIRECTORY]");
  for (const std::string& name : command.options) {
    const OptionSpec* o = Option(spec, name);
    std::string text = o->value_name.empty() ? name : absl::StrCat(name, " ", o->value_name);
    bool required = std::find(command.required_options.begin(), command.required_options.end(),
                              name) != command.required_options.end();
    absl::StrAppend(&out, " ", required ? text : absl::StrCat("[", text, "]"),
                    o->repeatable ? "..." : "");
  }
  return out;
}

void AppendOption(std::string* out, const std::string& left, const std::string& help) {
  std::string line = absl::StrCat("  ", left);
  line.resize(std::max<size_t>(line.size() + 2, 28), ' ');
  absl::StrAppend(out, line, help, "\n");
}

void AppendGlobalOptions(const CliSpec& spec, std::string* out) {
  absl::StrAppend(out, "\nGlobal options (accepted anywhere on the command line):\n");
  for (const std::string& name : spec.global_options) {
    const OptionSpec* o = Option(spec, name);
    AppendOption(out, absl::StrCat(name, " ", o->value_name), o->help);
  }
  AppendOption(out, "-D key=value", "Configuration override (repeatable; -Dkey=value works too)");
  AppendOption(out, "-h, --help", "Show help");
  AppendOption(out, "--version", "Print the version");
}

}  // namespace

const CliSpec& SluiceCli() {
  static const CliSpec* spec = new CliSpec(BuildSpec());
  return *spec;
}

std::string UsageLine(std::string_view command) {
  const CliSpec& spec = SluiceCli();
  if (const CommandSpec* c = FindCommand(spec, command); c != nullptr) {
    return absl::StrCat("Usage: ", Synopsis(spec, *c));
  }
  if (!command.empty()) {
    return absl::StrCat("Run '", spec.program, " help ", std::string(command), "' for usage.");
  }
  return absl::StrCat("Run '", spec.program, " help' for usage.");
}

std::string UsageText(std::string_view command) {
  const CliSpec& spec = SluiceCli();
  std::string out;
  if (const CommandSpec* c = FindCommand(spec, command); c != nullptr) {
    absl::StrAppend(&out, "Usage: ", Synopsis(spec, *c), "\n\n", c->summary, ".\n");
    if (!c->options.empty()) absl::StrAppend(&out, "\nOptions:\n");
    for (const std::string& name : c->options) {
      const OptionSpec* o = Option(spec, name);
      auto own = c->option_help.find(name);
      AppendOption(&out, o->value_name.empty() ? name : absl::StrCat(name, " ", o->value_name),
                   own != c->option_help.end() ? own->second : o->help);
    }
    AppendGlobalOptions(spec, &out);
    return out;
  }
  // The overview, or only the commands of a group ("cluster").
  absl::StrAppend(&out, "Usage: ", spec.program, " ", std::string(command),
                  command.empty() ? "" : " ", "<command> [options]\n\nCommands:\n");
  for (const CommandSpec& c : spec.commands) {
    if (!command.empty() && !absl::StartsWith(c.name, absl::StrCat(std::string(command), " ")))
      continue;
    absl::StrAppend(&out, "  ", Synopsis(spec, c), "\n      ", c.summary, ".\n");
  }
  AppendGlobalOptions(spec, &out);
  absl::StrAppend(&out, "\nRun '", spec.program,
                  " help <command>' for the options of one command. Exit status: 0 on success,\n"
                  "1 when the operation failed, 2 on a usage or configuration error.\n");
  return out;
}

}  // namespace sluice::cli
