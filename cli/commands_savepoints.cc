// `sluice savepoint`, `stop` and `rescale`: Flink's savepoint workflow. The JobManager answers
// each request once its savepoint is complete; `stop` and `rescale` then follow the job until it
// has ended, or runs again at the new parallelism.

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/client.h"
#include "cli/command.h"

namespace sluice::cli {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(200);
// How long the JobManager may stay unreachable while we follow a job before we give up.
constexpr absl::Duration kPollOutageLimit = absl::Seconds(10);
// A job stopped with a savepoint only has to end its tasks (or drain them, with --drain).
constexpr absl::Duration kStopWaitLimit = absl::Seconds(60);
// A rescaled job has to be scheduled, deployed and restored from the savepoint.
constexpr absl::Duration kRescaleWaitLimit = absl::Minutes(2);

// The deadline of TriggerSavepoint and Rescale: longer than the JobManager's checkpoint timeout,
// as far as our own configuration knows it, so that its error (not ours) reports a slow
// savepoint.
absl::Duration SavepointDeadline(const Invocation& invocation) {
  absl::Duration configured =
      absl::Milliseconds(invocation.config.GetDurationMs("execution.checkpointing.timeout"));
  return std::max(JobManagerClient::kSavepointTimeout, configured + absl::Minutes(1));
}

// A savepoint RPC that ran into our deadline may still complete on the JobManager.
absl::Status WithDeadlineHint(const absl::Status& status, const std::string& job_id) {
  if (!absl::IsDeadlineExceeded(status)) return status;
  return absl::DeadlineExceededError(
      absl::StrCat(status.message(), "; the savepoint may still complete (see 'sluice checkpoints ",
                   job_id, "' and 'sluice status ", job_id, "')"));
}

// Polls the job every kPollInterval until `done` holds or it reaches a terminal state, and
// returns that status; DeadlineExceeded (naming the last state seen) after `limit`.
absl::StatusOr<proto::JobStatus> WaitForJob(
    JobManagerClient& client, const std::string& job_id, absl::Duration limit,
    const std::function<bool(const proto::JobStatus&)>& done) {
  absl::Time start = absl::Now();
  absl::Time last_contact = start;
  std::string last_state = "unknown";
  while (true) {
    absl::StatusOr<proto::JobStatus> status = client.GetJobStatus(job_id);
    if (status.ok()) {
      if (done(*status) || IsTerminalJobState(status->state())) return status;
      last_contact = absl::Now();
      last_state = status->state();
      if (!status->rescale().empty()) absl::StrAppend(&last_state, ", rescale ", status->rescale());
    } else {
      bool transient =
          absl::IsUnavailable(status.status()) || absl::IsDeadlineExceeded(status.status());
      if (!transient || absl::Now() - last_contact > kPollOutageLimit) return status.status();
    }
    if (absl::Now() - start >= limit) {
      return absl::DeadlineExceededError(absl::StrCat("job ", job_id, " is still ", last_state,
                                                      " after ", absl::FormatDuration(limit),
                                                      " (see 'sluice status ", job_id, "')"));
    }
    absl::SleepFor(kPollInterval);
  }
}

// Running again after a rescale: every subtask deployed and the JobManager done rescaling.
bool RunningAfterRescale(const proto::JobStatus& job) {
  if (job.state() != "RUNNING" || !job.rescale().empty()) return false;
  for (const proto::VertexStatus& v : job.vertices()) {
    for (const proto::SubtaskStatus& s : v.subtasks()) {
      if (s.state() != "RUNNING") return false;
    }
  }
  return true;
}

void PrintPathJson(const std::string& path) { PrintJson({{"path", path}}); }

// The SavepointRequest of `savepoint` and `stop`, or a usage error's exit code.
std::optional<int> BuildSavepointRequest(const Invocation& invocation, std::string_view command,
                                         proto::SavepointRequest* request) {
  request->set_job_id(invocation.args.positionals[0]);
  std::optional<std::string> dir = invocation.args.Get("--target-directory");
  if (invocation.args.positionals.size() > 1) {  // Flink's `savepoint JOB [targetDirectory]`
    if (dir) {
      return UsageError(command,
                        "give the savepoint's folder once: after JOB or with --target-directory");
    }
    dir = invocation.args.positionals[1];
  }
  if (dir) {
    if (dir->empty()) return UsageError(command, "--target-directory needs a directory");
    absl::StatusOr<std::string> absolute = AbsoluteSnapshotPath(*dir);
    if (!absolute.ok()) return Fail(absolute.status());
    request->set_dir(*absolute);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::string> AbsoluteSnapshotPath(std::string_view path) {
  // URIs and absolute paths go to the JobManager as they are: it owns their meaning (and rejects
  // what its snapshot storage does not support).
  std::filesystem::path p(path);
  if (path.find("://") != std::string_view::npos || p.is_absolute()) return std::string(path);
  std::error_code error;
  std::filesystem::path cwd = std::filesystem::current_path(error);
  if (error) {
    return absl::FailedPreconditionError(absl::StrCat("cannot make '", std::string(path),
                                                      "' absolute: no working directory (",
                                                      error.message(), ")"));
  }
  std::string absolute = (cwd / p).lexically_normal().string();  // "sp/" -> "/cwd/sp/"
  while (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
  return absolute;
}

int SavepointCommand(const Invocation& invocation) {
  proto::SavepointRequest request;
  if (std::optional<int> exit = BuildSavepointRequest(invocation, "savepoint", &request)) {
    return *exit;
  }
  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::SavepointResponse> response =
      client.TriggerSavepoint(request, SavepointDeadline(invocation));
  if (!response.ok()) return Fail(WithDeadlineHint(response.status(), request.job_id()));
  if (invocation.args.Has("--json")) {
    PrintPathJson(response->path());
  } else {
    std::cout << "Savepoint of job " << request.job_id() << " completed.\n"
              << response->path() << std::endl;
  }
  return kExitOk;
}

int StopCommand(const Invocation& invocation) {
  proto::SavepointRequest request;
  if (std::optional<int> exit = BuildSavepointRequest(invocation, "stop", &request)) return *exit;
  request.set_stop(true);
  request.set_drain(invocation.args.Has("--drain"));
  const std::string& id = request.job_id();
  bool json = invocation.args.Has("--json");

  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::SavepointResponse> response =
      client.TriggerSavepoint(request, SavepointDeadline(invocation));
  if (!response.ok()) return Fail(WithDeadlineHint(response.status(), id));
  const std::string& path = response->path();
  if (!json) std::cout << "Savepoint of job " << id << " completed: " << path << std::endl;

  absl::StatusOr<proto::JobStatus> job =
      WaitForJob(client, id, kStopWaitLimit, [](const proto::JobStatus&) { return false; });
  if (!job.ok()) {
    return Fail(absl::StrCat(job.status().message(), "; the savepoint is ", path));
  }
  if (job->state() != "FINISHED") {
    Fail(absl::StrCat("job ", id, " ended as ", job->state(),
                      ", not FINISHED, after its savepoint ", path));
    if (!job->failure().empty()) Fail(job->failure());
    return kExitFailure;
  }
  if (json) {
    PrintPathJson(path);
  } else {
    std::cout << "Job " << id << " FINISHED.\n" << path << std::endl;
  }
  return kExitOk;
}

int RescaleCommand(const Invocation& invocation) {
  const std::string& id = invocation.args.positionals[0];
  std::string text = invocation.args.Get("--parallelism").value_or("");
  std::optional<int> parallelism = ParsePositiveInt(text);
  if (!parallelism) {
    return UsageError("rescale",
                      absl::StrCat("--parallelism must be a positive integer, got '", text, "'"));
  }
  bool json = invocation.args.Has("--json");

  proto::RescaleRequest request;
  request.set_job_id(id);
  request.set_parallelism(*parallelism);
  JobManagerClient client(invocation.jobmanager);
  absl::StatusOr<proto::RescaleResponse> response =
      client.Rescale(request, SavepointDeadline(invocation));
  if (!response.ok()) return Fail(WithDeadlineHint(response.status(), id));
  const std::string& path = response->savepoint_path();
  if (!json) {
    std::cout << "Job " << id << " restarts at parallelism " << *parallelism << " from savepoint "
              << path << std::endl;
  }

  absl::StatusOr<proto::JobStatus> job =
      WaitForJob(client, id, kRescaleWaitLimit, RunningAfterRescale);
  if (!job.ok()) return Fail(job.status());
  if (!RunningAfterRescale(*job)) {
    Fail(absl::StrCat("job ", id, " ended as ", job->state(), " while being rescaled from ", path));
    if (!job->failure().empty()) Fail(job->failure());
    return kExitFailure;
  }
  if (json) {
    PrintJson({{"id", id}, {"parallelism", *parallelism}, {"savepoint_path", path}});
  } else {
    std::cout << "Job " << id << " rescaled to parallelism " << *parallelism << "." << std::endl;
  }
  return kExitOk;
}

}  // namespace sluice::cli
