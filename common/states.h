// The job and subtask lifecycles (docs/vocabulary.md): state names, the one table of legal
// transitions, and how a subtask is named to people.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

enum class JobState {
  kCreated,
  kRunning,
  kFailing,
  kRestarting,
  kCancelling,
  kCanceled,
  kFailed,
  kFinished,
  kSuspended,
};

enum class SubtaskState {
  kCreated,
  kScheduled,
  kDeploying,
  kInitializing,
  kRunning,
  kFinished,
  kCanceling,
  kCanceled,
  kFailed,
};

std::string_view JobStateName(JobState s);
std::string_view SubtaskStateName(SubtaskState s);
bool IsTerminal(JobState s);
//! Whether `name` (JobStateName) is FINISHED, FAILED or CANCELED: views that carry the state as
//! text (JobSummary, JobStatus).
bool IsTerminalJobStateName(std::string_view name);
bool IsTerminal(SubtaskState s);
bool IsLegalTransition(JobState from, JobState to);
bool IsLegalTransition(SubtaskState from, SubtaskState to);

//! A subtask as logs and failure reasons name it, as Flink does: "<vertex> (<i>/<parallelism>)",
//! where i = index + 1 (`index` counts from 0, the name from 1).
std::string SubtaskDisplayName(const std::string& vertex_name, int index, int parallelism);

}  // namespace sluice
