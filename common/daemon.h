// What every daemon's main does: parse `[--config FILE] [-D key=value]... [--help]`, load and
// validate the configuration, set up logging and signals, and wait for SIGTERM/SIGINT.
#pragma once

#include <optional>
#include <string>

#include "common/config/config.h"

namespace sluice {

//! The configuration from the command line, or nullopt after printing help (exit_code 0) or an
//! error naming the daemon (exit_code 2). Also sets the log level and ignores SIGPIPE.
std::optional<config::Configuration> LoadDaemonConfig(const std::string& daemon, int argc,
                                                      char** argv, int* exit_code);

//! Blocks until SIGTERM or SIGINT.
void WaitForTerminationSignal();

//! Prints "<daemon>: <message>" to stderr and returns 2.
int DaemonFailure(const std::string& daemon, const std::string& message);

}  // namespace sluice
