// FakeRuntimeContext: the host's side of a task for running an operator without a cluster — in
// unit tests of a job's own operators, in the SDK's and connectors' tests, and in benchmarks.
// The test sets the subtask's identity, owns the record-timestamp slot, advances a processing-time
// clock (the callbacks operators scheduled on it run in time order as it passes them), sets what
// a watermark alignment group allows, and reads what operators reported. Single-threaded, like a
// task thread, except PostMail: other threads may post mail, which the test runs with RunMail.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "sluice/runtime.h"

namespace sluice::testing {

class FakeRuntimeContext : public RuntimeContext {
 public:
  explicit FakeRuntimeContext(int subtask = 0, int parallelism = 1,
                              std::string job_id = "0123456789abcdef0123456789abcdef",
                              int attempt = 0, bool checkpointing = false)
      : job_id(std::move(job_id)),
        subtask(subtask),
        parallelism(parallelism),
        attempt(attempt),
        checkpointing(checkpointing) {}

  const std::string& JobId() const override { return job_id; }
  const std::string& TaskName() const override { return task_name; }
  int SubtaskIndex() const override { return subtask; }
  int Parallelism() const override { return parallelism; }
  int MaxParallelism() const override { return max_parallelism; }
  bool IsCancelled() const override { return cancelled; }
  int AttemptNumber() const override { return attempt; }
  bool IsCheckpointingEnabled() const override { return checkpointing; }
  int64_t CurrentTimestamp() const override { return timestamp; }
  void SetCurrentTimestamp(int64_t t) override { timestamp = t; }
  int64_t CurrentProcessingTime() const override { return now; }
  void ScheduleProcessingTime(int64_t time_ms, std::function<void()> fn) override {
    scheduled.emplace_back(time_ms, std::move(fn));
  }
  int64_t AutoWatermarkIntervalMs() const override { return interval_ms; }
  void AddLateRecordsDropped(uint64_t n) override { late_records_dropped += n; }
  void ReportWatermarkForAlignment(const std::string& group, int64_t max_drift_ms,
                                   int64_t watermark, int paused_splits) override {
    alignment_reports.push_back(group + " drift " + std::to_string(max_drift_ms) + " wm " +
                                std::to_string(watermark) + " paused " +
                                std::to_string(paused_splits));
  }
  int64_t MaxAllowedWatermark() const override { return max_allowed; }
  void ReportSplitWatermarks(int64_t watermark, const std::string& held_by,
                             const std::vector<std::string>& idle) override {
    std::string line = "wm " + std::to_string(watermark) + " held by '" + held_by + "' idle";
    for (const std::string& s : idle) line += " " + s;
    split_reports.push_back(std::move(line));
  }
  bool PostMail(std::function<void()> mail) override {
    std::lock_guard<std::mutex> lock(mail_mu_);
    if (mail_closed_) return false;
    mail_.push_back(std::move(mail));
    mail_cv_.notify_all();
    return true;
  }

  //! Runs the mail posted so far (and any it posts), in order, as the task's mailbox would between
  //! records. Returns how many ran.
  size_t RunMail() {
    size_t ran = 0;
    for (;;) {
      std::function<void()> mail;
      {
        std::lock_guard<std::mutex> lock(mail_mu_);
        if (mail_.empty()) return ran;
        mail = std::move(mail_.front());
        mail_.pop_front();
      }
      mail();
      ++ran;
    }
  }
  //! Waits up to `timeout` for mail to be posted; whether some is queued.
  bool WaitForMail(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mail_mu_);
    return mail_cv_.wait_for(lock, timeout, [this] { return !mail_.empty(); });
  }
  //! Later mail is dropped (PostMail returns false), as after the task ended.
  void CloseMailbox() {
    std::lock_guard<std::mutex> lock(mail_mu_);
    mail_closed_ = true;
    mail_.clear();
  }

  //! Moves the clock to `t`, running every scheduled callback due by then in time order (a
  //! callback may schedule more).
  void AdvanceTo(int64_t t) {
    for (;;) {
      auto due = scheduled.end();
      for (auto it = scheduled.begin(); it != scheduled.end(); ++it) {
        if (it->first <= t && (due == scheduled.end() || it->first < due->first)) due = it;
      }
      if (due == scheduled.end()) break;
      now = std::max(now, due->first);
      std::function<void()> fn = std::move(due->second);
      scheduled.erase(due);
      fn();
    }
    now = t;
  }

  // The subtask's identity.
  std::string job_id;
  std::string task_name = "test-task";
  int subtask;
  int parallelism;
  int max_parallelism = 128;
  int attempt;
  bool checkpointing;
  bool cancelled = false;
  // Time.
  int64_t timestamp = kNoTimestamp;  //!< the record-timestamp slot
  int64_t now = 0;                   //!< processing time, ms
  int64_t interval_ms = 200;         //!< pipeline.auto-watermark-interval
  std::vector<std::pair<int64_t, std::function<void()>>> scheduled;
  // What the alignment group allows, and what operators reported.
  int64_t max_allowed = kMaxWatermark;
  uint64_t late_records_dropped = 0;
  std::vector<std::string> alignment_reports;
  std::vector<std::string> split_reports;

 private:
  std::mutex mail_mu_;
  std::condition_variable mail_cv_;
  std::deque<std::function<void()>> mail_;
  bool mail_closed_ = false;
};

}  // namespace sluice::testing
