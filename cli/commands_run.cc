// `sluice run`: upload a job package and, unless --detached, follow the job until it ends.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/client.h"
#include "cli/command.h"
#include "common/config/config.h"
#include "common/util/sha256.h"

namespace sluice::cli {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(200);
// How long the JobManager may stay unreachable while we follow a job before we give up.
constexpr absl::Duration kPollOutageLimit = absl::Seconds(10);

// Checks that `path` is a readable regular file and returns its size.
absl::StatusOr<uint64_t> CheckPackage(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read job package '", path, "': ", std::strerror(errno)));
  }
  struct stat st;
  int rc = ::fstat(fd, &st);
  ::close(fd);
  if (rc != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("job package '", path, "' is not a regular file"));
  }
  return static_cast<uint64_t>(st.st_size);
}

std::string JobLabel(const std::string& id, const std::string& name) {
  return name.empty() ? absl::StrCat("Job ", id) : absl::StrCat("Job ", id, " (", name, ")");
}

double ElapsedSeconds(const proto::JobStatus& status, absl::Time submitted) {
  if (status.start_time_ms() > 0 && status.end_time_ms() >= status.start_time_ms()) {
    return static_cast<double>(status.end_time_ms() - status.start_time_ms()) / 1000.0;
  }
  return absl::ToDoubleSeconds(absl::Now() - submitted);
}

// Polls the job until it reaches a terminal state, printing each state change unless `quiet`.
absl::StatusOr<proto::JobStatus> FollowJob(JobManagerClient& client, const std::string& job_id,
                                           bool quiet) {
  std::string last_state;
  absl::Time last_contact = absl::Now();
  while (true) {
    absl::StatusOr<proto::JobStatus> status = client.GetJobStatus(job_id);
    if (!status.ok()) {
      bool transient =
          absl::IsUnavailable(status.status()) || absl::IsDeadlineExceeded(status.status());
      if (!transient || absl::Now() - last_contact > kPollOutageLimit) {
        return absl::Status(
            status.status().code(),
            absl::StrCat(status.status().message(), "; job ", job_id,
                         " may still be running (see 'sluice status ", job_id, "')"));
      }
    } else {
      last_contact = absl::Now();
      if (status->state() != last_state) {
        last_state = status->state();
        if (IsTerminalJobState(last_state)) return *status;
        if (!quiet) std::cout << "Job " << job_id << " is " << last_state << "." << std::endl;
      }
    }
    absl::SleepFor(kPollInterval);
  }
}

void PrintJsonResult(const proto::JobStatus& status) {
  Json result = {{"id", status.id()}, {"name", status.name()}, {"state", status.state()}};
  if (!status.failure().empty()) result["failure"] = status.failure();
  PrintJson(result);
}

}  // namespace

int RunCommand(const Invocation& invocation) {
  const ParsedArgs& args = invocation.args;
  const std::string& package = args.positionals[0];
  bool json = args.Has("--json");
  bool detached = args.Has("--detached");

  proto::SubmitHeader header;
  if (std::optional<std::string> p = args.Get("--parallelism")) {
    std::optional<int> parallelism = ParsePositiveInt(*p);
    if (!parallelism) {
      return UsageError("run",
                        absl::StrCat("--parallelism must be a positive integer, got '", *p, "'"));
    }
    header.set_parallelism(*parallelism);
  }
  if (std::optional<std::string> name = args.Get("--name")) header.set_name(*name);
  for (const std::string& arg : args.GetAll("--arg")) {
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError("run", absl::StrCat("--arg expects KEY=VALUE, got '", arg, "'"));
    }
    std::string key = arg.substr(0, eq);
    if (header.args().count(key) > 0) {
      return UsageError("run", absl::StrCat("--arg ", key, " given more than once"));
    }
    (*header.mutable_args())[key] = arg.substr(eq + 1);
  }

  std::optional<std::string> from_savepoint = args.Get("--from-savepoint");
  std::optional<std::string> restore = args.Get("--restore");
  if (from_savepoint && restore) {
    return UsageError("run", "--from-savepoint and --restore are mutually exclusive");
  }
  if (restore && *restore != "latest") {
    return UsageError("run", absl::StrCat("--restore accepts only 'latest', got '", *restore, "'"));
  }
  if (from_savepoint) {
    if (from_savepoint->empty()) return UsageError("run", "--from-savepoint needs a path");
    absl::StatusOr<std::string> path = AbsoluteSnapshotPath(*from_savepoint);
    if (!path.ok()) return Fail(path.status());
    header.set_restore_path(*path);
  }
  header.set_restore_latest(restore.has_value());
  header.set_allow_non_restored_state(args.Has("--allow-non-restored-state"));

  // -D settings (already validated by the CLI's own configuration) also configure the job:
  // execution.checkpointing.*, state.*, restart-strategy.*, parallelism.default apply per job.
  // Those that find the JobManager are the CLI's own; any other daemon setting would be ignored by
  // the job, so it is refused, saying where it belongs.
  for (const std::string& define : args.defines) {
    size_t eq = define.find('=');
    if (eq == std::string::npos) continue;
    std::string key = define.substr(0, eq);
    if (key == "jobmanager.rpc.address" || key == "jobmanager.rpc.port") continue;
    if (absl::Status s = config::CheckJobScope(key); !s.ok()) {
      return UsageError("run", std::string(s.message()));
    }
    (*header.mutable_config())[key] = define.substr(eq + 1);
  }

  absl::StatusOr<uint64_t> size = CheckPackage(package);
  if (!size.ok()) return Fail(size.status());
  absl::StatusOr<std::string> sha = Sha256File(package);
  if (!sha.ok()) {
    return Fail(absl::StrCat("cannot read job package '", package, "': ", sha.status().message()));
  }
  header.set_package_size(*size);
  header.set_package_sha256(*sha);

  JobManagerClient client(invocation.jobmanager);
  absl::Time submitted = absl::Now();
  absl::StatusOr<proto::SubmitResponse> response = client.Submit(header, package);
  if (!response.ok()) return Fail(response.status());
  const std::string& id = response->job_id();

  if (detached) {
    if (json) {
      PrintJson({{"id", id}});
    } else {
      std::cout << JobLabel(id, response->name()) << " submitted.\n" << id << std::endl;
    }
    return kExitOk;
  }

  if (!json) std::cout << JobLabel(id, response->name()) << " submitted." << std::endl;
  absl::StatusOr<proto::JobStatus> final_status = FollowJob(client, id, json);
  if (!final_status.ok()) return Fail(final_status.status());
  bool finished = final_status->state() == "FINISHED";
  if (json) {
    PrintJsonResult(*final_status);
  } else if (finished) {
    std::cout << absl::StrFormat("Job %s FINISHED in %.1f s.", id,
                                 ElapsedSeconds(*final_status, submitted))
              << std::endl;
  } else {
    std::cout << "Job " << id << " " << final_status->state() << "." << std::endl;
    if (!final_status->failure().empty()) Fail(final_status->failure());
  }
  return finished ? kExitOk : kExitFailure;
}

}  // namespace sluice::cli
