// The `_metadata` file of a checkpoint or savepoint: a small header (magic, format version,
// payload length, crc32) followed by a serialized proto::CheckpointMetadata. Written last, by the
// checkpoint coordinator, once every task has acknowledged; its presence completes a checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/snapshot/storage.h"
#include "sluice_proto/checkpoint.pb.h"

namespace sluice::snapshot {

//! The version of the `_metadata` format this build writes and reads.
constexpr uint32_t kMetadataFormatVersion = 1;
//! Name of the metadata file inside a checkpoint or savepoint folder.
constexpr char kMetadataFileName[] = "_metadata";
//! Folder (relative to a job's snapshot base folder) of files shared by several checkpoints.
constexpr char kSharedFolder[] = "shared";

//! The folder of checkpoint `id` relative to the job's base folder: "chk-<id>".
std::string CheckpointFolder(int64_t id);
//! The metadata file of checkpoint `id` relative to the job's base folder: "chk-<id>/_metadata".
std::string MetadataPath(int64_t id);

//! Writes `metadata` to `path` (durably, atomically). The header's format version is
//! kMetadataFormatVersion, and so is the proto's `format_version` field whatever `metadata` says.
absl::Status WriteMetadata(SnapshotStorage& storage, std::string_view path,
                           const proto::CheckpointMetadata& metadata);

//! Reads and verifies the metadata at `path`. NotFound when there is no file, DataLoss when it
//! is damaged (bad magic, truncated, bad length or crc32, unparsable), FailedPrecondition when
//! another format version wrote it. Other storage errors are passed through.
absl::StatusOr<proto::CheckpointMetadata> ReadMetadata(SnapshotStorage& storage,
                                                       std::string_view path);

//! Calls fn(const proto::StateFile&) for every file a keyed state handle names.
template <typename F>
void ForEachStateFile(const proto::KeyedStateHandle& handle, F&& fn) {
  if (handle.has_key_groups()) fn(handle.key_groups().file());
  for (const auto& f : handle.rocksdb().private_files()) fn(f.file());
  for (const auto& f : handle.rocksdb().shared_files()) fn(f.file());
}

//! Every file `snapshot` names, each once (a shared file may be named by several subtasks and
//! operators), in the order first named.
std::vector<proto::StateFile> SnapshotFiles(const proto::CheckpointMetadata& snapshot);

//! Checks every file of `snapshot` in `storage` (rooted at the folder its paths are relative to)
//! with SnapshotStorage::Verify: existence, regular file, size and, with `checksums`, crc32. The
//! first error, naming its file and how many more are damaged; NotFound or DataLoss for damage.
absl::Status VerifySnapshotFiles(SnapshotStorage& storage,
                                 const proto::CheckpointMetadata& snapshot, bool checksums);

//! Whether a restore failed because the snapshot is damaged (a file missing, truncated, of
//! another checksum, a symbolic link; metadata unreadable): retrying cannot heal it.
inline bool IsDamage(const absl::Status& status) {
  return absl::IsNotFound(status) || absl::IsDataLoss(status);
}

//! Bytes of every file a subtask's state names (shared files included).
inline uint64_t FileBytes(const proto::OperatorSubtaskState& state) {
  uint64_t bytes = 0;
  for (const auto& h : state.keyed()) {
    ForEachStateFile(h, [&bytes](const proto::StateFile& f) { bytes += f.size(); });
  }
  return bytes;
}

}  // namespace sluice::snapshot
