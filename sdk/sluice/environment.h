// StreamEnvironment: what a package's entry point fills with the job graph. The builder must be
// deterministic: the same package and arguments give the same nodes with the same ids everywhere.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sluice/key_groups.h"
#include "sluice/runtime.h"

namespace sluice {

class JobDefinitionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename T>
class DataStream;

class StreamEnvironment {
 public:
  StreamEnvironment(std::map<std::string, std::string> args, int default_parallelism)
      : args_(std::move(args)), default_parallelism_(default_parallelism) {}

  // ---- job arguments (`sluice run ... --arg key=value`) ----
  const std::map<std::string, std::string>& args() const { return args_; }
  bool HasArg(const std::string& key) const { return args_.count(key) > 0; }
  std::string Arg(const std::string& key, const std::string& fallback = "") const {
    auto it = args_.find(key);
    return it == args_.end() ? fallback : it->second;
  }
  std::string RequiredArg(const std::string& key) const {
    auto it = args_.find(key);
    if (it == args_.end() || it->second.empty()) {
      throw JobDefinitionError("missing required argument '" + key + "' (--arg " + key + "=...)");
    }
    return it->second;
  }
  int64_t IntArg(const std::string& key, int64_t fallback) const {
    auto it = args_.find(key);
    if (it == args_.end()) return fallback;
    try {
      size_t used = 0;
      int64_t v = std::stoll(it->second, &used);
      if (used != it->second.size()) throw std::invalid_argument("trailing");
      return v;
    } catch (const std::exception&) {
      throw JobDefinitionError("argument '" + key + "' must be an integer, got '" + it->second +
                               "'");
    }
  }

  // ---- job settings ----
  void SetJobName(std::string name) { job_name_ = std::move(name); }
  const std::string& job_name() const { return job_name_; }
  int default_parallelism() const { return default_parallelism_; }
  void SetMaxParallelism(int max_parallelism) { max_parallelism_ = max_parallelism; }
  //! How long a partially filled network buffer may wait before it is sent (Flink's
  //! setBufferTimeout): 0 sends after every record; unset (-1) uses execution.buffer-timeout.
  void SetBufferTimeout(int64_t millis) {
    if (millis < 0) throw JobDefinitionError("buffer timeout must be >= 0 ms");
    buffer_timeout_ms_ = millis;
  }
  int64_t buffer_timeout_ms() const { return buffer_timeout_ms_; }
  //! How often watermark generators emit (Flink's ExecutionConfig.setAutoWatermarkInterval);
  //! 0 turns periodic watermarks off; unset (-1) uses pipeline.auto-watermark-interval.
  void SetAutoWatermarkInterval(int64_t millis) {
    if (millis < 0) throw JobDefinitionError("the auto watermark interval must not be negative");
    auto_watermark_interval_ms_ = millis;
  }
  int64_t auto_watermark_interval_ms() const { return auto_watermark_interval_ms_; }

  //! Adds a source operator producing T, given as a factory returning a std::unique_ptr to it
  //! (run on the TaskManager, once per subtask), as a std::unique_ptr or as an object each subtask
  //! gets a copy of.
  template <typename T, typename Factory>
  DataStream<T> AddSource(Factory factory, const std::string& name);

  // ---- graph access for the host ----
  NodeSpec& AddNode(std::string name) {
    NodeSpec n;
    n.id = static_cast<uint32_t>(nodes_.size());
    n.name = std::move(name);
    nodes_.push_back(std::move(n));
    return nodes_.back();
  }
  NodeSpec& node(uint32_t id) { return nodes_.at(id); }
  const std::vector<NodeSpec>& nodes() const { return nodes_; }

  //! Resolves defaults: parallelism, max parallelism, uids, edge partitioners. Validates the graph.
  void Finalize() {
    if (nodes_.empty()) throw JobDefinitionError("the job defines no operators");
    for (auto& n : nodes_) {
      if (n.parallelism <= 0) n.parallelism = default_parallelism_;
      if (n.parallelism <= 0) n.parallelism = 1;
      if (n.max_parallelism <= 0) {
        n.max_parallelism =
            max_parallelism_ > 0 ? max_parallelism_ : DefaultMaxParallelism(n.parallelism);
      }
      if (n.max_parallelism > kUpperBoundMaxParallelism) {
        throw JobDefinitionError("operator '" + n.name + "': max parallelism above " +
                                 std::to_string(kUpperBoundMaxParallelism));
      }
      if (n.parallelism > n.max_parallelism) {
        throw JobDefinitionError("operator '" + n.name + "': parallelism " +
                                 std::to_string(n.parallelism) + " exceeds its max parallelism " +
                                 std::to_string(n.max_parallelism));
      }
      if (n.uid.empty()) n.uid = "node-" + std::to_string(n.id);
      if (!n.is_source && n.inputs.empty()) {
        throw JobDefinitionError("operator '" + n.name + "' has no input");
      }
      for (auto& e : n.inputs) {
        const NodeSpec& src = nodes_.at(e.source_id);
        if (e.kind == PartitionKind::kUnspecified) {
          e.kind = src.parallelism == n.parallelism ? PartitionKind::kForward
                                                    : PartitionKind::kRebalance;
        }
        if (e.kind == PartitionKind::kForward && src.parallelism != n.parallelism) {
          throw JobDefinitionError("forward edge from '" + src.name + "' to '" + n.name +
                                   "' needs equal parallelism");
        }
      }
    }
    std::map<std::string, uint32_t> uids;
    for (const auto& n : nodes_) {
      if (!uids.emplace(n.uid, n.id).second) {
        throw JobDefinitionError("duplicate operator uid '" + n.uid + "'");
      }
    }
  }

 private:
  std::map<std::string, std::string> args_;
  int default_parallelism_;
  int max_parallelism_ = 0;
  int64_t buffer_timeout_ms_ = -1;
  int64_t auto_watermark_interval_ms_ = -1;
  std::string job_name_;
  std::vector<NodeSpec> nodes_;
};

}  // namespace sluice
