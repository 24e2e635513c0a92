// Reaping the servers that test fixtures start as child processes (PostgreSQL, Swift): wait for a
// child told to stop, and kill it when it does not within a grace period.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

namespace sluice::testing {

//! Waits up to `grace` for child `pid` to exit, then SIGKILLs it; reaps it either way.
inline void ReapOrKill(pid_t pid, std::chrono::milliseconds grace) {
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace sluice::testing
