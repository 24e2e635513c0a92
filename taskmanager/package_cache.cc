#include "taskmanager/package_cache.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/util/sha256.h"

namespace sluice::taskmanager {

PackageCache::PackageCache(std::string dir, proto::JobManagerService::Stub* jobmanager)
    : dir_(std::move(dir)), jobmanager_(jobmanager) {}

absl::Status PackageCache::Fetch(const std::string& sha256, const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(dir_ + "/packages", ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir_, ": ", ec.message()));
  std::string tmp = absl::StrCat(dir_, "/packages/.", NewId(), ".part");
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  auto ctx = ContextWithDeadline(std::chrono::seconds(120));
  proto::FetchPackageRequest req;
  req.set_sha256(sha256);
  auto reader = jobmanager_->FetchPackage(ctx.get(), req);
  proto::PackageChunk chunk;
  Sha256 hash;
  bool write_ok = true;
  while (reader->Read(&chunk)) {
    hash.Update(chunk.data().data(), chunk.data().size());
    write_ok &= std::fwrite(chunk.data().data(), 1, chunk.data().size(), f) == chunk.data().size();
  }
  absl::Status s = FromGrpc(reader->Finish());
  write_ok &= std::fclose(f) == 0;
  if (s.ok() && !write_ok) s = absl::InternalError("writing the package to the cache failed");
  if (s.ok() && hash.HexDigest() != sha256) s = absl::DataLossError("fetched package is corrupt");
  if (!s.ok()) {
    std::filesystem::remove(tmp, ec);
    return absl::Status(s.code(), absl::StrCat("fetching package ", sha256, ": ", s.message()));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot store package: ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<LoadedPackage*> PackageCache::Package(const std::string& sha256) {
  auto it = packages_.find(sha256);
  if (it != packages_.end()) return it->second.get();
  for (char c : sha256) {
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return absl::InvalidArgumentError("bad hash");
  }
  std::string path = absl::StrCat(dir_, "/packages/", sha256, ".so");
  bool cached = false;
  if (std::filesystem::exists(path)) {
    auto digest = Sha256File(path);
    cached = digest.ok() && *digest == sha256;
  }
  if (!cached) {
    absl::Status s = Fetch(sha256, path);
    if (!s.ok()) return s;
    log::Get("taskmanager")->info("fetched package {} from the JobManager", sha256);
  }
  auto loaded = LoadedPackage::Open(path);
  if (!loaded.ok()) return loaded.status();
  LoadedPackage* raw = loaded->get();
  packages_[sha256] = *std::move(loaded);
  return raw;
}

absl::StatusOr<std::shared_ptr<const StreamEnvironment>> PackageCache::Environment(
    const proto::TaskDeployment& d) {
  absl::MutexLock lock(&mu_);
  auto it = environments_.find(d.job_id());
  if (it != environments_.end()) return it->second;
  auto package = Package(d.package_sha256());
  if (!package.ok()) return package.status();
  std::map<std::string, std::string> args(d.args().begin(), d.args().end());
  auto env = (*package)->Build(args, d.default_parallelism());
  if (!env.ok()) return env.status();
  std::shared_ptr<const StreamEnvironment> shared = *std::move(env);
  environments_[d.job_id()] = shared;
  return shared;
}

void PackageCache::ReleaseJob(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  environments_.erase(job_id);
}

}  // namespace sluice::taskmanager
