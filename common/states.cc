#include "common/states.h"

#include "absl/strings/str_cat.h"

namespace sluice {

std::string_view JobStateName(JobState s) {
  switch (s) {
    case JobState::kCreated:
      return "CREATED";
    case JobState::kRunning:
      return "RUNNING";
    case JobState::kFailing:
      return "FAILING";
    case JobState::kRestarting:
      return "RESTARTING";
    case JobState::kCancelling:
      return "CANCELLING";
    case JobState::kCanceled:
      return "CANCELED";
    case JobState::kFailed:
      return "FAILED";
    case JobState::kFinished:
      return "FINISHED";
    case JobState::kSuspended:
      return "SUSPENDED";
  }
  return "UNKNOWN";
}

std::string_view SubtaskStateName(SubtaskState s) {
  switch (s) {
    case SubtaskState::kCreated:
      return "CREATED";
    case SubtaskState::kScheduled:
      return "SCHEDULED";
    case SubtaskState::kDeploying:
      return "DEPLOYING";
    case SubtaskState::kInitializing:
      return "INITIALIZING";
    case SubtaskState::kRunning:
      return "RUNNING";
    case SubtaskState::kFinished:
      return "FINISHED";
    case SubtaskState::kCanceling:
      return "CANCELING";
    case SubtaskState::kCanceled:
      return "CANCELED";
    case SubtaskState::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

bool IsTerminal(JobState s) {
  return s == JobState::kCanceled || s == JobState::kFailed || s == JobState::kFinished ||
         s == JobState::kSuspended;
}

bool IsTerminalJobStateName(std::string_view name) {
  for (JobState s : {JobState::kFinished, JobState::kFailed, JobState::kCanceled}) {
    if (name == JobStateName(s)) return true;
  }
  return false;
}

bool IsTerminal(SubtaskState s) {
  return s == SubtaskState::kFinished || s == SubtaskState::kCanceled || s == SubtaskState::kFailed;
}

bool IsLegalTransition(JobState from, JobState to) {
  using J = JobState;
  switch (from) {
    case J::kCreated:
      return to == J::kRunning || to == J::kFailing || to == J::kFailed || to == J::kCancelling ||
             to == J::kCanceled || to == J::kSuspended;
    case J::kRunning:
      return to == J::kFinished || to == J::kFailing || to == J::kCancelling ||
             to == J::kRestarting || to == J::kSuspended;
    case J::kFailing:
      return to == J::kFailed || to == J::kRestarting || to == J::kCanceled;
    case J::kRestarting:
      return to == J::kCreated || to == J::kRunning || to == J::kFailed || to == J::kCancelling ||
             to == J::kCanceled || to == J::kSuspended;
    case J::kCancelling:
      return to == J::kCanceled || to == J::kFailed;
    case J::kCanceled:
    case J::kFailed:
    case J::kFinished:
    case J::kSuspended:
      return false;
  }
  return false;
}

bool IsLegalTransition(SubtaskState from, SubtaskState to) {
  using S = SubtaskState;
  if (IsTerminal(from)) return false;
  // Any live subtask may fail, and may be canceled directly while it has not been deployed yet.
  if (to == S::kFailed) return true;
  switch (from) {
    case S::kCreated:
      return to == S::kScheduled || to == S::kCanceled;
    case S::kScheduled:
      return to == S::kDeploying || to == S::kCanceled;
    case S::kDeploying:
      return to == S::kInitializing || to == S::kRunning || to == S::kCanceling ||
             to == S::kCanceled;
    case S::kInitializing:
      return to == S::kRunning || to == S::kFinished || to == S::kCanceling || to == S::kCanceled;
    case S::kRunning:
      return to == S::kFinished || to == S::kCanceling || to == S::kCanceled;
    case S::kCanceling:
      return to == S::kCanceled || to == S::kFinished;
    default:
      return false;
  }
}

std::string SubtaskDisplayName(const std::string& vertex_name, int index, int parallelism) {
  return absl::StrCat(vertex_name, " (", index + 1, "/", parallelism, ")");
}

}  // namespace sluice
