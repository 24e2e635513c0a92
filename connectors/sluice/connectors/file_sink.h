// The file sink: one line per record in part files, in buckets (sub-directories chosen per
// record), rolled by size, by age, by inactivity and at every checkpoint, exactly once with
// checkpointing (docs/connectors.md "Files").
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "sluice/datastream.h"

namespace sluice {

//! How a FileSink lays out and writes its records (Flink's FileSink builder settings).
template <typename T>
struct FileSinkOptions {
  //! The bucket of a record: a directory relative to the sink's, such as "dt=2026-12-06/hour=01"
  //! (Flink's BucketAssigner). Unset: every record goes into the sink's directory.
  std::function<std::string(const T&)> bucket_assigner;
  //! Appends a record's line, without the newline (Flink's Encoder). Unset: the record's ToString.
  //! CsvEncoder and JsonLinesEncoder (encoders.h) write structs with SLUICE_FIELDS.
  std::function<void(const T&, std::string&)> encoder;
  //! Rolling policy (Flink's DefaultRollingPolicy): a part file is closed and a new one begun
  //! once it holds `max_part_size` bytes, has been open `rollover_interval`, or has had no record
  //! for `inactivity_interval`; ages are checked every `check_interval` of processing time
  //! (0 turns the time-based rolling off). With checkpointing every part also rolls at each
  //! checkpoint: its two-phase commit makes whole files visible.
  uint64_t max_part_size = uint64_t{128} << 20;
  std::chrono::milliseconds rollover_interval = std::chrono::minutes(1);
  std::chrono::milliseconds inactivity_interval = std::chrono::minutes(1);
  std::chrono::milliseconds check_interval = std::chrono::minutes(1);
  //! At most this many part files open per subtask: opening one more rolls the one written least
  //! recently (many buckets at once never run out of file descriptors).
  size_t max_open_parts = 128;
};

//! Writes one line per record into part files of `dir` (or of its buckets).
//!
//! Without checkpointing: per subtask `part-<job>-<subtask>` (and `-<n>` for the parts after a
//! roll), hidden as `.<name>.inprogress` while written and made visible when rolled or at end of
//! input.
//!
//! With checkpointing, exactly once by two-phase commit: records go to a hidden
//! `.part-<job>-<subtask>-<attempt>-<n>.inprogress` per bucket; at a roll and at every checkpoint
//! the file is closed and renamed `.part-...-<n>.pending` (pre-commit), and every pending file is
//! kept in operator state; when the checkpoint after the roll completes its pending files are
//! renamed `part-<job>-<subtask>-<attempt>-<n>` (commit). On restore subtask 0 re-commits the
//! pending files of the snapshot (idempotently: a file already committed is skipped) and removes
//! the hidden files of earlier attempts, whose records will be replayed. At end of input the last
//! files are pre-committed and committed by the final checkpoint.
template <typename T>
class FileSink : public SinkOperator<T> {
 public:
  explicit FileSink(std::string dir, FileSinkOptions<T> options = {})
      : dir_(std::move(dir)), options_(std::move(options)) {}
  ~FileSink() override { Abort(); }

  void InitializeState(InitContext& ctx) override {
    restored_pending_ = ctx.OperatorState(kPendingState);
  }

  void Open(RuntimeContext& ctx, Output& out) override {
    SinkOperator<T>::Open(ctx, out);
    ctx_ = &ctx;
    std::filesystem::create_directories(dir_);
    job_ = ctx.JobId().substr(0, 8);
    base_ = "part-" + job_ + "-" + std::to_string(ctx.SubtaskIndex());
    transactional_ = ctx.IsCheckpointingEnabled();
    attempt_ = ctx.AttemptNumber();
    if (transactional_ && ctx.SubtaskIndex() == 0) Recover();
    restored_pending_.clear();
    if (options_.check_interval.count() > 0) ScheduleCheck();
    // Without checkpointing or buckets a subtask's file exists from the start, even if empty.
    if (!transactional_ && !options_.bucket_assigner) OpenPart(std::string());
  }

  void Process(const T& in) override {
    Part& part = PartFor(in);
    line_.clear();
    if (options_.encoder) {
      options_.encoder(in, line_);
    } else {
      AppendString(line_, in);
    }
    line_ += '\n';
    if (std::fwrite(line_.data(), 1, line_.size(), part.file) != line_.size()) {
      throw std::runtime_error("file sink: write to '" + Hidden(part.name, ".inprogress") +
                               "' failed");
    }
    part.bytes += line_.size();
    part.last_write = write_count_++;
    part.last_write_ms = now_ms_;
    if (part.bytes >= options_.max_part_size) Roll(part.bucket);
  }

