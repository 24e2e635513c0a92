// PackageCache: job packages fetched from the JobManager by content hash, verified, kept under
// `taskmanager.cache.directory`, loaded once; and the job graph environments built from them, one
// per job, shared by that job's tasks on this TaskManager. Thread-safe (one mutex; fetches are
// rare).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/package/package.h"
#include "sluice_proto/cluster.grpc.pb.h"

namespace sluice::taskmanager {

class PackageCache {
 public:
  PackageCache(std::string dir, proto::JobManagerService::Stub* jobmanager);

  //! The finalized environment of a job, built on first use from its package and arguments.
  absl::StatusOr<std::shared_ptr<const StreamEnvironment>> Environment(
      const proto::TaskDeployment& deployment);
  void ReleaseJob(const std::string& job_id);

 private:
  absl::StatusOr<LoadedPackage*> Package(const std::string& sha256)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Fetch(const std::string& sha256, const std::string& path);

  std::string dir_;
  proto::JobManagerService::Stub* jobmanager_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<LoadedPackage>> packages_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<const StreamEnvironment>> environments_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::taskmanager
