// Sinks: file (one part file per subtask, hidden while written, renamed at end of input), print,
// discard.
#pragma once

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "sluice/datastream.h"

namespace sluice {

//! Writes one line per record (ToString) into part files of `dir`.
//!
//! Without checkpointing: one file per subtask, `part-<job>-<subtask>`, hidden as
//! `.part-<job>-<subtask>.inprogress` while written and made visible at end of input.
//!
//! With checkpointing, exactly once by two-phase commit: records go to a hidden
//! `.part-<job>-<subtask>-<attempt>-<n>.inprogress`; at a checkpoint the file is closed and
//! renamed `.part-...-<n>.pending` (pre-commit) and every pending file is kept in operator state;
//! when the checkpoint completes its pending files are renamed `part-<job>-<subtask>-<attempt>-<n>`
//! (commit). On restore subtask 0 re-commits the pending files of the snapshot (idempotently: a
//! file already committed is skipped) and removes the hidden files of earlier attempts, whose
//! records will be replayed. At end of input the last file is pre-committed and committed by the
//! final checkpoint.
template <typename T>
class FileSink : public SinkOperator<T> {
 public:
  explicit FileSink(std::string dir) : dir_(std::move(dir)) {}
  ~FileSink() override { Abort(); }

  void InitializeState(InitContext& ctx) override {
    restored_pending_ = ctx.OperatorState(kPendingState);
  }

  void Open(RuntimeContext& ctx, Output& out) override {
    SinkOperator<T>::Open(ctx, out);
    std::filesystem::create_directories(dir_);
    job_ = ctx.JobId().substr(0, 8);
    base_ = "part-" + job_ + "-" + std::to_string(ctx.SubtaskIndex());
    transactional_ = ctx.IsCheckpointingEnabled();
    attempt_ = ctx.AttemptNumber();
    if (transactional_) {
      if (ctx.SubtaskIndex() == 0) Recover();
      restored_pending_.clear();
      return;
    }
    final_path_ = dir_ + "/" + base_;
    tmp_path_ = dir_ + "/." + base_ + ".inprogress";
    OpenFile();
  }

  void Process(const T& in) override {
    if (!file_) OpenPart();
    line_.clear();
    AppendString(line_, in);
    line_ += '\n';
    if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size()) {
      throw std::runtime_error("file sink: write to '" + tmp_path_ + "' failed");
    }
  }

  void SnapshotState(SnapshotContext& ctx) override {
    if (!transactional_) return;
    PreCommit();
    for (Pending& p : pending_) {
      if (p.checkpoint_id == 0) p.checkpoint_id = ctx.CheckpointId();
      ctx.AddOperatorState(kPendingState, OperatorStateMode::kUnion, p.name);
    }
  }

  void NotifyCheckpointComplete(int64_t checkpoint_id) override {
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->checkpoint_id != 0 && it->checkpoint_id <= checkpoint_id) {
        Commit(it->name);
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void EndInput() override {
    if (transactional_) {
      PreCommit();  // committed by the final checkpoint
      return;
    }
    CloseFile();
    std::filesystem::rename(tmp_path_, final_path_);
    committed_ = true;
  }

  void Close() override { Abort(); }

 private:
  static constexpr const char* kPendingState = "pending-part-files";
  struct Pending {
    int64_t checkpoint_id;  // 0: taken at end of input, belongs to the next checkpoint
    std::string name;       // visible name; the hidden one is "." + name + ".pending"
  };

  void OpenFile() {
    file_ = std::fopen(tmp_path_.c_str(), "wb");
    if (!file_) throw std::runtime_error("file sink: cannot create '" + tmp_path_ + "'");
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 16);
    committed_ = false;
  }

  void OpenPart() {
    part_name_ = base_ + "-" + std::to_string(attempt_) + "-" + std::to_string(next_part_++);
    tmp_path_ = dir_ + "/." + part_name_ + ".inprogress";
    OpenFile();
  }

