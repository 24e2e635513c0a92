// BlobStore: job packages stored by content hash under `blob.storage.directory`. Uploads land in a
// temporary file under names the server derives, are checked against their declared SHA-256 and
// renamed into place; nothing a client sends is used as a path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/util/sha256.h"

namespace sluice::jobmanager {

class BlobStore {
 public:
  explicit BlobStore(std::string dir);
  absl::Status Init();

  //! One upload in progress. Commit verifies the hash and publishes the package.
  class Upload {
   public:
    ~Upload();
    absl::Status Append(const std::string& chunk);
    //! Returns the content hash (hex) on success.
    absl::StatusOr<std::string> Commit(const std::string& expected_sha256, uint64_t expected_size);

   private:
    friend class BlobStore;
    Upload(std::string tmp_path, std::string final_dir, uint64_t max_size);
    std::string tmp_path_;
    std::string final_dir_;
    uint64_t max_size_;
    uint64_t size_ = 0;
    std::FILE* file_ = nullptr;
    Sha256 hash_;
    bool committed_ = false;
  };

  absl::StatusOr<std::unique_ptr<Upload>> StartUpload();
  //! Path of a stored package; NotFound for an unknown or malformed hash.
  absl::StatusOr<std::string> PathOf(const std::string& sha256) const;
  //! Removes a stored package; NotFound when there is none.
  absl::Status Remove(const std::string& sha256);

 private:
  std::string dir_;
};

}  // namespace sluice::jobmanager
