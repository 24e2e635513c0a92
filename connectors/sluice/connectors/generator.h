// Parallel generator source: record i = fn(i). The id space is cut into `splits` splits; split j
// yields j, j+S, j+2S, ... (below `count` when bounded), and splits are dealt round-robin to the
// source subtasks. A split is the unit of source state. `rate` limits records per second per
// subtask. Given a WatermarkStrategy, each split has its own watermark generator (and idleness),
// combined over the subtask's splits: a split's event time never makes another's records late.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/datastream.h"
#include "sluice/state.h"
#include "sluice/watermarks.h"

namespace sluice {

struct GeneratorOptions {
  uint64_t count = 0;   // 0: unbounded
  uint32_t splits = 8;  // >= 1
  double rate = 0;      // records per second per subtask; 0: unlimited
};

template <typename T, typename Fn>
class GeneratorSource final : public StreamOperator {
 public:
  GeneratorSource(GeneratorOptions options, Fn fn,
                  std::optional<WatermarkStrategy<T>> strategy = std::nullopt)
      : options_(options), fn_(std::move(fn)), strategy_(std::move(strategy)) {}

  //! Restores the next id of each split this subtask owns (operator state "splits", one item
  //! per split, dealt out round-robin on rescale).
  void InitializeState(InitContext& ctx) override {
    restored_ = ctx.IsRestored();
    if (!restored_) return;
    for (const std::string& item : ctx.OperatorState(kSplitsState)) {
      uint64_t id = 0;
      internal::DeserializeFrom(item, id);
      next_.push_back(id);
    }
  }

  void Open(RuntimeContext& ctx, Output& out) override {
    StreamOperator::Open(ctx, out);
    if (!restored_) {
      for (uint32_t j = 0; j < options_.splits; ++j) {
        if (static_cast<int>(j % ctx.Parallelism()) == ctx.SubtaskIndex()) next_.push_back(j);
      }
    }
    if (strategy_) {
      for (uint32_t j = 0; j < options_.splits; ++j) split_names_.push_back(std::to_string(j));
      watermarks_ = std::make_unique<SourceWatermarks<T>>(*strategy_, ctx, out);
      split_handles_.resize(options_.splits);
      for (uint64_t id : next_) {
        watermarks_->AddSplit(SplitName(id));
        split_handles_[id % options_.splits] = watermarks_->Handle(SplitName(id));
      }
      watermarks_->StartPeriodicEmit();
    }
  }

  void SnapshotState(SnapshotContext& ctx) override {
    for (uint64_t id : next_) {
      if (options_.count != 0 && id >= options_.count) continue;  // exhausted
      ctx.AddOperatorState(kSplitsState, OperatorStateMode::kSplit,
                           internal::SerializeToString(id, scratch_));
    }
  }

  SourceStatus PollNext(int64_t* wait_micros) override {
    int64_t budget = kBatch;
    if (options_.rate > 0) {
      auto now = std::chrono::steady_clock::now();
      if (emitted_ == 0 && start_ == std::chrono::steady_clock::time_point()) start_ = now;
      double elapsed_s = std::chrono::duration<double>(now - start_).count();
      int64_t allowed = static_cast<int64_t>(elapsed_s * options_.rate) + 1 - emitted_;
      if (allowed <= 0) {
        double next_s = static_cast<double>(emitted_) / options_.rate;
        *wait_micros = std::max<int64_t>(50, static_cast<int64_t>((next_s - elapsed_s) * 1e6));
        return SourceStatus::kNothingAvailable;
      }
      budget = std::min<int64_t>(budget, allowed);
    }
    size_t paused = 0;  // splits in a row that watermark alignment holds back
    while (budget-- > 0) {
      if (next_.empty()) return SourceStatus::kEndOfInput;
      if (cursor_ >= next_.size()) cursor_ = 0;
      uint64_t& id = next_[cursor_];
      if (options_.count != 0 && id >= options_.count) {
        if (watermarks_) watermarks_->RemoveSplit(SplitName(id));  // it holds nothing back now
        next_.erase(next_.begin() + static_cast<long>(cursor_));
        continue;
      }
      if (watermarks_ && watermarks_->aligned() && watermarks_->SplitPaused(SplitName(id))) {
        ++cursor_;
        ++budget;  // a paused split costs no record
        if (++paused < next_.size()) continue;
        *wait_micros = SourceWatermarks<T>::kPausedWaitMicros;  // every split is paused
        // Time spent paused does not count towards the rate: no burst when the group lets it go.
        if (options_.rate > 0) {
          start_ =
              std::chrono::steady_clock::now() -
              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                  std::chrono::duration<double>(static_cast<double>(emitted_) / options_.rate));
        }
        return SourceStatus::kNothingAvailable;
      }
      paused = 0;
      T record = fn_(id);
      const uint64_t this_id = id;
      id += options_.splits;
      ++cursor_;
      ++emitted_;
      if (watermarks_) {
        watermarks_->OnRecord(split_handles_[this_id % options_.splits], record);
      } else {
        out_->Emit(&record);
      }
    }
    return SourceStatus::kMoreAvailable;
  }

 private:
  //! A split's name for its watermark generator (with a strategy only): made once, not per record.
  const std::string& SplitName(uint64_t id) const {
    return split_names_[static_cast<size_t>(id % options_.splits)];
  }

  static constexpr int64_t kBatch = 256;
  static constexpr const char* kSplitsState = "splits";
  bool restored_ = false;
  ByteWriter scratch_;
  GeneratorOptions options_;
  Fn fn_;
  std::optional<WatermarkStrategy<T>> strategy_;
  std::unique_ptr<SourceWatermarks<T>> watermarks_;  // per split, when given a strategy
  std::vector<std::string> split_names_;             // by split index, when given a strategy
  std::vector<typename SourceWatermarks<T>::SplitHandle> split_handles_;  // the same
  std::vector<uint64_t> next_;  // next id of each split this subtask owns
  size_t cursor_ = 0;
  int64_t emitted_ = 0;
  std::chrono::steady_clock::time_point start_{};
};

//! env.AddSource of a GeneratorSource; fn(uint64_t index) -> T.
template <typename Fn, typename T = std::decay_t<std::invoke_result_t<Fn, uint64_t>>>
DataStream<T> AddGenerator(StreamEnvironment& env, GeneratorOptions options, Fn fn,
                           const std::string& name = "Generator") {
  if (options.splits == 0) throw JobDefinitionError("generator needs at least one split");
  return env.AddSource<T>(
      [options, fn]() { return std::make_unique<GeneratorSource<T, Fn>>(options, fn); }, name);
}

//! The same with event time: each split's records get their timestamps and watermarks from
//! `strategy` (per split, combined over the subtask's splits; idleness per split).
template <typename Fn, typename T>
DataStream<T> AddGenerator(StreamEnvironment& env, GeneratorOptions options, Fn fn,
                           const WatermarkStrategy<T>& strategy,
                           const std::string& name = "Generator") {
  static_assert(std::is_same_v<T, std::decay_t<std::invoke_result_t<Fn, uint64_t>>>,
                "the strategy's type differs from the records fn makes");
  if (options.splits == 0) throw JobDefinitionError("generator needs at least one split");
  return env.AddSource<T>(
      [options, fn, strategy]() {
        return std::make_unique<GeneratorSource<T, Fn>>(options, fn, strategy);
      },
      name);
}

}  // namespace sluice