  void CloseFile() {
    int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) throw std::runtime_error("file sink: close of '" + tmp_path_ + "' failed");
  }

  void PreCommit() {
    if (!file_) return;
    CloseFile();
    std::filesystem::rename(tmp_path_, dir_ + "/." + part_name_ + ".pending");
    committed_ = true;  // nothing in progress to clean up
    pending_.push_back(Pending{0, part_name_});
  }

  //! Makes a pending file visible; a file committed before is left alone.
  void Commit(const std::string& name) {
    std::string hidden = dir_ + "/." + name + ".pending";
    std::string visible = dir_ + "/" + name;
    std::error_code ec;
    if (std::filesystem::exists(hidden, ec)) {
      std::filesystem::rename(hidden, visible);
    } else if (!std::filesystem::exists(visible, ec)) {
      std::fprintf(stderr, "file sink: pending part file '%s' is missing; its records are lost\n",
                   hidden.c_str());
    }
  }

  //! Subtask 0 after a restart: commits the snapshot's pending files, removes what earlier attempts
  //! of this job left hidden.
  void Recover() {
    for (const std::string& name : restored_pending_) Commit(name);
    if (attempt_ == 0) return;
    std::string prefix = ".part-" + job_ + "-";
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
      std::string f = entry.path().filename().string();
      if (f.rfind(prefix, 0) != 0) continue;
      // .part-<job>-<subtask>-<attempt>-<n>.(inprogress|pending)
      std::string rest = f.substr(prefix.size());
      size_t a = rest.find('-');
      size_t b = a == std::string::npos ? a : rest.find('-', a + 1);
      if (b == std::string::npos) continue;
      int attempt = std::atoi(rest.substr(a + 1, b - a - 1).c_str());
      if (attempt < attempt_) std::filesystem::remove(entry.path(), ec);
    }
  }

  void Abort() {
    if (file_) {
      std::fclose(file_);
      file_ = nullptr;
    }
    if (!committed_ && !tmp_path_.empty()) {
      std::error_code ec;
      std::filesystem::remove(tmp_path_, ec);
    }
  }

  std::string dir_;
  std::string job_;
  std::string base_;
  std::string final_path_;
  std::string tmp_path_;
  std::string part_name_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
  bool transactional_ = false;
  int attempt_ = 0;
  int next_part_ = 0;
  std::vector<Pending> pending_;
  std::vector<std::string> restored_pending_;
  std::string line_;
};

//! Prints records to the TaskManager's stdout, prefixed with "<subtask>> " when parallel (as
//! Flink).
template <typename T>
class PrintSink : public SinkOperator<T> {
 public:
  void Open(RuntimeContext& ctx, Output& out) override {
    SinkOperator<T>::Open(ctx, out);
    if (ctx.Parallelism() > 1) prefix_ = std::to_string(ctx.SubtaskIndex() + 1) + "> ";
  }
  void Process(const T& in) override {
    line_ = prefix_;
    AppendString(line_, in);
    line_ += '\n';
    // Each line is flushed, as Flink's print sink does: a running job's output shows at once
    // (`sluice logs`), not when a buffer fills or the job ends.
    std::fwrite(line_.data(), 1, line_.size(), stdout);
    std::fflush(stdout);
  }
  void EndInput() override { std::fflush(stdout); }
  void Close() override { std::fflush(stdout); }

 private:
  std::string prefix_;
  std::string line_;
};

template <typename T>
class DiscardingSink : public SinkOperator<T> {
 public:
  void Process(const T&) override {}
};

template <typename T>
auto MakeFileSink(const std::string& dir) {
  return [dir]() { return std::make_unique<FileSink<T>>(dir); };
}
template <typename T>
auto MakePrintSink() {
  return []() { return std::make_unique<PrintSink<T>>(); };
}
template <typename T>
auto MakeDiscardingSink() {
  return []() { return std::make_unique<DiscardingSink<T>>(); };
}

}  // namespace sluice
