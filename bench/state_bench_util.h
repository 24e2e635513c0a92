// Helpers of the single-process keyed-state benchmarks (checkpoint_bench, restore_bench): their
// scratch folder and failure exit, timing, and the host's side of a heap snapshot.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/snapshot/key_groups_format.h"
#include "sluice/runtime.h"

namespace sluice::bench {

using Clock = std::chrono::steady_clock;

inline double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

//! The benchmark's name (in its messages) and temporary folder (removed by Fail and at the end).
struct Scratch {
  static inline const char* program = "bench";
  static inline std::string dir;
};

[[noreturn]] inline void Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "%s: %s: %s\n", Scratch::program, what,
               std::string(status.message()).c_str());
  std::error_code ec;
  if (!Scratch::dir.empty()) std::filesystem::remove_all(Scratch::dir, ec);
  std::exit(1);
}

template <typename T>
T Check(absl::StatusOr<T> value, const char* what) {
  if (!value.ok()) Fail(what, value.status());
  return *std::move(value);
}

//! Hands a heap store's entries to the file builder, as task_state.cc's snapshot context does:
//! the store freezes its tables in the synchronous part; Deferred() writes them out later.
class BuilderWriter final : public KeyedStateWriter, public SnapshotContext {
 public:
  explicit BuilderWriter(snapshot::KeyGroupsFileBuilder* builder) : builder_(builder) {}
  void Write(int key_group, const std::string& state, std::string_view key,
             std::string_view user_key, std::string_view value) override {
    builder_->Add(key_group, state, key, user_key, value);
  }
  int64_t CheckpointId() const override { return 1; }
  void AddOperatorState(const std::string&, OperatorStateMode, std::string) override {}
  KeyedStateWriter& Keyed() override { return *this; }
  void AddKeyedSnapshot(std::function<void(KeyedStateWriter&)> write) override {
    deferred_.push_back(std::move(write));
  }
  //! The asynchronous part's serialization of the frozen state.
  void Deferred() {
    for (auto& w : deferred_) w(*this);
    deferred_.clear();
  }

 private:
  snapshot::KeyGroupsFileBuilder* builder_;
  std::vector<std::function<void(KeyedStateWriter&)>> deferred_;
};

}  // namespace sluice::bench
