// SnapshotStorage: where checkpoint and savepoint files go. Behind an interface so that an
// S3-compatible store can follow the shared file system. Every path is relative to the storage's
// root and is checked: no absolute paths, no "..", no empty components. Methods are thread-safe
// (uploads run on I/O threads).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "sluice_proto/checkpoint.pb.h"

namespace sluice::snapshot {

class SnapshotStorage {
 public:
  virtual ~SnapshotStorage() = default;

  //! The root as an absolute local path (file system storage) or URI.
  virtual const std::string& root() const = 0;
  //! Writes `bytes` to `path` durably and atomically (temporary file, fsync, rename); parent
  //! folders are created. Returns the file's handle (size, crc32).
  virtual absl::StatusOr<proto::StateFile> WriteFile(std::string_view path,
                                                     std::string_view bytes) = 0;
  //! Copies a local file to `path` (durably, atomically).
  virtual absl::StatusOr<proto::StateFile> UploadFile(const std::string& local_path,
                                                      std::string_view path) = 0;
  //! Uploads several local files (local path, path), as UploadFile each, `parallelism` at once.
  //! Returns the handles in the order given; after an error some may be stored.
  absl::StatusOr<std::vector<proto::StateFile>> UploadFiles(
      const std::vector<std::pair<std::string, std::string>>& files, int parallelism);
  //! Downloads several files (handle, local path), as DownloadFile each, `parallelism` at once.
  //! The first error is returned, naming the file.
  absl::Status DownloadFiles(const std::vector<std::pair<proto::StateFile, std::string>>& files,
                             int parallelism);
  //! Reads a whole file; verifies size and crc32 when `expected` is given (DataLoss on mismatch).
  //! Reads refuse symbolic links (DataLoss): a snapshot's files are regular files.
  virtual absl::StatusOr<std::string> ReadFile(std::string_view path,
                                               const proto::StateFile* expected = nullptr) = 0;
  //! Reads `length` bytes of `file` from `offset`, after checking that the stored file has the
  //! size its handle records (DataLoss otherwise). The bytes are not checked against the handle's
  //! crc32, which covers the whole file: the caller checks them. By default the whole file is
  //! read and checked, and the range cut out of it.
  virtual absl::StatusOr<std::string> ReadFileRange(const proto::StateFile& file, uint64_t offset,
                                                    uint64_t length);
  //! Copies `file` to a local path, verifying size and crc32.
  virtual absl::Status DownloadFile(const proto::StateFile& file,
                                    const std::string& local_path) = 0;
  //! Checks a stored file against its handle, trusting nothing that is there: it must be a regular
  //! file (a symbolic link is refused) of the recorded size and, with `checksum`, of the recorded
  //! crc32 (which reads it whole). NotFound when it is missing, DataLoss naming the file when it
  //! is damaged, other errors when it cannot be read.
  virtual absl::Status Verify(const proto::StateFile& file, bool checksum) = 0;
  //! Removes a file or a folder with everything in it; OK when it does not exist.
  virtual absl::Status Delete(std::string_view path) = 0;
  //! Whether a file or folder exists at `path`; false for an unsafe path.
  virtual bool Exists(std::string_view path) = 0;
  //! Names of the entries of a folder (not recursive), sorted; empty when it does not exist.
  //! Temporary files of writes in progress (`.<name>.tmp-<random>`) are not listed.
  virtual absl::StatusOr<std::vector<std::string>> List(std::string_view dir) = 0;
  //! Removes the folders under the root that hold no file, and the root itself if nothing is left
  //! in it (a job that retained nothing leaves no folder behind). Best effort: a folder written to
  //! meanwhile stays.
  virtual void RemoveEmptyFolders() = 0;
};

struct S3Options;

//! Storage rooted at `uri`: "file:///abs/path" or "/abs/path" (created when missing), or
//! "s3://bucket/prefix" with this process's S3 options (DefaultS3Options in s3_client.h; nothing
//! is asked of the server yet). InvalidArgument for other schemes or relative paths.
absl::StatusOr<std::unique_ptr<SnapshotStorage>> OpenStorage(const std::string& uri);

//! S3 storage rooted at "s3://bucket/prefix" with the given options.
absl::StatusOr<std::unique_ptr<SnapshotStorage>> OpenS3Storage(const std::string& uri,
                                                               const S3Options& options);

//! Whether `uri` names S3 storage ("s3://...").
bool IsS3Uri(std::string_view uri);

//! Copies `file` of `source` to the same path in `target`; returns the copy's handle.
absl::StatusOr<proto::StateFile> CopyStateFile(SnapshotStorage& source,
                                               const proto::StateFile& file,
                                               SnapshotStorage& target);

//! DataLoss naming `what` (the file) when `size` and `crc` are not those `expected` records.
absl::Status CheckStateFile(const std::string& what, uint64_t size, uint32_t crc,
                            const proto::StateFile& expected);

//! Whether `path` is a safe relative path (no absolute, "..", "." or empty components).
bool IsSafeRelativePath(std::string_view path);

}  // namespace sluice::snapshot
