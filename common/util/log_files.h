// The log files a daemon serves over the REST API (/jobmanager/logs, /taskmanagers/:id/logs). A
// requested name is a plain file name listed in the log folder, nothing else: Flink's REST API had
// two path-traversal CVEs exactly here, so every other form ("..", a path, an absolute path, a
// symlink, a hidden file) is refused before anything is opened, and the file is opened relative
// to the folder without following links.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice_proto/metrics.pb.h"

namespace sluice {

struct LogFileInfo {
  std::string name;
  uint64_t size = 0;
  int64_t mtime_ms = 0;
};

//! The regular files directly in `dir` (not symlinks, not hidden), sorted by name. An empty `dir`
//! gives none.
absl::StatusOr<std::vector<LogFileInfo>> ListLogFiles(const std::string& dir);

//! OK when `name` can be a log file name: non-empty, at most 255 bytes, no '/', '\', NUL or
//! control character, not starting with '.'. InvalidArgument naming the rule otherwise.
absl::Status CheckLogFileName(const std::string& name);

//! The last `max_bytes` bytes of log file `name` in `dir` (all of it when smaller). InvalidArgument
//! for a name CheckLogFileName refuses; NotFound for a name that is not a regular file in `dir`
//! (a symlink included).
absl::StatusOr<std::string> ReadLogFile(const std::string& dir, const std::string& name,
                                        uint64_t max_bytes);

//! A slice of a log file.
struct LogSlice {
  std::string data;
  uint64_t offset = 0;  //!< Where `data` starts in the file.
  uint64_t size = 0;    //!< The file's size when it was read.
  std::string path;
};

//! A slice of this process's own log: the regular file its stderr goes to (daemons are started
//! with stderr on their log file). `offset` >= 0 reads from that byte (nothing when it is past the
//! end); < 0 reads the last -offset bytes. At most `max_bytes`. FailedPrecondition when stderr is
//! not a regular file (a terminal or a pipe: the log is not in a file).
absl::StatusOr<LogSlice> ReadOwnLog(int64_t offset, uint64_t max_bytes);

//! Answers `req` (offset, max_bytes; at most 4 MiB) from this process's own log.
absl::Status AnswerOwnLogRequest(const proto::DaemonLogRequest& req,
                                 proto::DaemonLogResponse* resp);

}  // namespace sluice
