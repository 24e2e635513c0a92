// Loading job packages: dlopen a `.so`, check its ABI version and entry point, run its builder.
// Used by the graph-builder helper process (for the JobManager) and by TaskManagers. Running a
// builder runs user code: the JobManager never calls this in its own process.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "sluice/environment.h"
#include "sluice_proto/graph.pb.h"

namespace sluice {

//! A loaded package. Packages are never unloaded (operators' code lives in them); load each once.
class LoadedPackage {
 public:
  //! Fails with a clear message when the file is not a shared library, has no entry point, or was
  //! built against another SDK ABI version.
  static absl::StatusOr<std::unique_ptr<LoadedPackage>> Open(const std::string& path);

  //! Runs the builder and finalizes the graph. A builder that throws becomes an error status.
  //! `default_max_parallelism` > 0 is the max parallelism of operators that set none (and of a
  //! job that sets none; pipeline.max-parallelism).
  absl::StatusOr<std::unique_ptr<StreamEnvironment>> Build(
      const std::map<std::string, std::string>& args, int default_parallelism,
      int default_max_parallelism = 0) const;

 private:
  using BuildFn = void (*)(StreamEnvironment*);
  LoadedPackage(std::string path, BuildFn build) : path_(std::move(path)), build_(build) {}
  std::string path_;
  BuildFn build_;
};

//! The job graph of a finalized environment, as sent to the JobManager.
proto::JobGraph ToJobGraph(const StreamEnvironment& env, const std::string& fallback_name);

}  // namespace sluice
