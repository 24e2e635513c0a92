#include "jobmanager/job_state_machine.h"

#include "common/log.h"

namespace sluice::jobmanager {
namespace {

auto Log() { return log::Get("jobmaster"); }

}  // namespace

std::string_view RescalePhaseName(RescalePhase phase) {
  switch (phase) {
    case RescalePhase::kIdle:
      return "IDLE";
    case RescalePhase::kStopping:
      return "STOPPING";
    case RescalePhase::kWaitingForFinish:
      return "WAITING_FOR_FINISH";
    case RescalePhase::kRedeploying:
      return "REDEPLOYING";
  }
  return "UNKNOWN";
}

bool IsLegalTransition(RescalePhase from, RescalePhase to) {
  using R = RescalePhase;
  switch (from) {
    case R::kIdle:
      return to == R::kStopping;
    case R::kStopping:
      return to == R::kWaitingForFinish || to == R::kIdle;
    case R::kWaitingForFinish:
      return to == R::kRedeploying || to == R::kIdle;
    case R::kRedeploying:
      return to == R::kIdle;
  }
  return false;
}

JobStateMachine::JobStateMachine(std::string job) : job_(std::move(job)) {}

void JobStateMachine::Refuse(std::string_view what, std::string_view from, std::string_view to) {
  ++illegal_;
  Log()->error("Job {}: illegal {} transition from {} to {} refused", job_, what, from, to);
}

bool JobStateMachine::TransitionTo(JobState to) {
  if (state_ == to) return true;
  if (!IsLegalTransition(state_, to)) {
    Refuse("job state", JobStateName(state_), JobStateName(to));
    return false;
  }
  state_ = to;
  if (to == JobState::kRestarting) {
    fail_instead_of_restart_ = false;
    redeploy_scheduled_ = false;
  }
  if (to != JobState::kRunning &&
      (rescale_ == RescalePhase::kStopping || rescale_ == RescalePhase::kWaitingForFinish)) {
    Log()->warn("Job {}: the rescale {} is abandoned: the job is {}", job_, rescale_text_,
                JobStateName(to));
    TransitionTo(RescalePhase::kIdle);
  }
  return true;
}

bool JobStateMachine::TransitionTo(RescalePhase to, std::string text) {
  if (rescale_ == to) return true;
  if (!IsLegalTransition(rescale_, to)) {
    Refuse("rescale", RescalePhaseName(rescale_), RescalePhaseName(to));
    return false;
  }
  if (rescale_ == RescalePhase::kIdle) rescale_text_ = std::move(text);
  rescale_ = to;
  if (to == RescalePhase::kIdle) rescale_text_.clear();
  return true;
}

bool JobStateMachine::AcceptsFailure() const { return state_ == JobState::kRunning; }

bool JobStateMachine::CanCancel() const {
  return state_ == JobState::kCreated || state_ == JobState::kRunning ||
         state_ == JobState::kRestarting;
}

JobStateMachine::WhenAllTerminal JobStateMachine::Decide(bool all_finished) const {
  switch (state_) {
    case JobState::kRunning:
      if (!all_finished) return WhenAllTerminal::kNothing;
      // Subtasks of a rescale finish only once told that its savepoint completed; a bounded job
      // that ends by itself before that simply finishes.
      return rescale_ == RescalePhase::kWaitingForFinish ? WhenAllTerminal::kRedeployRescaled
                                                         : WhenAllTerminal::kFinish;
    case JobState::kFailing:
      return WhenAllTerminal::kFail;
    case JobState::kCancelling:
      return WhenAllTerminal::kCancel;
    case JobState::kRestarting:
      if (fail_instead_of_restart_) return WhenAllTerminal::kFail;
      return redeploy_scheduled_ ? WhenAllTerminal::kNothing : WhenAllTerminal::kScheduleRedeploy;
    default:
      return WhenAllTerminal::kNothing;
  }
}

}  // namespace sluice::jobmanager
