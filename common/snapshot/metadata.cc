#include "common/snapshot/metadata.h"

#include <algorithm>
#include <climits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/snapshot/crc32.h"
#include "common/snapshot/parallel.h"

namespace sluice::snapshot {
namespace {

// Header: [8-byte magic][u32 format version][u64 payload length][u32 crc32 of payload], all
// little endian, then the payload (a serialized proto::CheckpointMetadata).
constexpr std::string_view kMagic = "SLUICEMD";
constexpr size_t kVersionOffset = 8;
constexpr size_t kLengthOffset = 12;  // Also the end of the version.
constexpr size_t kCrcOffset = 20;
constexpr size_t kHeaderSize = 24;

template <typename T>
void PutLittleEndian(std::string* out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

template <typename T>
T GetLittleEndian(std::string_view bytes, size_t offset) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<uint8_t>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

std::string FullPath(const SnapshotStorage& storage, std::string_view path) {
  return absl::StrFormat("%s/%s", storage.root(), path);
}

absl::Status TruncatedHeader(std::string_view file, const std::string& where) {
  return absl::DataLossError(absl::StrFormat(
      "checkpoint metadata %s is truncated: %d bytes, shorter than the %d-byte header", where,
      file.size(), kHeaderSize));
}

//! Checks the magic, then the format version (first: a newer format may change the rest of the
//! header), then that the header is whole.
absl::Status CheckHeader(std::string_view file, const std::string& where) {
  if (!file.starts_with(kMagic.substr(0, std::min(file.size(), kMagic.size())))) {
    return absl::DataLossError(absl::StrFormat(
        "checkpoint metadata %s is damaged: it does not start with the magic '%s' (not a Sluice "
        "metadata file?)",
        where, kMagic));
  }
  if (file.size() < kLengthOffset) return TruncatedHeader(file, where);
  const uint32_t version = GetLittleEndian<uint32_t>(file, kVersionOffset);
  if (version != kMetadataFormatVersion) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "checkpoint metadata %s was written by format version %d; this build reads %d", where,
        version, kMetadataFormatVersion));
  }
  if (file.size() < kHeaderSize) return TruncatedHeader(file, where);
  return absl::OkStatus();
}

//! Checks the payload of a file with a valid header against the header's length and crc32.
absl::StatusOr<std::string_view> CheckPayload(std::string_view file, const std::string& where) {
  const uint64_t length = GetLittleEndian<uint64_t>(file, kLengthOffset);
  const std::string_view payload = file.substr(kHeaderSize);
  if (length != payload.size()) {
    return absl::DataLossError(absl::StrFormat(
        "checkpoint metadata %s is %s: the header announces %d payload bytes, the file holds %d",
        where, length > payload.size() ? "truncated" : "damaged (trailing bytes)", length,
        payload.size()));
  }
  const uint32_t crc = GetLittleEndian<uint32_t>(file, kCrcOffset);
  if (const uint32_t actual = Crc32(payload); actual != crc) {
    return absl::DataLossError(absl::StrFormat(
        "checkpoint metadata %s is damaged: payload crc32 is 0x%08x, the header says 0x%08x", where,
        actual, crc));
  }
  return payload;
}

}  // namespace

std::string CheckpointFolder(int64_t id) { return absl::StrCat("chk-", id); }

std::string MetadataPath(int64_t id) {
  return absl::StrCat(CheckpointFolder(id), "/", kMetadataFileName);
}

absl::Status WriteMetadata(SnapshotStorage& storage, std::string_view path,
                           const proto::CheckpointMetadata& metadata) {
  std::string payload;
  bool serialized;
  if (metadata.format_version() == kMetadataFormatVersion) {
    serialized = metadata.SerializeToString(&payload);
  } else {
    proto::CheckpointMetadata stamped = metadata;
    stamped.set_format_version(kMetadataFormatVersion);
    serialized = stamped.SerializeToString(&payload);
  }
  if (!serialized) {
    return absl::InternalError(
        absl::StrCat("cannot serialize checkpoint metadata for ", FullPath(storage, path)));
  }
  std::string file;
  file.reserve(kHeaderSize + payload.size());
  file.append(kMagic);
  PutLittleEndian<uint32_t>(&file, kMetadataFormatVersion);
  PutLittleEndian<uint64_t>(&file, payload.size());
  PutLittleEndian<uint32_t>(&file, Crc32(payload));
  file.append(payload);
  return storage.WriteFile(path, file).status();
}

absl::StatusOr<proto::CheckpointMetadata> ReadMetadata(SnapshotStorage& storage,
                                                       std::string_view path) {
  const std::string where = FullPath(storage, path);
  absl::StatusOr<std::string> file = storage.ReadFile(path);
  if (absl::IsNotFound(file.status())) {
    return absl::NotFoundError(absl::StrCat("no checkpoint metadata at ", where));
  }
  if (!file.ok()) return file.status();
  if (absl::Status s = CheckHeader(*file, where); !s.ok()) return s;
  absl::StatusOr<std::string_view> payload = CheckPayload(*file, where);
  if (!payload.ok()) return payload.status();
  if (payload->size() > INT_MAX) {
    return absl::DataLossError(
        absl::StrCat("checkpoint metadata ", where, " is damaged: its payload exceeds 2 GiB"));
  }
  proto::CheckpointMetadata metadata;
  if (!metadata.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
    return absl::DataLossError(absl::StrCat(
        "checkpoint metadata ", where, " is damaged: its payload is not a CheckpointMetadata"));
  }
  return metadata;
}

std::vector<proto::StateFile> SnapshotFiles(const proto::CheckpointMetadata& snapshot) {
  std::vector<proto::StateFile> files;
  std::set<std::string> seen;
  for (const proto::OperatorSnapshot& op : snapshot.operators()) {
    for (const proto::OperatorSubtaskState& st : op.subtasks()) {
      for (const proto::KeyedStateHandle& h : st.keyed()) {
        ForEachStateFile(h, [&](const proto::StateFile& f) {
          if (seen.insert(f.path()).second) files.push_back(f);
        });
      }
    }
  }
  return files;
}

absl::Status VerifySnapshotFiles(SnapshotStorage& storage,
                                 const proto::CheckpointMetadata& snapshot, bool checksums) {
  // Several at once: on S3 each check is a request (HEAD, or GET with checksums).
  constexpr int kParallelChecks = 8;
  const std::vector<proto::StateFile> files = SnapshotFiles(snapshot);
  std::vector<absl::Status> results(files.size());
  (void)ForEachParallel(files.size(), kParallelChecks, [&](size_t i) {
    results[i] = storage.Verify(files[i], checksums);
    return absl::OkStatus();
  });
  absl::Status first;
  int damaged = 0;
  for (const absl::Status& s : results) {
    if (s.ok()) continue;
    if (!IsDamage(s)) return s;  // cannot tell (an I/O error): not damage
    if (damaged++ == 0) first = s;
  }
  if (damaged <= 1) return first;
  return absl::Status(
      first.code(), absl::StrCat(first.message(), " (and ", damaged - 1, " more damaged file(s))"));
}

}  // namespace sluice::snapshot
