#include "tests/chaos/chaos_util.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kFiller[] = ".filler";

}  // namespace

absl::StatusOr<std::unique_ptr<Tmpfs>> Tmpfs::Mount(const std::string& dir, int64_t bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const std::string options = absl::StrCat("size=", bytes);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    const int err = errno;
    if (err == EPERM || err == EACCES) {
      return absl::FailedPreconditionError(
          absl::StrCat("mounting a tmpfs needs root (mount: ", std::strerror(err),
                       "); a full disk cannot be "
                       "made here"));
    }
    return absl::InternalError(absl::StrCat("mount tmpfs on ", dir, ": ", std::strerror(err)));
  }
  return std::unique_ptr<Tmpfs>(new Tmpfs(dir));
}

Tmpfs::~Tmpfs() { ::umount2(path_.c_str(), MNT_DETACH); }

int64_t Tmpfs::FreeBytes() const {
  struct statvfs st;
  if (::statvfs(path_.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
}

absl::Status Tmpfs::Fill(int64_t leave_bytes) {
  const std::string filler = absl::StrCat(path_, "/", kFiller);
  const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::ErrnoToStatus(errno, "open filler");
  // Whole blocks until the disk is full (a daemon may be writing meanwhile: take what is left).
  std::string block(64 * 1024, 'x');
  while (FreeBytes() > leave_bytes) {
    const int64_t room = FreeBytes() - leave_bytes;
    const size_t n = static_cast<size_t>(std::min<int64_t>(room, block.size()));
    if (::write(fd, block.data(), n) <= 0) break;  // ENOSPC: full
  }
  ::close(fd);
  return absl::OkStatus();
}

void Tmpfs::Unfill() {
  std::error_code ec;
  fs::remove(absl::StrCat(path_, "/", kFiller), ec);
}

absl::StatusOr<CheckpointRef> NewestCheckpoint(LocalCluster& cluster, const std::string& job) {
  CommandResult r = cluster.Sluice({"checkpoints", job, "--json"});
  if (!r.ok()) return absl::InternalError(r.Describe());
  absl::StatusOr<JsonValue> parsed = ParseJson(r.out);
  if (!parsed.ok()) return parsed.status();
  CheckpointRef best;
  for (const JsonValue& c : Field(*parsed, "completed").list_value().values()) {
    if (StringField(c, "kind") != "checkpoint" || IntField(c, "id") <= best.id) continue;
    best.id = IntField(c, "id");
    best.path = StringField(c, "path");
  }
  if (best.id == 0) return absl::NotFoundError("no completed checkpoint yet");
  return best;
}

absl::StatusOr<CheckpointRef> WaitForCheckpoint(LocalCluster& cluster, const std::string& job,
                                                int64_t after) {
  absl::StatusOr<CheckpointRef> newest = absl::NotFoundError("not looked yet");
  bool seen = WaitUntil(
      [&] {
        newest = NewestCheckpoint(cluster, job);
        return newest.ok() && newest->id > after;
      },
      absl::Minutes(2));
  if (!seen) {
    return absl::DeadlineExceededError(
        absl::StrCat("no checkpoint after ", after, " completed within 2 minutes"));
  }
  return newest;
}

absl::Status FlipByte(const std::string& path, int64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  f.seekg(0, std::ios::end);
  const int64_t size = f.tellg();
  const int64_t at = offset >= 0 ? offset : size + offset;
  if (at < 0 || at >= size) {
    return absl::OutOfRangeError(absl::StrCat(path, " has ", size, " bytes, no byte ", at));
  }
  f.seekg(at);
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0xff);
  f.seekp(at);
  f.write(&c, 1);
  f.close();
  return f ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

std::string LargestStateFile(const std::string& dir) {
  std::string best;
  uintmax_t best_size = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file() || it->path().filename() == "_metadata") continue;
    if (it->file_size() > best_size) {
      best_size = it->file_size();
      best = it->path().string();
    }
  }
  return best;
}

std::vector<int> TaskManagersRunning(LocalCluster& cluster, const JsonValue& status,
                                     int taskmanagers) {
  std::set<std::string> hosts;
  for (const auto& [vertex, s] : Subtasks(status)) hosts.insert(StringField(*s, "taskmanager"));
  std::vector<int> out;
  for (int i = 1; i <= taskmanagers; ++i) {
    absl::StatusOr<std::string> id = cluster.TaskManagerId(i);
    if (id.ok() && hosts.count(*id)) out.push_back(i);
  }
  return out;
}

void Report(const std::string& name, int kills, const LedgerCounts& c, const std::string& note) {
  const char* file = std::getenv("SLUICE_CHAOS_REPORT");
  if (file == nullptr || *file == '\0') return;
  std::ofstream out(file, std::ios::app);
  out << "| " << name << " | " << kills << " | " << c.verified << " | " << c.lost << " | "
      << c.duplicated << " | " << note << " |\n";
}

int ChaosKills(int dflt) {
  const char* env = std::getenv("SLUICE_CHAOS_KILLS");
  int n = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &n) && n > 0) return n;
  return dflt;
}

}  // namespace sluice::testing
