// Builds a job graph from a package by running `sluice-graph-builder` in a short-lived child
// process, so that a builder that throws, crashes or hangs cannot take the JobManager down.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "sluice_proto/graph.pb.h"

namespace sluice::jobmanager {

absl::StatusOr<proto::JobGraph> BuildJobGraph(const std::string& package_path,
                                              const std::map<std::string, std::string>& args,
                                              int default_parallelism, int default_max_parallelism,
                                              std::chrono::milliseconds timeout);

}  // namespace sluice::jobmanager
