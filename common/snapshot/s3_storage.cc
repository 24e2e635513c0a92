// SnapshotStorage on S3 (or an S3-compatible server): the root "s3://bucket/prefix" maps a path
// "a/b" to the object "prefix/a/b". A PUT is atomic, so no temporary objects; folders are only
// key prefixes, so a folder exists while an object under it does, and deleting a folder deletes
// every object under it.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/ids.h"
#include "common/snapshot/crc32.h"
#include "common/snapshot/s3_client.h"
#include "common/snapshot/storage.h"

namespace sluice::snapshot {
namespace {

absl::Status UnsafePath(std::string_view path) {
  return absl::InvalidArgumentError(absl::StrFormat(
      "snapshot path '%s' is not a safe relative path (it must not start with '/' and must not "
      "contain '.', '..' or empty components)",
      path));
}

class S3Storage final : public SnapshotStorage {
 public:
  S3Storage(std::string root, S3Uri where, S3Options options)
      : root_(std::move(root)), where_(std::move(where)), client_(std::move(options)) {}

  const std::string& root() const override { return root_; }

  absl::StatusOr<proto::StateFile> WriteFile(std::string_view path,
                                             std::string_view bytes) override {
    if (!IsSafeRelativePath(path)) return UnsafePath(path);
    if (absl::Status s = client_.Put(where_.bucket, Key(path), bytes); !s.ok()) return s;
    return Handle(path, bytes.size(), Crc32(bytes));
  }

  absl::StatusOr<proto::StateFile> UploadFile(const std::string& local_path,
                                              std::string_view path) override {
    if (!IsSafeRelativePath(path)) return UnsafePath(path);
    absl::StatusOr<S3Client::Uploaded> up = client_.PutFile(where_.bucket, Key(path), local_path);
    if (!up.ok()) return up.status();
    return Handle(path, up->size, up->crc32);
  }

  absl::StatusOr<std::string> ReadFile(std::string_view path,
                                       const proto::StateFile* expected) override {
    if (!IsSafeRelativePath(path)) return UnsafePath(path);
    std::string bytes;
    if (expected != nullptr) bytes.reserve(expected->size());
    absl::Status s = client_.Get(
        where_.bucket, Key(path),
        [&bytes](std::string_view chunk) {
          bytes.append(chunk);
          return absl::OkStatus();
        },
        [&bytes] {
          bytes.clear();
          return absl::OkStatus();
        });
    if (!s.ok()) return Missing(s, path);
    if (expected != nullptr) {
      if (absl::Status m = CheckStateFile(Uri(path), bytes.size(), Crc32(bytes), *expected);
          !m.ok()) {
        return m;
      }
    }
    return bytes;
  }

  absl::Status DownloadFile(const proto::StateFile& file, const std::string& local_path) override {
    if (!IsSafeRelativePath(file.path())) return UnsafePath(file.path());
    const std::filesystem::path target(local_path);
    std::error_code ec;
    if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path(), ec);
    const std::string tmp = absl::StrCat(local_path, ".", NewShortId("download"));
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot create ", tmp));
    absl::Status s = GetChecked(
        file,
        [&](std::string_view chunk) {
          while (!chunk.empty()) {
            const ssize_t put = ::write(fd, chunk.data(), chunk.size());
            if (put < 0 && errno == EINTR) continue;
            if (put < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", tmp));
            chunk.remove_prefix(static_cast<size_t>(put));
          }
          return absl::OkStatus();
        },
        [&] {
          if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) {
            return absl::ErrnoToStatus(errno, absl::StrCat("cannot truncate ", tmp));
          }
          return absl::OkStatus();
        });
    if (::close(fd) != 0 && s.ok()) s = absl::ErrnoToStatus(errno, "cannot close " + tmp);
    if (s.ok() && ::rename(tmp.c_str(), local_path.c_str()) != 0) {
      s = absl::ErrnoToStatus(errno, absl::StrCat("cannot rename ", tmp, " to ", local_path));
    }
    if (!s.ok()) ::unlink(tmp.c_str());
    return s;
  }

  absl::Status Verify(const proto::StateFile& file, bool checksum) override {
    if (!IsSafeRelativePath(file.path())) return UnsafePath(file.path());
    if (!checksum) {
      absl::StatusOr<uint64_t> size = client_.Head(where_.bucket, Key(file.path()));
      if (!size.ok()) return Missing(size.status(), file.path());
      return CheckStateFile(Uri(file.path()), *size, file.crc32(), file);
    }
    return GetChecked(
        file, [](std::string_view) { return absl::OkStatus(); }, [] { return absl::OkStatus(); });
  }

