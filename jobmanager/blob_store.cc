#include "jobmanager/blob_store.h"

#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/ids.h"

namespace sluice::jobmanager {
namespace {

constexpr uint64_t kMaxPackageBytes = 1ull << 30;

bool IsHexDigest(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

BlobStore::BlobStore(std::string dir) : dir_(std::move(dir)) {}

absl::Status BlobStore::Init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_ + "/packages", ec);
  if (!ec) std::filesystem::create_directories(dir_ + "/incoming", ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create blob.storage.directory '", dir_, "': ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BlobStore::Upload>> BlobStore::StartUpload() {
  std::string tmp = absl::StrCat(dir_, "/incoming/", NewId(), ".part");
  auto upload = std::unique_ptr<Upload>(new Upload(tmp, dir_ + "/packages", kMaxPackageBytes));
  upload->file_ = std::fopen(tmp.c_str(), "wb");
  if (!upload->file_) {
    return absl::InternalError(absl::StrCat("cannot create upload file in ", dir_, "/incoming"));
  }
  return upload;
}

absl::StatusOr<std::string> BlobStore::PathOf(const std::string& sha256) const {
  if (!IsHexDigest(sha256)) return absl::InvalidArgumentError("malformed package hash");
  std::string path = absl::StrCat(dir_, "/packages/", sha256, ".so");
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat("no package with hash ", sha256));
  }
  return path;
}

absl::Status BlobStore::Remove(const std::string& sha256) {
  auto path = PathOf(sha256);
  if (!path.ok()) return path.status();
  std::error_code ec;
  if (!std::filesystem::remove(*path, ec)) {
    return absl::NotFoundError(absl::StrCat("no package ", sha256));
  }
  return absl::OkStatus();
}

BlobStore::Upload::Upload(std::string tmp_path, std::string final_dir, uint64_t max_size)
    : tmp_path_(std::move(tmp_path)), final_dir_(std::move(final_dir)), max_size_(max_size) {}

BlobStore::Upload::~Upload() {
  if (file_) std::fclose(file_);
  if (!committed_) {
    std::error_code ec;
    std::filesystem::remove(tmp_path_, ec);
  }
}

absl::Status BlobStore::Upload::Append(const std::string& chunk) {
  size_ += chunk.size();
  if (size_ > max_size_) {
    return absl::InvalidArgumentError(absl::StrCat("package larger than ", max_size_, " bytes"));
  }
  hash_.Update(chunk.data(), chunk.size());
  if (std::fwrite(chunk.data(), 1, chunk.size(), file_) != chunk.size()) {
    return absl::InternalError("writing the package to the blob store failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> BlobStore::Upload::Commit(const std::string& expected_sha256,
                                                      uint64_t expected_size) {
  if (std::fclose(file_) != 0) {
    file_ = nullptr;
    return absl::InternalError("writing the package to the blob store failed");
  }
  file_ = nullptr;
  if (size_ == 0) return absl::InvalidArgumentError("the package is empty");
  if (expected_size != 0 && expected_size != size_) {
    return absl::InvalidArgumentError(
        absl::StrCat("package upload incomplete: got ", size_, " of ", expected_size, " bytes"));
  }
  std::string digest = hash_.HexDigest();
  if (!expected_sha256.empty() && expected_sha256 != digest) {
    return absl::InvalidArgumentError("package checksum mismatch: the upload was corrupted");
  }
  std::string final_path = absl::StrCat(final_dir_, "/", digest, ".so");
  std::error_code ec;
  std::filesystem::rename(tmp_path_, final_path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot store package: ", ec.message()));
  committed_ = true;
  return digest;
}

}  // namespace sluice::jobmanager
