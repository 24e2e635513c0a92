// Sinks: file (one part file per subtask, hidden while written, renamed at end of input), print,
// discard.
#pragma once

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "sluice/datastream.h"

namespace sluice {

//! Writes one line per record (ToString) to `<dir>/part-<job>-<subtask>`. While written the file is
//! `.part-<job>-<subtask>.inprogress`; it becomes visible at end of input. A cancelled or failed
//! subtask removes its hidden file.
template <typename T>
class FileSink : public SinkOperator<T> {
 public:
  explicit FileSink(std::string dir) : dir_(std::move(dir)) {}
  ~FileSink() override { Abort(); }

  void Open(RuntimeContext& ctx, Output& out) override {
    SinkOperator<T>::Open(ctx, out);
    std::filesystem::create_directories(dir_);
    std::string base =
        "part-" + ctx.JobId().substr(0, 8) + "-" + std::to_string(ctx.SubtaskIndex());
    final_path_ = dir_ + "/" + base;
    tmp_path_ = dir_ + "/." + base + ".inprogress";
    file_ = std::fopen(tmp_path_.c_str(), "wb");
    if (!file_) throw std::runtime_error("file sink: cannot create '" + tmp_path_ + "'");
    std::setvbuf(file_, nullptr, _IOFBF, 1 << 16);
  }

  void Process(const T& in) override {
    line_.clear();
    AppendString(line_, in);
    line_ += '\n';
    if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size()) {
      throw std::runtime_error("file sink: write to '" + tmp_path_ + "' failed");
    }
  }

  void EndInput() override {
    if (std::fclose(file_) != 0) {
      file_ = nullptr;
      throw std::runtime_error("file sink: close of '" + tmp_path_ + "' failed");
    }
    file_ = nullptr;
    std::filesystem::rename(tmp_path_, final_path_);
    committed_ = true;
  }

  void Close() override { Abort(); }

 private:
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
  std::string final_path_;
  std::string tmp_path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
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
    std::fwrite(line_.data(), 1, line_.size(), stdout);
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