  void SnapshotState(SnapshotContext& ctx) override {
    if (!transactional_) return;
    RollAll();
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

  //! Transactional: pre-commits, for the final checkpoint to commit; else publishes.
  void EndInput() override { RollAll(); }

  void Close() override { Abort(); }

 private:
  static constexpr const char* kPendingState = "pending-part-files";
  struct Pending {
    int64_t checkpoint_id;  // 0: rolled since the last snapshot, belongs to the next checkpoint
    std::string name;       // visible name relative to dir_; the hidden one is ".<file>.pending"
  };
  struct Part {
    std::string bucket;
    std::string name;  // visible name relative to dir_ (bucket/part-...)
    std::FILE* file = nullptr;
    uint64_t bytes = 0;
    uint64_t last_write = 0;    // write_count_ at its last record (least recently written)
    int64_t opened_ms = 0;      // processing time at open, for the rollover interval
    int64_t last_write_ms = 0;  // processing time at its last record, for inactivity
  };

  //! `name`'s hidden form: ".<file><suffix>" in the same directory.
  std::string Hidden(const std::string& name, const char* suffix) const {
    const size_t slash = name.rfind('/');
    if (slash == std::string::npos) return dir_ + "/." + name + suffix;
    return dir_ + "/" + name.substr(0, slash + 1) + "." + name.substr(slash + 1) + suffix;
  }

  Part& PartFor(const T& in) {
    if (!options_.bucket_assigner) {
      if (single_ == nullptr) single_ = &OpenPart(std::string());
      return *single_;
    }
    bucket_ = options_.bucket_assigner(in);
    auto it = parts_.find(bucket_);
    if (it != parts_.end()) return it->second;
    return OpenPart(bucket_);
  }

  Part& OpenPart(const std::string& bucket) {
    if (bucket.find("..") != std::string::npos || (!bucket.empty() && bucket[0] == '/')) {
      throw std::runtime_error("file sink: bucket '" + bucket +
                               "' must be a relative directory within the sink's");
    }
    if (parts_.size() >= options_.max_open_parts) RollLeastRecentlyWritten();
    Part part;
    part.bucket = bucket;
    std::string file;
    if (transactional_) {
      file = base_ + "-" + std::to_string(attempt_) + "-" + std::to_string(next_part_++);
    } else {
      const int n = next_part_++;
      file = n == 0 ? base_ : base_ + "-" + std::to_string(n);
    }
    part.name = bucket.empty() ? file : bucket + "/" + file;
    if (!bucket.empty()) std::filesystem::create_directories(dir_ + "/" + bucket);
    const std::string path = Hidden(part.name, ".inprogress");
    part.file = std::fopen(path.c_str(), "wb");
    if (!part.file) throw std::runtime_error("file sink: cannot create '" + path + "'");
    std::setvbuf(part.file, nullptr, _IOFBF, 1 << 16);
    part.opened_ms = part.last_write_ms = ctx_->CurrentProcessingTime();
    single_ = nullptr;  // the map may rehash
    Part& placed = parts_[bucket] = std::move(part);
    if (!options_.bucket_assigner) single_ = &placed;
    return placed;
  }

  //! Closes the bucket's part: pending (transactional) or visible.
  void Roll(std::string bucket) {
    auto it = parts_.find(bucket);
    if (it == parts_.end()) return;
    Part part = std::move(it->second);
    parts_.erase(it);
    single_ = nullptr;
    const std::string hidden = Hidden(part.name, ".inprogress");
    const int rc = std::fclose(part.file);
    if (rc != 0) throw std::runtime_error("file sink: close of '" + hidden + "' failed");
    if (transactional_) {
      std::filesystem::rename(hidden, Hidden(part.name, ".pending"));
      pending_.push_back(Pending{0, part.name});
    } else {
      std::filesystem::rename(hidden, dir_ + "/" + part.name);
    }
  }

  void RollAll() {
    std::vector<std::string> buckets;
    for (const auto& [bucket, part] : parts_) buckets.push_back(bucket);
    for (const std::string& b : buckets) Roll(b);
  }

  void RollLeastRecentlyWritten() {
    auto oldest = parts_.begin();
    for (auto it = parts_.begin(); it != parts_.end(); ++it) {
      if (it->second.last_write < oldest->second.last_write) oldest = it;
    }
    if (oldest != parts_.end()) Roll(std::string(oldest->first));
  }

  //! The time-based rolling policy, every check_interval of processing time.
  void ScheduleCheck() {
    now_ms_ = ctx_->CurrentProcessingTime();
    ctx_->ScheduleProcessingTime(now_ms_ + options_.check_interval.count(), [this] {
      now_ms_ = ctx_->CurrentProcessingTime();
      std::vector<std::string> due;
      for (const auto& [bucket, part] : parts_) {
        const bool old = options_.rollover_interval.count() > 0 &&
                         now_ms_ - part.opened_ms >= options_.rollover_interval.count();
        const bool idle = options_.inactivity_interval.count() > 0 &&
                          now_ms_ - part.last_write_ms >= options_.inactivity_interval.count();
        if (old || idle) due.push_back(bucket);
      }
      for (const std::string& b : due) Roll(b);
      ScheduleCheck();
    });
  }

  //! Makes a pending file visible; a file committed before is left alone.
  void Commit(const std::string& name) {
    const std::string hidden = Hidden(name, ".pending");
    const std::string visible = dir_ + "/" + name;
    std::error_code ec;
    if (std::filesystem::exists(hidden, ec)) {
      std::filesystem::rename(hidden, visible);
    } else if (!std::filesystem::exists(visible, ec)) {
      std::fprintf(stderr, "file sink: pending part file '%s' is missing; its records are lost\n",
                   hidden.c_str());
    }
  }

  //! Subtask 0 after a restart: commits the snapshot's pending files, removes what earlier attempts
  //! of this job left hidden (in every bucket).
  void Recover() {
    for (const std::string& name : restored_pending_) Commit(name);
    if (attempt_ == 0) return;
    const std::string prefix = ".part-" + job_ + "-";
    std::error_code ec;
    std::vector<std::filesystem::path> stale;
    for (auto it = std::filesystem::recursive_directory_iterator(dir_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      const std::string f = it->path().filename().string();
      if (f.rfind(prefix, 0) != 0) continue;
      // .part-<job>-<subtask>-<attempt>-<n>.(inprogress|pending)
      const std::string rest = f.substr(prefix.size());
      const size_t a = rest.find('-');
      const size_t b = a == std::string::npos ? a : rest.find('-', a + 1);
      if (b == std::string::npos) continue;
      const int attempt = std::atoi(rest.substr(a + 1, b - a - 1).c_str());
      if (attempt < attempt_) stale.push_back(it->path());
    }
    for (const auto& p : stale) std::filesystem::remove(p, ec);
  }

  //! Closes every open part and removes it (its records were never committed).
  void Abort() {
    for (auto& [bucket, part] : parts_) {
      std::fclose(part.file);
      std::error_code ec;
      std::filesystem::remove(Hidden(part.name, ".inprogress"), ec);
    }
    parts_.clear();
    single_ = nullptr;
  }

  std::string dir_;
  FileSinkOptions<T> options_;
  RuntimeContext* ctx_ = nullptr;
  std::string job_;
  std::string base_;
  bool transactional_ = false;
  int attempt_ = 0;
  int next_part_ = 0;
  std::unordered_map<std::string, Part> parts_;  // open parts by bucket
  Part* single_ = nullptr;                       // the one part without a bucket assigner
  std::string bucket_;
  uint64_t write_count_ = 0;
  int64_t now_ms_ =
      0;  // processing time at the last check (coarse on purpose: no clock per record)
  std::vector<Pending> pending_;
  std::vector<std::string> restored_pending_;
  std::string line_;
};

//! A bucket assigner by time (Flink's DateTimeBucketAssigner): the UTC time `time_ms(record)`
//! returns, in epoch milliseconds (an event time, or the processing time), formatted with
//! strftime's `format` — "%Y-%m-%d--%H" (Flink's default) or e.g. "dt=%Y-%m-%d/hour=%H".
template <typename T, typename TimeFn>
std::function<std::string(const T&)> DateTimeBuckets(TimeFn time_ms,
                                                     std::string format = "%Y-%m-%d--%H") {
  return [time_ms = std::move(time_ms), format = std::move(format), second = INT64_MIN,
          bucket = std::string()](const T& record) mutable {
    const int64_t ms = time_ms(record);
    const int64_t s = ms / 1000 - (ms % 1000 < 0);  // the format's finest unit: a second
    if (s != second) {
      second = s;
      const std::time_t t = static_cast<std::time_t>(s);
      std::tm utc{};
      gmtime_r(&t, &utc);
      char buf[256];
      bucket.assign(buf, std::strftime(buf, sizeof buf, format.c_str(), &utc));
    }
    return bucket;
  };
}

template <typename T>
auto MakeFileSink(const std::string& dir, FileSinkOptions<T> options = {}) {
  return [dir, options]() { return std::make_unique<FileSink<T>>(dir, options); };
}

}  // namespace sluice
