#include "common/util/log_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

namespace sluice {

absl::StatusOr<std::vector<LogFileInfo>> ListLogFiles(const std::string& dir) {
  std::vector<LogFileInfo> files;
  if (dir.empty()) return files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!CheckLogFileName(name).ok()) continue;
    struct stat st;
    // lstat: a symlink is not a log file, whatever it points to.
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    files.push_back(
        {name, static_cast<uint64_t>(st.st_size),
         static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000});
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  std::sort(files.begin(), files.end(),
            [](const LogFileInfo& a, const LogFileInfo& b) { return a.name < b.name; });
  return files;
}

absl::Status CheckLogFileName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("the log file name is empty");
  if (name.size() > 255) return absl::InvalidArgumentError("the log file name is too long");
  if (name.front() == '.') {
    return absl::InvalidArgumentError(
        "a log file name must not start with '.' (no '..', no hidden files)");
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\' || u < 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError(
          "a log file name is a plain file name of the log folder: no '/', '\\' or control "
          "characters");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadLogFile(const std::string& dir, const std::string& name,
                                        uint64_t max_bytes) {
  if (absl::Status s = CheckLogFileName(name); !s.ok()) return s;
  auto not_found = [&] {
    return absl::NotFoundError(absl::StrCat("no log file named '", name, "'"));
  };
  if (dir.empty()) return not_found();
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return not_found();
  absl::Cleanup close_dir = [dir_fd] { ::close(dir_fd); };
  // Relative to the folder, never following a link: the name cannot leave it.
  const int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return not_found();
  absl::Cleanup close_file = [fd] { ::close(fd); };
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return not_found();
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const uint64_t from = size > max_bytes ? size - max_bytes : 0;
  std::string out;
  out.resize(size - from);
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(from + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::UnavailableError(absl::StrCat("cannot read ", name, ": ", std::strerror(errno)));
    }
    if (n == 0) break;  // shrank meanwhile
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

}  // namespace sluice

namespace sluice {

absl::StatusOr<LogSlice> ReadOwnLog(int64_t offset, uint64_t max_bytes) {
  LogSlice slice;
  char path[4096];
  ssize_t n = ::readlink("/proc/self/fd/2", path, sizeof(path) - 1);
  slice.path = n > 0 ? std::string(path, static_cast<size_t>(n)) : "(stderr)";
  // stderr is open for writing only: open the same file again for reading through the fd's link
  // (the file stderr goes to, even if it was renamed or removed since), never by its path.
  int fd = ::open("/proc/self/fd/2", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot open ", slice.path, ": ", std::strerror(errno)));
  }
  absl::Cleanup close_fd = [fd] { ::close(fd); };
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        "this daemon's log is not in a file (its stderr is a terminal or a pipe)");
  }
  slice.size = static_cast<uint64_t>(st.st_size);
  if (offset < 0) {
    uint64_t tail = static_cast<uint64_t>(-(offset + 1)) + 1;
    slice.offset = slice.size > tail ? slice.size - tail : 0;
  } else {
    slice.offset = std::min<uint64_t>(static_cast<uint64_t>(offset), slice.size);
  }
  const uint64_t want = std::min(max_bytes, slice.size - slice.offset);
  slice.data.resize(want);
  size_t got = 0;
  while (got < want) {
    ssize_t r =
        ::pread(fd, slice.data.data() + got, want - got, static_cast<off_t>(slice.offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      return absl::InternalError(
          absl::StrCat("cannot read ", slice.path, ": ", std::strerror(errno)));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  slice.data.resize(got);
  return slice;
}

absl::Status AnswerOwnLogRequest(const proto::DaemonLogRequest& req,
                                 proto::DaemonLogResponse* resp) {
  constexpr uint64_t kMaxBytes = 4 << 20;
  uint64_t max = req.max_bytes() == 0 ? kMaxBytes : std::min<uint64_t>(req.max_bytes(), kMaxBytes);
  absl::StatusOr<LogSlice> slice = ReadOwnLog(req.offset(), max);
  if (!slice.ok()) return slice.status();
  resp->set_data(std::move(slice->data));
  resp->set_offset(slice->offset);
  resp->set_size(slice->size);
  resp->set_path(slice->path);
  return absl::OkStatus();
}

}  // namespace sluice
