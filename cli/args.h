#ifndef SLUICE_CLI_ARGS_H_
#define SLUICE_CLI_ARGS_H_

// A small command-line parser for the `sluice` client: one table of options (each with a fixed
// arity, so options may appear before, between or after the command words), a table of commands
// (one or two words, e.g. "list" or "cluster start") with the options each accepts, and
// did-you-mean suggestions for typos. Pure functions; no I/O.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace sluice::cli {

//! One option, written `--name VALUE`, `--name=VALUE` or, for flags, `--name`.
struct OptionSpec {
  std::string name = {};        //!< With its dashes, e.g. "--parallelism".
  std::string value_name = {};  //!< e.g. "N"; empty for a flag.
  bool repeatable = false;
  std::string help = {};
};

//! One command: its words, positional arguments and the options it accepts.
struct CommandSpec {
  std::string name = {};                      //!< "list", "cluster start", ...
  std::vector<std::string> positionals = {};  //!< Names of the required positional arguments.
  int optional_positionals = 0;           //!< Further positionals allowed after the required ones.
  std::vector<std::string> options = {};  //!< Allowed option names (global options are implicit).
  std::vector<std::string> required_options = {};
  std::string summary = {};  //!< One line for the command overview.
  //! Option name -> this command's own help text of the option, where it differs from the
  //! option's general one.
  std::map<std::string, std::string> option_help = {};
};

//! Everything the parser needs to know. Global options are accepted by every command.
//! `-D key=value` / `-Dkey=value`, `--help`, `-h` and `--version` are built in.
struct CliSpec {
  std::string program;  //!< "sluice", used in messages.
  std::vector<OptionSpec> options;
  std::vector<std::string> global_options;
  std::vector<CommandSpec> commands;
};

//! The result of parsing. `command` is set as soon as it is known, even when parsing fails, so
//! that the caller can print the usage of that command.
struct ParsedArgs {
  std::string command;
  std::vector<std::string> positionals;
  //! Option name -> values in order of appearance ("" for each occurrence of a flag).
  std::map<std::string, std::vector<std::string>, std::less<>> options;
  std::vector<std::string> defines;  //!< "key=value" from every -D, in order.
  bool help = false;                 //!< `--help` / `-h` was given.
  bool version = false;              //!< `--version` was given.

  bool Has(std::string_view option) const;
  //! The last value of `option`, if given.
  std::optional<std::string> Get(std::string_view option) const;
  //! Every value of `option` (empty if not given).
  std::vector<std::string> GetAll(std::string_view option) const;
};

//! Parses `args` (without the program name) against `spec`. Returns InvalidArgument with a
//! message suitable for the user (no "program:" prefix) on unknown commands or options,
//! missing values, repeated non-repeatable options and wrong numbers of arguments. When help
//! was requested, missing arguments are not an error.
absl::Status ParseArgs(const CliSpec& spec, const std::vector<std::string>& args, ParsedArgs* out);

//! Finds the command named `name` in `spec`, or nullptr.
const CommandSpec* FindCommand(const CliSpec& spec, std::string_view name);

//! The candidate closest to `typed` if it is close enough to be a likely typo (or `typed` is a
//! prefix of exactly one candidate), else "".
std::string Suggest(std::string_view typed, const std::vector<std::string>& candidates);

}  // namespace sluice::cli

#endif  // SLUICE_CLI_ARGS_H_
