// Sinks: file (file_sink.h), print, discard.
#pragma once

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "sluice/connectors/file_sink.h"
#include "sluice/datastream.h"

namespace sluice {

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
auto MakePrintSink() {
  return []() { return std::make_unique<PrintSink<T>>(); };
}
template <typename T>
auto MakeDiscardingSink() {
  return []() { return std::make_unique<DiscardingSink<T>>(); };
}

}  // namespace sluice
