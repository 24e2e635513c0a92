#include "cli/discovery.h"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace sluice::cli {
namespace {

constexpr char kWays[] =
    "give --jobmanager HOST:PORT, --dir CLUSTER_DIR, set SLUICE_JOBMANAGER=HOST:PORT, or set "
    "jobmanager.rpc.address and jobmanager.rpc.port in the configuration";

absl::StatusOr<std::string> FromClusterDir(const std::string& dir) {
  const std::filesystem::path file = std::filesystem::path(dir) / "jobmanager.address";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("--dir '", dir, "' is not a folder"));
  }
  std::ifstream in(file);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("no cluster in '", dir, "' (", file.string(),
                     " is missing): start one with `sluice cluster start --dir ", dir, "`"));
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string address(absl::StripAsciiWhitespace(text));
  if (!IsHostPort(address)) {
    return absl::InvalidArgumentError(
        absl::StrCat(file.string(), " holds '", address, "', not HOST:PORT"));
  }
  return address;
}

}  // namespace

bool IsHostPort(std::string_view text) {
  size_t colon = text.rfind(':');
  int port = 0;
  return colon != std::string_view::npos && colon > 0 &&
         absl::SimpleAtoi(std::string(text.substr(colon + 1)), &port) && port > 0 && port <= 65535;
}

absl::StatusOr<std::string> FindJobManager(const JobManagerSources& sources) {
  if (sources.flag) {
    if (!IsHostPort(*sources.flag)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--jobmanager expects HOST:PORT, got '", *sources.flag, "'"));
    }
    return *sources.flag;
  }
  if (sources.cluster_dir) return FromClusterDir(*sources.cluster_dir);
  if (sources.env != nullptr && *sources.env != '\0') {
    if (!IsHostPort(sources.env)) {
      return absl::InvalidArgumentError(
          absl::StrCat("SLUICE_JOBMANAGER expects HOST:PORT, got '", sources.env, "'"));
    }
    return std::string(sources.env);
  }
  std::string host = sources.config->GetString("jobmanager.rpc.address");
  int64_t port = sources.config->GetInt("jobmanager.rpc.port");
  if (port <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "jobmanager.rpc.port is 0 (a port the JobManager picks), so the configuration cannot "
        "say where it is: ",
        kWays));
  }
  if (host.find(':') != std::string::npos && host.front() != '[') {
    host = absl::StrCat("[", host, "]");  // IPv6 literal.
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace sluice::cli
