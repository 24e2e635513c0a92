// JobStateMachine: the one place that changes a job's state (CREATED, RUNNING, RESTARTING, ...,
// the table of legal moves is common/states.h) and its rescale phase, and that answers the
// JobMaster's questions about them ("does a failure restart the job now?", "what follows now
// that every subtask ended?"). The JobMaster asks before it acts; a transition the table does not
// allow is a bug in the JobMaster: it is refused, logged at ERROR and counted, and the JobMaster's
// tests fail on the count.
//
// A rescale (docs/savepoints.md) goes IDLE -> STOPPING (its stop-with-savepoint is being taken)
// -> WAITING_FOR_FINISH (the savepoint completed; the subtasks finish) -> REDEPLOYING (the job at
// the new parallelism is being deployed) -> IDLE once every subtask runs again. A rescale that has
// not reached REDEPLOYING is abandoned when the job leaves RUNNING any other way (a failure, a
// cancel): the job keeps its old parallelism.
//
// Owned by the JobMaster; used on its executor only (not thread-safe).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/states.h"

namespace sluice::jobmanager {

enum class RescalePhase { kIdle, kStopping, kWaitingForFinish, kRedeploying };

std::string_view RescalePhaseName(RescalePhase phase);
bool IsLegalTransition(RescalePhase from, RescalePhase to);

class JobStateMachine {
 public:
  //! What the JobMaster does once every subtask of the current attempt is terminal.
  enum class WhenAllTerminal {
    kNothing,           //!< nothing (yet): a restart is already scheduled, or no decision
    kFinish,            //!< RUNNING, every subtask finished: FINISHED
    kFail,              //!< FAILING, or a restart that turned into a failure: FAILED
    kCancel,            //!< CANCELLING: CANCELED
    kScheduleRedeploy,  //!< RESTARTING: wait the backoff, then redeploy
    kRedeployRescaled,  //!< the rescale's subtasks finished: deploy the new parallelism
  };

  //! `job` names the job in log lines.
  explicit JobStateMachine(std::string job);

  JobState state() const { return state_; }
  RescalePhase rescale() const { return rescale_; }
  //! "2 -> 3" from the rescale's start until every subtask runs at the new parallelism.
  const std::string& rescale_text() const { return rescale_text_; }
  //! Transitions refused so far (tests expect none but the ones they provoke).
  int64_t illegal_transitions() const { return illegal_; }

  //! Moves the job to `to`, or refuses (ERROR line, counted) and returns false when the table
  //! does not allow it. Moving to the current state is a no-op that succeeds. Leaving RUNNING
  //! abandons a rescale that is not redeploying yet; RESTARTING starts a fresh restart.
  bool TransitionTo(JobState to);
  //! The same for the rescale phase. Leaving IDLE needs `text` ("2 -> 3"); reaching it clears it.
  bool TransitionTo(RescalePhase to, std::string text = "");

  bool IsTerminal() const { return sluice::IsTerminal(state_); }
  //! A failure is acted on (restart or fail) only while RUNNING: before, nothing runs that could
  //! fail; after, it is part of the teardown already under way.
  bool AcceptsFailure() const;
  //! Cancel applies while CREATED, RUNNING or RESTARTING.
  bool CanCancel() const;
  //! A failure while RESTARTING that allows no restart: the attempt being torn down ends FAILED.
  void FailInsteadOfRestart() { fail_instead_of_restart_ = true; }
  //! RESTARTING: the redeployment was scheduled (once per restart).
  void RedeployScheduled() { redeploy_scheduled_ = true; }

  WhenAllTerminal Decide(bool all_finished) const;

 private:
  void Refuse(std::string_view what, std::string_view from, std::string_view to);

  const std::string job_;
  JobState state_ = JobState::kCreated;
  RescalePhase rescale_ = RescalePhase::kIdle;
  std::string rescale_text_;
  bool fail_instead_of_restart_ = false;
  bool redeploy_scheduled_ = false;
  int64_t illegal_ = 0;
};

}  // namespace sluice::jobmanager
