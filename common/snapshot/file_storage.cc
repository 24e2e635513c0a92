// SnapshotStorage on a (shared) file system: a root folder, files written through a temporary
// sibling and renamed into place, fsyncs so that an acknowledged file survives a crash.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/ids.h"
#include "common/snapshot/crc32.h"
#include "common/snapshot/parallel.h"
#include "common/snapshot/s3_client.h"
#include "common/snapshot/storage.h"

namespace sluice::snapshot {
namespace {

namespace fs = std::filesystem;

// Our abseil keeps its own absl::string_view (ABSL_OPTION_USE_STD_STRING_VIEW=0).
absl::string_view AbslView(std::string_view text) { return {text.data(), text.size()}; }

constexpr size_t kCopyChunkBytes = 1 << 20;
constexpr std::string_view kFileScheme = "file://";
//! Temporary files are named `.<name>.tmp-<random>`; List() does not show them.
constexpr std::string_view kTmpMarker = ".tmp-";

absl::Status ErrnoError(int err, std::string_view what, std::string_view path) {
  return absl::ErrnoToStatus(err, absl::StrFormat("%s %s", what, path));
}

absl::Status ErrorCodeError(const std::error_code& ec, std::string_view what,
                            std::string_view path) {
  if (ec.category() == std::generic_category() || ec.category() == std::system_category()) {
    return ErrnoError(ec.value(), what, path);
  }
  return absl::InternalError(absl::StrFormat("%s %s: %s", what, path, ec.message()));
}

absl::Status UnsafePathError(std::string_view path) {
  return absl::InvalidArgumentError(
      absl::StrFormat("snapshot path '%s' is not a safe relative path (it must not start with "
                      "'/' and must not contain '.', '..' or empty components)",
                      path));
}

bool IsTmpName(std::string_view name) {
  return name.starts_with('.') && name.find(kTmpMarker) != std::string_view::npos;
}

//! Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { Close(); }
  int get() const { return fd_; }
  //! Closes now, returning what close() returns: a deferred write error shows up here.
  int Close() { return fd_ < 0 ? 0 : ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

//! Opens a regular file, never through a symbolic link; sets `*size` to its size when not null.
absl::StatusOr<UniqueFd> OpenForRead(const std::string& path, uint64_t* size = nullptr) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ELOOP) {
    return absl::DataLossError(
        absl::StrCat(path, " is a symbolic link; the files of a snapshot must be regular files"));
  }
  if (fd < 0) return ErrnoError(errno, "cannot open", path);
  UniqueFd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoError(errno, "cannot stat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  }
  if (size != nullptr) *size = static_cast<uint64_t>(st.st_size);
  return owned;
}

//! OutOfRange unless bytes [offset, offset + length) lie within a file of `size` bytes.
absl::Status CheckRange(const std::string& what, uint64_t offset, uint64_t length, uint64_t size) {
  if (offset <= size && length <= size - offset) return absl::OkStatus();
  return absl::OutOfRangeError(absl::StrFormat("%s: bytes [%d, %d) are past its end (%d)", what,
                                               offset, offset + length, size));
}

//! Reads up to `n` bytes; 0 at the end of the file.
absl::StatusOr<size_t> ReadSome(int fd, char* buf, size_t n, const std::string& path) {
  while (true) {
    const ssize_t got = ::read(fd, buf, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno != EINTR) return ErrnoError(errno, "cannot read", path);
  }
}

absl::Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t put = ::write(fd, bytes.data(), bytes.size());
    if (put < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "cannot write", path);
    }
    bytes.remove_prefix(static_cast<size_t>(put));
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(errno, "cannot open folder", dir);
  if (::fsync(fd.get()) != 0) return ErrnoError(errno, "cannot fsync folder", dir);
  return absl::OkStatus();
}

//! Writes `target` under a temporary sibling name and renames it into place on Commit(), so
//! readers see either the previous file or the whole new one. The temporary file is removed
//! unless committed. Used by one thread at a time.
class AtomicFileWriter {
 public:
  //! `sync_dirs`: folders to fsync after the rename (the target's parent first); empty for a
  //! file that need not survive a crash (no fsync at all then).
  AtomicFileWriter(std::string target, std::vector<std::string> sync_dirs)
      : target_(std::move(target)), sync_dirs_(std::move(sync_dirs)) {}
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter() {
    if (!tmp_.empty() && !committed_) {
      fd_.Close();
      ::unlink(tmp_.c_str());
    }
  }

