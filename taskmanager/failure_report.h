// How a TaskManager explains a failure of user code, in words a job author can act on:
//   - an exception: its type (demangled) and message, the operator and the record it was
//     processing (sluice::UserCodeError), the task and job, and the stack where it was thrown;
//   - a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT): the handler writes the signal, the task
//     the crashing thread ran and its stack to the log (stderr) before the process dies.
// The stack of a throw is recorded by a hook on __cxa_throw in the TaskManager's executable
// (throw_hook.cc), into a per-thread slot read here.
#pragma once

#include <string>
#include <typeinfo>

namespace sluice {
class UserCodeError;
}

namespace sluice::taskmanager {

//! Records the calling thread's stack as the stack of the exception being thrown (called by the
//! __cxa_throw hook; cheap: raw addresses only, symbolized when a failure is reported).
void RecordThrowStack();

//! The stack RecordThrowStack last recorded on this thread, symbolized, one frame per line
//! ("    #3 Check::Process(long const&) +0x1c in failing_job.so"); "" when none was recorded.
std::string LastThrowStack();

//! Where a failure happened, for its text.
struct FailureContext {
  std::string job_id;
  std::string task;           //!< "Check -> Discard (3/4)"
  std::string operator_name;  //!< "" when not known
  std::string operator_uid;
};

//! The failure text of a UserCodeError:
//!   std::invalid_argument: stoll
//!     in operator 'Parse' (uid parse) of task 'Parse -> Sink (2/4)' of job <id>
//!     while processing record: abc,12
//!     thrown at:
//!       #0 ...
std::string DescribeUserCodeError(const UserCodeError& e, const FailureContext& where);

//! The failure text of another exception that ended a task: its type, message, where and stack.
std::string DescribeException(const std::type_info& type, const char* what,
                              const FailureContext& where);

//! Installs the crash handler (process-wide; once, at start-up).
void InstallCrashHandler();

//! Forks the crash watchdog; call before any thread starts. The watchdog is a small child that
//! reads what this process tells it through a pipe and ends when the pipe closes: if the
//! TaskManager died of a signal (its crash handler wrote which, and the task), the watchdog tells
//! the JobManager (ReportCrash), so that the job's failure says "crashed (SIGSEGV) while running
//! <task>" instead of "its connection dropped". A SIGKILL leaves nothing to report.
void StartCrashWatchdog();

//! What a crash handler wrote to its watchdog: the signal ("SIGSEGV") and the task ("" outside
//! of one).
struct CrashNote {
  std::string signal;
  std::string task;
};
//! The crash line ("crash SIG<name> <task>") in what a watchdog read, into `note`; false when
//! there is none. (No <optional> here: throw_hook.cc declares __cxa_throw its own way.)
bool FindCrashNote(const std::string& text, CrashNote* note);

//! A job process (taskmanager.process-per-job) has no watchdog: its crash handler writes
//! "crash SIG<name> <task>" to `fd`, the control socket its TaskManager daemon reads.
void UseCrashPipe(int fd);

//! Tells the watchdog this TaskManager's id and its JobManager (after each registration).
void TellWatchdog(const std::string& taskmanager_id, const std::string& jobmanager_address);

//! Names the task the calling thread runs, for the crash handler ("" clears it). The text is
//! copied into a per-thread buffer, so the handler never allocates.
void SetCrashContext(const std::string& task);

}  // namespace sluice::taskmanager