  absl::Status Delete(std::string_view path) override {
    if (!IsSafeRelativePath(path)) return UnsafePath(path);
    const std::string key = Key(path);
    if (absl::Status s = client_.Delete(where_.bucket, key); !s.ok()) return s;
    absl::StatusOr<S3Client::Listing> under =
        client_.List(where_.bucket, key + "/", /*delimited=*/false);
    if (!under.ok()) return under.status();
    for (const std::string& k : under->keys) {
      if (absl::Status s = client_.Delete(where_.bucket, k); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  bool Exists(std::string_view path) override {
    if (!IsSafeRelativePath(path)) return false;
    if (client_.Head(where_.bucket, Key(path)).ok()) return true;
    absl::StatusOr<S3Client::Listing> under =
        client_.List(where_.bucket, Key(path) + "/", /*delimited=*/true, /*max_keys=*/1);
    return under.ok() && (!under->keys.empty() || !under->prefixes.empty());
  }

  absl::StatusOr<std::vector<std::string>> List(std::string_view dir) override {
    if (!dir.empty() && !IsSafeRelativePath(dir)) return UnsafePath(dir);
    const std::string prefix = dir.empty() ? Base() : Key(dir) + "/";
    absl::StatusOr<S3Client::Listing> got = client_.List(where_.bucket, prefix, /*delimited=*/true);
    if (!got.ok()) return got.status();
    std::set<std::string> names;
    for (const std::string& k : got->keys) {
      if (k.size() > prefix.size()) names.insert(k.substr(prefix.size()));
    }
    for (const std::string& p : got->prefixes) {
      if (p.size() > prefix.size() + 1)
        names.insert(p.substr(prefix.size(), p.size() - prefix.size() - 1));
    }
    return std::vector<std::string>(names.begin(), names.end());
  }

  //! S3 has no folders: nothing to remove.
  void RemoveEmptyFolders() override {}

 private:
  //! The key prefix of the root: "prefix/" or "" at the bucket's top.
  std::string Base() const { return where_.prefix.empty() ? "" : where_.prefix + "/"; }
  std::string Key(std::string_view path) const {
    return absl::StrCat(Base(), absl::string_view(path.data(), path.size()));
  }
  std::string Uri(std::string_view path) const {
    return absl::StrCat(root_, "/", absl::string_view(path.data(), path.size()));
  }

  //! Streams `file`'s object to `write` (`restart` before a retry sends it again), then checks
  //! its size and crc32 against the handle.
  absl::Status GetChecked(const proto::StateFile& file,
                          const std::function<absl::Status(std::string_view)>& write,
                          const std::function<absl::Status()>& restart) {
    uint64_t size = 0;
    uint32_t crc = 0;
    absl::Status s = client_.Get(
        where_.bucket, Key(file.path()),
        [&](std::string_view chunk) {
          size += chunk.size();
          crc = Crc32Extend(crc, chunk);
          return write(chunk);
        },
        [&] {
          size = 0;
          crc = 0;
          return restart();
        });
    if (!s.ok()) return Missing(s, file.path());
    return CheckStateFile(Uri(file.path()), size, crc, file);
  }

  //! NotFound of an object becomes "<uri> is missing", as the file storage says it.
  absl::Status Missing(const absl::Status& s, std::string_view path) const {
    if (!absl::IsNotFound(s) || IsMissingBucket(s)) return s;
    return absl::NotFoundError(absl::StrCat(Uri(path), " is missing"));
  }

  static proto::StateFile Handle(std::string_view path, uint64_t size, uint32_t crc) {
    proto::StateFile file;
    file.set_path(std::string(path));
    file.set_size(size);
    file.set_crc32(crc);
    return file;
  }

  const std::string root_;
  const S3Uri where_;
  S3Client client_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SnapshotStorage>> OpenS3Storage(const std::string& uri,
                                                               const S3Options& options) {
  absl::StatusOr<S3Uri> where = ParseS3Uri(uri);
  if (!where.ok()) return where.status();
  std::string root = absl::StrCat("s3://", where->bucket);
  if (!where->prefix.empty()) absl::StrAppend(&root, "/", where->prefix);
  return std::make_unique<S3Storage>(std::move(root), *std::move(where), options);
}

bool IsS3Uri(std::string_view uri) { return uri.starts_with("s3://"); }

absl::StatusOr<proto::StateFile> CopyStateFile(SnapshotStorage& source,
                                               const proto::StateFile& file,
                                               SnapshotStorage& target) {
  if (!IsS3Uri(source.root())) {
    return target.UploadFile(absl::StrCat(source.root(), "/", file.path()), file.path());
  }
  // Through a local temporary file: state files can be larger than memory should hold.
  const std::string tmp =
      (std::filesystem::temp_directory_path() / NewShortId("sluice-copy-")).string();
  absl::Status s = source.DownloadFile(file, tmp);
  absl::StatusOr<proto::StateFile> written =
      s.ok() ? target.UploadFile(tmp, file.path()) : absl::StatusOr<proto::StateFile>(s);
  ::unlink(tmp.c_str());
  return written;
}

}  // namespace sluice::snapshot
