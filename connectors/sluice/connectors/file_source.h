// Text file source: reads a file or every visible file of a directory, line by line. Files are cut
// into byte-range splits (a line belongs to the split where it starts), dealt round-robin to
// subtasks. Its operator state is the list of unread splits, the current one from the offset
// reached (a line start), so a restored source goes on where the checkpoint left off. Given a
// WatermarkStrategy<std::string> (its assigner reads the time from the line), each split has its
// own watermark generator while it is read; a finished split stops holding the watermark back.
// With FileSourceOptions::monitor_interval the source watches the directory instead of ending:
// every interval, each subtask takes the new files it owns (by a hash of the path) as splits, and
// the files it has taken are in its state (docs/connectors.md "Files").
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/datastream.h"
#include "sluice/state.h"
#include "sluice/watermarks.h"

namespace sluice {

struct FileSplit {
  std::string path;
  uint64_t start = 0;
  uint64_t end = 0;     // exclusive
  bool resume = false;  // start is a line start recorded by a checkpoint (nothing to skip)
  SLUICE_FIELDS(path, start, end, resume)
};

struct FileSourceOptions {
  //! Watch the directory (Flink's monitorContinuously): every interval of processing time, the
  //! visible files not seen before become splits, and the source never ends. 0 (the default):
  //! read what is there when the job starts, then end. A file must be complete when it becomes
  //! visible (written under a hidden name, '.' or '_' first, then renamed, as the file sink
  //! does): what is appended to it later is not read.
  std::chrono::milliseconds monitor_interval{0};
};

//! The visible regular files of `path` (a directory, sorted) or `path` itself (a file).
inline std::vector<std::string> ListVisibleFiles(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      std::string name = entry.path().filename().string();
      if (name.empty() || name[0] == '.' || name[0] == '_') continue;
      if (entry.is_regular_file(ec)) files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
  } else {
    throw std::runtime_error("file source: '" + path + "' is neither a file nor a directory");
  }
  return files;
}

//! Deterministic split plan: every subtask computes the same list and takes index % parallelism.
inline std::vector<FileSplit> PlanFileSplits(const std::string& path, int parallelism) {
  namespace fs = std::filesystem;
  const std::vector<std::string> files = ListVisibleFiles(path);
  std::vector<FileSplit> splits;
  constexpr uint64_t kMinSplit = 64 * 1024;
  for (const auto& f : files) {
    uint64_t size = fs::file_size(f);
    if (size == 0) continue;
    uint64_t chunk = std::max<uint64_t>(kMinSplit, (size + parallelism - 1) / parallelism);
    for (uint64_t start = 0; start < size; start += chunk) {
      splits.push_back(FileSplit{f, start, std::min(size, start + chunk)});
    }
  }
  return splits;
}

class TextFileSource final : public StreamOperator {
 public:
  explicit TextFileSource(std::string path,
                          std::optional<WatermarkStrategy<std::string>> strategy = std::nullopt,
                          FileSourceOptions options = {})
      : path_(std::move(path)), strategy_(std::move(strategy)), options_(options) {}
  ~TextFileSource() override { CloseFile(); }

  void InitializeState(InitContext& ctx) override {
    restored_ = ctx.IsRestored();
    if (!restored_) return;
    for (const std::string& item : ctx.OperatorState(kSplitsState)) {
      FileSplit split;
      internal::DeserializeFrom(item, split);
      mine_.push_back(std::move(split));
    }
    // Every subtask's seen files (a union list): a file is never taken twice, whoever owns it now.
    for (std::string& path : ctx.OperatorState(kSeenState)) seen_.insert(std::move(path));
  }

  void SnapshotState(SnapshotContext& ctx) override {
    ByteWriter w;
    if (file_ && pos_ < split_.end) {
      FileSplit rest{split_.path, pos_, split_.end, true};
      ctx.AddOperatorState(kSplitsState, OperatorStateMode::kSplit,
                           internal::SerializeToString(rest, w));
    }
    for (size_t i = next_split_; i < mine_.size(); ++i) {
      ctx.AddOperatorState(kSplitsState, OperatorStateMode::kSplit,
                           internal::SerializeToString(mine_[i], w));
    }
    // Each seen file once in the union: by the subtask that owns it now.
    for (const std::string& path : seen_) {
      if (Owns(path)) ctx.AddOperatorState(kSeenState, OperatorStateMode::kUnion, path);
    }
  }

  void Open(RuntimeContext& ctx, Output& out) override {
    StreamOperator::Open(ctx, out);
    if (strategy_) {
      watermarks_ = std::make_unique<SourceWatermarks<std::string>>(*strategy_, ctx, out);
      watermarks_->StartPeriodicEmit();
    }
    if (Monitoring()) {
      Scan();  // what is there now, and later what comes
      return;
    }
    if (restored_) return;
    auto all = PlanFileSplits(path_, ctx.Parallelism());
    for (size_t i = 0; i < all.size(); ++i) {
      if (static_cast<int>(i % ctx.Parallelism()) == ctx.SubtaskIndex()) mine_.push_back(all[i]);
    }
  }

