#ifndef SLUICE_CLI_DISCOVERY_H_
#define SLUICE_CLI_DISCOVERY_H_

// How the CLI finds the JobManager it talks to, first match wins:
//   1. --jobmanager HOST:PORT
//   2. --dir DIR: the address the JobManager of `sluice cluster start --dir DIR` wrote to
//      DIR/jobmanager.address
//   3. the environment variable SLUICE_JOBMANAGER (HOST:PORT)
//   4. jobmanager.rpc.address and jobmanager.rpc.port of the configuration (--config FILE, else
//      SLUICE_CONF_DIR, else conf/sluice.yaml beside bin/; see config::FindConfigFile)
// Options on the command line win over the environment, which wins over files.

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/config/config.h"

namespace sluice::cli {

//! "HOST:PORT" with a non-empty host and a port in 1..65535 ("[::1]:6123" for IPv6).
bool IsHostPort(std::string_view text);

struct JobManagerSources {
  std::optional<std::string> flag = {};         //!< --jobmanager
  std::optional<std::string> cluster_dir = {};  //!< --dir
  const char* env = nullptr;                    //!< getenv("SLUICE_JOBMANAGER")
  const config::Configuration* config = nullptr;
};

//! The JobManager's HOST:PORT, or InvalidArgument saying what was wrong and the ways to say it.
absl::StatusOr<std::string> FindJobManager(const JobManagerSources& sources);

}  // namespace sluice::cli

#endif  // SLUICE_CLI_DISCOVERY_H_
