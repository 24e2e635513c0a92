// Packages uploaded through the REST API (`POST /jars/upload`, Flink's "jars"). The package itself
// goes into the BlobStore under its content hash, like one `sluice run` submits; the jar store only
// keeps, per upload, the name the client gave (shown, never used as a path) and when it came, as
// `<web.upload.dir>/<sha256>.json`. A jar id is "<sha256>.so". Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "jobmanager/blob_store.h"

namespace sluice::jobmanager::rest {

struct JarInfo {
  std::string id;  // "<sha256>.so"
  std::string sha256;
  std::string name;  // the client's file name, made printable and short
  int64_t uploaded_ms = 0;
};

class JarStore {
 public:
  JarStore(std::string dir, BlobStore* blobs) : dir_(std::move(dir)), blobs_(blobs) {}
  absl::Status Init();

  //! Stores `content` if it is a job package (an ELF shared object); InvalidArgument otherwise.
  absl::StatusOr<JarInfo> Upload(const std::string& client_file_name, const std::string& content);
  //! Every upload, newest first.
  std::vector<JarInfo> List();
  //! The upload with this id; NotFound for an unknown or malformed id.
  absl::StatusOr<JarInfo> Find(const std::string& jar_id);
  //! Forgets the upload; `remove_package` also removes the package from the BlobStore (the caller
  //! knows no job needs it to restart).
  absl::Status Delete(const std::string& jar_id, bool remove_package);
  //! Where the BlobStore keeps the package.
  absl::StatusOr<std::string> PackagePath(const JarInfo& jar) const;

  //! The hash of a jar id ("<64 hex>.so" or "<64 hex>"); InvalidArgument otherwise.
  static absl::StatusOr<std::string> ShaOf(const std::string& jar_id);
  //! The client's file name as shown: its last path component, printable ASCII, at most 128 bytes.
  static std::string DisplayName(const std::string& client_file_name);

 private:
  absl::StatusOr<JarInfo> Read(const std::string& sha256);

  const std::string dir_;
  BlobStore* const blobs_;
  absl::Mutex mu_;  // one upload, delete or listing at a time
};

}  // namespace sluice::jobmanager::rest
