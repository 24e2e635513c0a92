// What every daemon's main does: parse `[--config FILE] [-D key=value]... [--help]`, load and
// validate the configuration, set up logging and signals, and wait for SIGTERM/SIGINT.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/config/config.h"

namespace sluice {

//! The configuration from the command line, or nullopt after printing help (exit_code 0) or an
//! error naming the daemon (exit_code 2). Also sets the log level and ignores SIGPIPE.
std::optional<config::Configuration> LoadDaemonConfig(const std::string& daemon, int argc,
                                                      char** argv, int* exit_code);

//! The configuration file this process reads (config::FindConfigFile): `explicit_path` (--config),
//! else $SLUICE_CONF_DIR's, else conf/sluice.yaml beside the executable's bin/ when it exists.
//! Shared by the daemons and the CLI.
absl::StatusOr<std::string> ConfigFileOfThisProcess(const std::string& explicit_path);

//! Blocks until SIGTERM or SIGINT.
void WaitForTerminationSignal();

//! Prints "<daemon>: <message>" to stderr and returns 2.
int DaemonFailure(const std::string& daemon, const std::string& message);

}  // namespace sluice