  //! Creates the parent folders and the temporary file.
  absl::Status Open() {
    const fs::path target(target_);
    if (target.has_parent_path()) {
      std::error_code ec;
      fs::create_directories(target.parent_path(), ec);
      if (ec) return ErrorCodeError(ec, "cannot create folder", target.parent_path().string());
    }
    const std::string name = absl::StrFormat(".%s%s", target.filename().string(), kTmpMarker);
    tmp_ = (target.parent_path() / NewShortId(name)).string();
    const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int err = errno;
      tmp_.clear();  // Nothing to remove.
      return ErrnoError(err, "cannot create temporary file for", target_);
    }
    fd_ = UniqueFd(fd);
    return absl::OkStatus();
  }

  absl::Status Append(std::string_view bytes) {
    size_ += bytes.size();
    crc_ = Crc32Extend(crc_, bytes);
    return WriteAll(fd_.get(), bytes, tmp_);
  }

  absl::Status Commit() {
    const bool durable = !sync_dirs_.empty();
    if (durable && ::fsync(fd_.get()) != 0) return ErrnoError(errno, "cannot fsync", tmp_);
    if (fd_.Close() != 0) return ErrnoError(errno, "cannot close", tmp_);
    if (::rename(tmp_.c_str(), target_.c_str()) != 0) {
      return ErrnoError(errno, absl::StrCat("cannot rename ", tmp_, " to"), target_);
    }
    committed_ = true;
    for (const std::string& dir : sync_dirs_) {
      if (absl::Status s = SyncDir(dir); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  uint64_t size() const { return size_; }
  uint32_t crc32() const { return crc_; }

 private:
  const std::string target_;
  const std::vector<std::string> sync_dirs_;
  std::string tmp_;
  UniqueFd fd_;
  bool committed_ = false;
  uint64_t size_ = 0;
  uint32_t crc_ = 0;
};

//! Reads everything from `in` (named `in_path` in errors), handing it to `fn` chunk by chunk.
template <typename F>
absl::Status ForEachChunk(int in, const std::string& in_path, F&& fn) {
  std::string buf(kCopyChunkBytes, '\0');
  while (true) {
    absl::StatusOr<size_t> got = ReadSome(in, buf.data(), buf.size(), in_path);
    if (!got.ok()) return got.status();
    if (*got == 0) return absl::OkStatus();
    if (absl::Status s = fn(std::string_view(buf.data(), *got)); !s.ok()) return s;
  }
}

//! Streams everything from `in` (named `in_path` in errors) into `out`.
absl::Status Copy(int in, const std::string& in_path, AtomicFileWriter& out) {
  return ForEachChunk(in, in_path, [&out](std::string_view chunk) { return out.Append(chunk); });
}

//! "/abs" or "file:///abs" → "/abs" (normalized, without a trailing '/').
absl::StatusOr<std::string> LocalRoot(const std::string& uri) {
  std::string path = uri;
  if (uri.starts_with(kFileScheme)) {
    path = uri.substr(kFileScheme.size());
    if (!path.starts_with('/')) {
      return absl::InvalidArgumentError(absl::StrCat(
          "snapshot storage URI '", uri, "' must name an absolute path, as in file:///abs/path"));
    }
  } else if (uri.find("://") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported snapshot storage URI '", uri,
        "': only file:///abs/path, an absolute path or s3://bucket/prefix is supported"));
  } else if (!uri.starts_with('/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot storage path '", uri, "' must be absolute"));
  }
  std::string normal = fs::path(path).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

class FileStorage final : public SnapshotStorage {
 public:
  explicit FileStorage(std::string root) : root_(std::move(root)) {}

  const std::string& root() const override { return root_; }

  absl::StatusOr<proto::StateFile> WriteFile(std::string_view path,
                                             std::string_view bytes) override {
    if (!IsSafeRelativePath(path)) return UnsafePathError(path);
    AtomicFileWriter out(FullPath(path), DirsToSync(path));
    if (absl::Status s = out.Open(); !s.ok()) return s;
    if (absl::Status s = out.Append(bytes); !s.ok()) return s;
    return Finish(path, out);
  }

  absl::StatusOr<proto::StateFile> UploadFile(const std::string& local_path,
                                              std::string_view path) override {
    if (!IsSafeRelativePath(path)) return UnsafePathError(path);
    absl::StatusOr<UniqueFd> in = OpenForRead(local_path);
    if (!in.ok()) return in.status();
    AtomicFileWriter out(FullPath(path), DirsToSync(path));
    if (absl::Status s = out.Open(); !s.ok()) return s;
    if (absl::Status s = Copy(in->get(), local_path, out); !s.ok()) return s;
    return Finish(path, out);
  }

  absl::StatusOr<std::string> ReadFile(std::string_view path,
                                       const proto::StateFile* expected) override {
    if (!IsSafeRelativePath(path)) return UnsafePathError(path);
    const std::string full = FullPath(path);
    uint64_t size = 0;
    absl::StatusOr<UniqueFd> in = OpenForRead(full, &size);
    if (!in.ok()) return in.status();
    std::string bytes;
    // The first read asks for one byte more than the file's size, to see the end of the file
    // without a second call (unless the file grew meanwhile).
    for (size_t n = size + 1;; n = kCopyChunkBytes) {
      const size_t old_size = bytes.size();
      bytes.resize(old_size + n);
      absl::StatusOr<size_t> got = ReadSome(in->get(), bytes.data() + old_size, n, full);
      if (!got.ok()) return got.status();
      bytes.resize(old_size + *got);
      if (*got == 0) break;
    }
    if (expected != nullptr) {
      absl::Status s = CheckStateFile(full, bytes.size(), Crc32(bytes), *expected);
      if (!s.ok()) return s;
    }
    return bytes;
  }

  absl::StatusOr<std::string> ReadFileRange(const proto::StateFile& file, uint64_t offset,
                                            uint64_t length) override {
    if (!IsSafeRelativePath(file.path())) return UnsafePathError(file.path());
    const std::string full = FullPath(file.path());
    uint64_t size = 0;
    absl::StatusOr<UniqueFd> in = OpenForRead(full, &size);
    if (!in.ok()) return in.status();
    if (size != file.size()) {
      return absl::DataLossError(absl::StrFormat("%s: size is %d bytes, the snapshot recorded %d",
                                                 full, size, file.size()));
    }
    if (absl::Status s = CheckRange(full, offset, length, size); !s.ok()) return s;
    std::string bytes(length, '\0');
    for (size_t done = 0; done < length;) {
      const ssize_t got =
          ::pread(in->get(), bytes.data() + done, length - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return ErrnoError(errno, "cannot read", full);
      if (got == 0) return absl::DataLossError(absl::StrCat(full, " ended while being read"));
      done += static_cast<size_t>(got);
    }
    return bytes;
  }

  absl::Status DownloadFile(const proto::StateFile& file, const std::string& local_path) override {
    if (!IsSafeRelativePath(file.path())) return UnsafePathError(file.path());
    const std::string full = FullPath(file.path());
    absl::StatusOr<UniqueFd> in = OpenForRead(full);
    if (!in.ok()) return in.status();
    // A local copy is recreated after a crash, so it is not fsynced.
    AtomicFileWriter out(local_path, /*sync_dirs=*/{});
    if (absl::Status s = out.Open(); !s.ok()) return s;
    if (absl::Status s = Copy(in->get(), full, out); !s.ok()) return s;
    if (absl::Status s = CheckStateFile(full, out.size(), out.crc32(), file); !s.ok()) return s;
    return out.Commit();
  }

  absl::Status Verify(const proto::StateFile& file, bool checksum) override {
    if (!IsSafeRelativePath(file.path())) return UnsafePathError(file.path());
    const std::string full = FullPath(file.path());
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) {
        return absl::NotFoundError(absl::StrCat(full, " is missing"));
      }
      return ErrnoError(errno, "cannot stat", full);
    }
    if (S_ISLNK(st.st_mode)) {
      return absl::DataLossError(
          absl::StrCat(full, " is a symbolic link; the files of a snapshot must be regular files"));
    }
    if (!S_ISREG(st.st_mode)) {
      return absl::DataLossError(absl::StrCat(full, " is not a regular file"));
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    if (!checksum || size != file.size()) return CheckStateFile(full, size, file.crc32(), file);
    absl::StatusOr<UniqueFd> in = OpenForRead(full);
    if (!in.ok()) return in.status();
    uint32_t crc = 0;
    uint64_t read = 0;
    absl::Status s = ForEachChunk(in->get(), full, [&](std::string_view chunk) {
      read += chunk.size();
      crc = Crc32Extend(crc, chunk);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return CheckStateFile(full, read, crc, file);
  }

  absl::Status Delete(std::string_view path) override {
    if (!IsSafeRelativePath(path)) return UnsafePathError(path);
    const std::string full = FullPath(path);
    std::error_code ec;
    fs::remove_all(full, ec);
    if (ec) return ErrorCodeError(ec, "cannot delete", full);
    return absl::OkStatus();
  }

  void RemoveEmptyFolders() override {
    // Deepest first: fs::remove takes a folder only while it is empty.
    std::error_code ec;
    std::vector<fs::path> folders;
    for (fs::recursive_directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_directory(ec)) folders.push_back(it->path());
    }
    for (auto f = folders.rbegin(); f != folders.rend(); ++f) fs::remove(*f, ec);
    fs::remove(root_, ec);
  }

  bool Exists(std::string_view path) override {
    if (!IsSafeRelativePath(path)) return false;
    struct stat st;
    return ::stat(FullPath(path).c_str(), &st) == 0;
  }

  absl::StatusOr<std::vector<std::string>> List(std::string_view dir) override {
    if (!dir.empty() && !IsSafeRelativePath(dir)) return UnsafePathError(dir);
    const std::string full = dir.empty() ? root_ : FullPath(dir);
    std::error_code ec;
    fs::directory_iterator it(full, ec);
    if (ec == std::errc::no_such_file_or_directory) return std::vector<std::string>{};
    if (ec == std::errc::not_a_directory) {
      return absl::FailedPreconditionError(absl::StrCat(full, " is not a folder"));
    }
    if (ec) return ErrorCodeError(ec, "cannot list", full);
    std::vector<std::string> names;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (!IsTmpName(name)) names.push_back(std::move(name));
    }
    if (ec) return ErrorCodeError(ec, "cannot list", full);
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string FullPath(std::string_view path) const {
    return root_ == "/" ? absl::StrCat("/", AbslView(path))
                        : absl::StrCat(root_, "/", AbslView(path));
  }

  //! The folders whose entries must be durable for `path` to be: its parent up to the root. All
  //! of them, not only those this call created: a folder another writer just created may not be
  //! durable yet.
  std::vector<std::string> DirsToSync(std::string_view path) const {
    std::vector<std::string> dirs;
    for (size_t slash = path.rfind('/'); slash != std::string_view::npos; slash = path.rfind('/')) {
      path = path.substr(0, slash);
      dirs.push_back(FullPath(path));
    }
    dirs.push_back(root_);
    return dirs;
  }

  static absl::StatusOr<proto::StateFile> Finish(std::string_view path, AtomicFileWriter& out) {
    if (absl::Status s = out.Commit(); !s.ok()) return s;
    proto::StateFile file;
    file.set_path(std::string(path));
    file.set_size(out.size());
    file.set_crc32(out.crc32());
    return file;
  }

  const std::string root_;  // Absolute and normalized, without a trailing '/' (unless "/").
};

}  // namespace

absl::StatusOr<std::vector<proto::StateFile>> SnapshotStorage::UploadFiles(
    const std::vector<std::pair<std::string, std::string>>& files, int parallelism) {
  std::vector<proto::StateFile> out(files.size());
  absl::Status s = ForEachParallel(files.size(), parallelism, [&](size_t i) {
    absl::StatusOr<proto::StateFile> f = UploadFile(files[i].first, files[i].second);
    if (!f.ok()) return f.status();
    out[i] = *std::move(f);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status SnapshotStorage::DownloadFiles(
    const std::vector<std::pair<proto::StateFile, std::string>>& files, int parallelism) {
  return ForEachParallel(files.size(), parallelism, [&](size_t i) {
    absl::Status s = DownloadFile(files[i].first, files[i].second);
    if (s.ok()) return s;
    return absl::Status(s.code(),
                        absl::StrCat("downloading ", files[i].first.path(), ": ", s.message()));
  });
}

absl::StatusOr<std::string> SnapshotStorage::ReadFileRange(const proto::StateFile& file,
                                                           uint64_t offset, uint64_t length) {
  absl::StatusOr<std::string> bytes = ReadFile(file.path(), &file);
  if (!bytes.ok()) return bytes.status();
  if (absl::Status s = CheckRange(file.path(), offset, length, bytes->size()); !s.ok()) return s;
  return bytes->substr(offset, length);
}

absl::Status CheckStateFile(const std::string& what, uint64_t size, uint32_t crc,
                            const proto::StateFile& expected) {
  if (size != expected.size()) {
    return absl::DataLossError(absl::StrFormat("%s: size is %d bytes, the snapshot recorded %d",
                                               what, size, expected.size()));
  }
  if (crc != expected.crc32()) {
    return absl::DataLossError(absl::StrFormat("%s: crc32 is 0x%08x, the snapshot recorded 0x%08x",
                                               what, crc, expected.crc32()));
  }
  return absl::OkStatus();
}

bool IsSafeRelativePath(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  if (path.find('\0') != std::string_view::npos) return false;
  for (absl::string_view part : absl::StrSplit(AbslView(path), '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<SnapshotStorage>> OpenStorage(const std::string& uri) {
  if (IsS3Uri(uri)) return OpenS3Storage(uri, DefaultS3Options());
  absl::StatusOr<std::string> root = LocalRoot(uri);
  if (!root.ok()) return root.status();
  std::error_code ec;
  fs::create_directories(*root, ec);
  std::error_code exists_ec;
  if (fs::exists(*root, exists_ec) && !fs::is_directory(*root, exists_ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("snapshot storage root ", *root, " exists and is not a folder"));
  }
  if (ec) return ErrorCodeError(ec, "cannot create snapshot storage folder", *root);
  return std::make_unique<FileStorage>(*std::move(root));
}

}  // namespace sluice::snapshot
