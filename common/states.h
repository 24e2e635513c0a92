// The job and subtask lifecycles (docs/vocabulary.md): state names and the one table of legal
// transitions.
#pragma once

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
bool IsTerminal(SubtaskState s);
bool IsLegalTransition(JobState from, JobState to);
bool IsLegalTransition(SubtaskState from, SubtaskState to);

}  // namespace sluice
