#include "jobmanager/graph_builder.h"

#include <signal.h>
#include <string.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/process.h"

namespace sluice::jobmanager {

absl::StatusOr<proto::JobGraph> BuildJobGraph(const std::string& package_path,
                                              const std::map<std::string, std::string>& args,
                                              int default_parallelism, int default_max_parallelism,
                                              std::chrono::milliseconds timeout) {
  absl::StatusOr<std::string> bin_dir = ExecutableDirectory();
  if (!bin_dir.ok()) return bin_dir.status();
  std::vector<std::string> argv = {*bin_dir + "/sluice-graph-builder", package_path,
                                   std::to_string(default_parallelism),
                                   std::to_string(default_max_parallelism)};
  for (const auto& [k, v] : args) argv.push_back(absl::StrCat(k, "=", v));
  auto result = RunProcess(argv, timeout);
  if (!result.ok()) return result.status();
  // The builder names the stored blob's path; the user knows it as "the package".
  std::string err = absl::StrReplaceAll(absl::StripAsciiWhitespace(result->err),
                                        {{package_path + ": ", ""}, {package_path, "the package"}});
  if (result->timed_out) {
    return absl::InvalidArgumentError(
        absl::StrCat("the job's builder did not finish within ", timeout.count(), " ms"));
  }
  if (result->term_signal != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the job's builder crashed (signal ", result->term_signal, ", ",
                     strsignal(result->term_signal), ")", err.empty() ? "" : ": ", err));
  }
  if (result->exit_code != 0) {
    return absl::InvalidArgumentError(err.empty() ? "the job's builder failed" : err);
  }
  proto::JobGraph graph;
  if (!graph.ParseFromString(result->out)) {
    return absl::InternalError("the graph builder returned a malformed job graph");
  }
  return graph;
}

}  // namespace sluice::jobmanager
