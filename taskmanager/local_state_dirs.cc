#include "taskmanager/local_state_dirs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace sluice::taskmanager {
namespace {

namespace fs = std::filesystem;

constexpr char kLockSuffix[] = ".lock";
constexpr size_t kLockSuffixSize = sizeof(kLockSuffix) - 1;

auto Log() { return log::Get("taskmanager"); }

absl::Status Errno(int err, const char* what, const std::string& path) {
  return absl::ErrnoToStatus(err, absl::StrCat(what, " ", path));
}

//! Whether `fd` is still the file at `path` (a sweeper may have unlinked it after our open).
bool SameFile(int fd, const std::string& path) {
  struct stat by_fd, by_path;
  return ::fstat(fd, &by_fd) == 0 && ::stat(path.c_str(), &by_path) == 0 &&
         by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

//! Opens and locks our own lock file. A sweeper that holds it for a moment (to see whether its
//! owner lives) is waited for; another live TaskManager with our id is an error.
absl::StatusOr<int> LockOwn(const std::string& path) {
  for (int attempt = 0; attempt < 40; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Errno(errno, "cannot create lock file", path);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err != EWOULDBLOCK) return Errno(err, "cannot lock", path);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    if (SameFile(fd, path)) return fd;
    ::close(fd);  // unlinked by a sweeper between our open and our lock: make a new one
  }
  return absl::FailedPreconditionError(absl::StrCat(
      path, " is locked by another live TaskManager with the same id (taskmanager.resource-id)"));
}

}  // namespace

LocalStateDirs::LocalStateDirs(std::string taskmanager_id) : id_(std::move(taskmanager_id)) {}

LocalStateDirs::~LocalStateDirs() {
  absl::MutexLock lock(&mu_);
  for (auto& [root, held] : held_) {
    std::error_code ec;
    fs::remove_all(held.dir, ec);
    ::unlink(held.lock_path.c_str());  // while we hold it: nobody can take it meanwhile
    ::close(held.lock_fd);
  }
  held_.clear();
}

absl::StatusOr<std::string> LocalStateDirs::Acquire(const std::string& root) {
  if (root.empty()) return absl::InvalidArgumentError("no local state folder");
  std::error_code ec;
  const fs::path absolute = fs::absolute(root, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot resolve ", root, ": ", ec.message()));
  absl::MutexLock lock(&mu_);
  std::string normal = absolute.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  // Sweeping at every use also catches TaskManagers that died after we started.
  const int removed = RemoveOrphans(normal, id_);
  if (removed > 0) {
    Log()->info("removed the local state of {} TaskManager(s) that are gone from {}", removed,
                normal);
  }
  auto it = held_.find(normal);
  if (it != held_.end()) return it->second.dir;
  fs::create_directories(normal, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", normal, ": ", ec.message()));
  Held held;
  held.lock_path = absl::StrCat(normal, "/", id_, kLockSuffix);
  held.dir = absl::StrCat(normal, "/", id_);
  absl::StatusOr<int> fd = LockOwn(held.lock_path);
  if (!fd.ok()) return fd.status();
  held.lock_fd = *fd;
  // What an earlier process with our id left is ours to clear.
  fs::remove_all(held.dir, ec);
  fs::create_directories(held.dir, ec);
  if (ec) {
    ::close(held.lock_fd);
    return absl::InternalError(absl::StrCat("cannot create ", held.dir, ": ", ec.message()));
  }
  std::string dir = held.dir;
  held_[normal] = std::move(held);
  return dir;
}

int LocalStateDirs::RemoveOrphans(const std::string& root, const std::string& keep_id) {
  int removed = 0;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!absl::EndsWith(name, kLockSuffix)) continue;
    const std::string id = name.substr(0, name.size() - kLockSuffixSize);
    if (id.empty() || id == keep_id) continue;
    const std::string lock_path = it->path().string();
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;  // removed meanwhile, or not ours to judge
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);  // its TaskManager lives
      continue;
    }
    // Its owner is gone: the folder first, then the lock file, while we hold the lock.
    std::error_code remove_ec;
    const fs::path dir = fs::path(root) / id;
    if (fs::exists(dir, remove_ec)) {
      fs::remove_all(dir, remove_ec);
      if (!remove_ec) ++removed;
    }
    if (SameFile(fd, lock_path)) ::unlink(lock_path.c_str());
    ::close(fd);
  }
  return removed;
}

}  // namespace sluice::taskmanager
