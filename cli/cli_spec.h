#ifndef SLUICE_CLI_CLI_SPEC_H_
#define SLUICE_CLI_CLI_SPEC_H_

// The commands and options of the `sluice` client, and the usage text built from them.

#include <string>
#include <string_view>

#include "cli/args.h"

namespace sluice::cli {

//! The table every `sluice` command line is parsed against.
const CliSpec& SluiceCli();

//! Usage text: the overview of every command when `command` is empty, the commands of a group
//! for "cluster", else the synopsis and options of one command.
std::string UsageText(std::string_view command);

//! One line: "Usage: sluice run PACKAGE [--parallelism N] ..." (the overview hint if unknown).
std::string UsageLine(std::string_view command);

}  // namespace sluice::cli

#endif  // SLUICE_CLI_CLI_SPEC_H_