  SourceStatus PollNext(int64_t* wait_micros) override {
    for (int n = 0; n < kBatch;) {
      if (!file_) {
        if (next_split_ >= mine_.size() && Monitoring()) {
          const int64_t now = ctx_->CurrentProcessingTime();
          if (now >= next_scan_ms_) Scan();
          if (next_split_ >= mine_.size()) {
            *wait_micros = std::clamp<int64_t>((next_scan_ms_ - now) * 1000, 1000, 100000);
            return n > 0 ? SourceStatus::kMoreAvailable : SourceStatus::kNothingAvailable;
          }
        }
        if (next_split_ >= mine_.size()) return SourceStatus::kEndOfInput;
        OpenSplit(mine_[next_split_++]);
        continue;
      }
      if (watermarks_ && watermarks_->SplitPaused(split_name_)) {
        // Watermark alignment: this subtask reads one split at a time, so it waits as a whole
        // until its group catches up.
        *wait_micros = SourceWatermarks<std::string>::kPausedWaitMicros;
        return n > 0 ? SourceStatus::kMoreAvailable : SourceStatus::kNothingAvailable;
      }
      if (pos_ >= split_.end || !ReadLine()) {
        CloseFile();
        continue;
      }
      if (watermarks_) {
        watermarks_->OnRecord(split_handle_, line_);
      } else {
        out_->Emit(&line_);
      }
      ++n;
    }
    return SourceStatus::kMoreAvailable;
  }

  void Close() override { CloseFile(); }

 private:
  static constexpr int kBatch = 512;
  static constexpr const char* kSplitsState = "splits";
  static constexpr const char* kSeenState = "seen-files";

  bool Monitoring() const { return options_.monitor_interval.count() > 0; }

  //! Whether this subtask reads `path` when it is new: a stable hash (FNV-1a) of the path, modulo
  //! the parallelism, so every subtask agrees whatever order they see files in.
  bool Owns(std::string_view path) const {
    uint64_t h = 1469598103934665603ULL;
    for (char c : path) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
    return static_cast<int>(h % static_cast<uint64_t>(ctx_->Parallelism())) == ctx_->SubtaskIndex();
  }

  //! Monitoring: the visible files not seen before that this subtask owns become splits (a file
  //! is read up to its size now); the next scan is one interval later.
  void Scan() {
    next_scan_ms_ = ctx_->CurrentProcessingTime() + options_.monitor_interval.count();
    for (const std::string& path : ListVisibleFiles(path_)) {
      if (seen_.count(path) != 0 || !Owns(path)) continue;
      seen_.insert(path);
      std::error_code ec;
      const uint64_t size = std::filesystem::file_size(path, ec);
      if (ec || size == 0) continue;
      mine_.push_back(FileSplit{path, 0, size});
    }
  }

  void OpenSplit(const FileSplit& split) {
    split_ = split;
    if (watermarks_) {
      split_name_ = split.path + "@" + std::to_string(split.start);
      watermarks_->AddSplit(split_name_);
      split_handle_ = watermarks_->Handle(split_name_);
    }
    file_ = std::fopen(split.path.c_str(), "rb");
    if (!file_) throw std::runtime_error("file source: cannot open '" + split.path + "'");
    pos_ = split.start;
    if (split.resume) {
      std::fseek(file_, static_cast<long>(split.start), SEEK_SET);
    } else if (split.start > 0) {
      // The line that straddles our start belongs to the previous split: skip past its end.
      std::fseek(file_, static_cast<long>(split.start - 1), SEEK_SET);
      pos_ = split.start - 1;
      int c;
      while ((c = std::fgetc(file_)) != EOF) {
        ++pos_;
        if (c == '\n') break;
      }
    }
  }

  bool ReadLine() {
    line_.clear();
    int c;
    bool any = false;
    while ((c = std::getc(file_)) != EOF) {
      any = true;
      ++pos_;
      if (c == '\n') break;
      line_.push_back(static_cast<char>(c));
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    return any;
  }

  void CloseFile() {
    if (file_) std::fclose(file_);
    if (file_ && watermarks_) watermarks_->RemoveSplit(split_name_);
    file_ = nullptr;
  }

  std::string path_;
  std::optional<WatermarkStrategy<std::string>> strategy_;
  FileSourceOptions options_;
  std::set<std::string> seen_;  // monitoring: the files taken by any subtask (restored) or this one
  int64_t next_scan_ms_ = 0;
  std::unique_ptr<SourceWatermarks<std::string>> watermarks_;  // given a strategy
  std::string split_name_;                                     // of the split being read
  SourceWatermarks<std::string>::SplitHandle split_handle_;    // its generator and output
  bool restored_ = false;
  std::vector<FileSplit> mine_;
  size_t next_split_ = 0;
  FileSplit split_;
  std::FILE* file_ = nullptr;
  uint64_t pos_ = 0;
  std::string line_;
};

inline DataStream<std::string> AddTextFileSource(StreamEnvironment& env, const std::string& path,
                                                 const std::string& name = "TextFileSource") {
  return env.AddSource<std::string>([path]() { return std::make_unique<TextFileSource>(path); },
                                    name);
}

//! The same with event time: the strategy's assigner reads each line's time; watermarks are
//! generated per split.
inline DataStream<std::string> AddTextFileSource(StreamEnvironment& env, const std::string& path,
                                                 const WatermarkStrategy<std::string>& strategy,
                                                 const std::string& name = "TextFileSource") {
  return env.AddSource<std::string>(
      [path, strategy]() { return std::make_unique<TextFileSource>(path, strategy); }, name);
}

//! Watches directory `path` (options.monitor_interval > 0): the source never ends.
inline DataStream<std::string> AddTextFileSource(StreamEnvironment& env, const std::string& path,
                                                 const FileSourceOptions& options,
                                                 const std::string& name = "TextFileSource") {
  return env.AddSource<std::string>(
      [path, options]() { return std::make_unique<TextFileSource>(path, std::nullopt, options); },
      name);
}

//! The same with event time.
inline DataStream<std::string> AddTextFileSource(StreamEnvironment& env, const std::string& path,
                                                 const FileSourceOptions& options,
                                                 const WatermarkStrategy<std::string>& strategy,
                                                 const std::string& name = "TextFileSource") {
  return env.AddSource<std::string>(
      [path, options, strategy]() {
        return std::make_unique<TextFileSource>(path, strategy, options);
      },
      name);
}

}  // namespace sluice
