// The contract between a job package and the TaskManager that runs it. A package's builder fills a
// StreamEnvironment with NodeSpecs; the host instantiates operators through the type-erased
// interfaces below. Everything here is compiled into both sides, so the ABI version guards its
// layout.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sluice/serialization.h"

#ifndef SLUICE_ABI_VERSION
#define SLUICE_ABI_VERSION 1
#endif

namespace sluice {

constexpr uint32_t kAbiVersion = SLUICE_ABI_VERSION;

//! Same numbers as proto Partitioner.
enum class PartitionKind {
  kUnspecified = 0,
  kForward = 1,
  kHash = 2,
  kRebalance = 3,
  kBroadcast = 4
};

//! Where an operator emits its records; the host wires it to chained operators or the network.
class Output {
 public:
  virtual ~Output() = default;
  virtual void Emit(const void* record) = 0;
};

//! What an operator learns about the subtask it runs in. Owned by the host's task, valid until
//! Close.
class RuntimeContext {
 public:
  virtual ~RuntimeContext() = default;
  virtual const std::string& JobId() const = 0;
  virtual const std::string& TaskName() const = 0;
  virtual int SubtaskIndex() const = 0;
  virtual int Parallelism() const = 0;
  virtual int MaxParallelism() const = 0;
  virtual bool IsCancelled() const = 0;
};

enum class SourceStatus { kMoreAvailable, kNothingAvailable, kEndOfInput };

//! Type-erased operator, run by exactly one task thread: Open, then records (or PollNext for a
//! source), EndInput once all inputs ended, Close. Close also runs after a failure or cancel.
class StreamOperator {
 public:
  virtual ~StreamOperator() = default;
  virtual void Open(RuntimeContext& ctx, Output& out) {
    ctx_ = &ctx;
    out_ = &out;
  }
  //! A record of the input type, from a chained predecessor.
  virtual void ProcessRecord(const void* record) { (void)record; }
  //! A serialized record of the input type, from the network.
  virtual void ProcessSerialized(const uint8_t* data, size_t size) {
    (void)data;
    (void)size;
  }
  //! Sources only: emit some records; on kNothingAvailable set *wait_micros to when to ask again.
  virtual SourceStatus PollNext(int64_t* wait_micros) {
    (void)wait_micros;
    return SourceStatus::kEndOfInput;
  }
  virtual void EndInput() {}
  virtual void Close() {}

 protected:
  RuntimeContext* ctx_ = nullptr;
  Output* out_ = nullptr;
};

//! Typed emitting handle given to user functions.
template <typename T>
class Collector {
 public:
  explicit Collector(Output* out = nullptr) : out_(out) {}
  void Collect(const T& record) { out_->Emit(&record); }
  void Reset(Output* out) { out_ = out; }

 private:
  Output* out_;
};

//! Base for operators with one (possibly union) input of type IN.
template <typename IN>
class InputOperator : public StreamOperator {
 public:
  void ProcessRecord(const void* record) final { Process(*static_cast<const IN*>(record)); }
  void ProcessSerialized(const uint8_t* data, size_t size) final {
    DeserializeRecord(data, size, scratch_);
    Process(scratch_);
  }
  virtual void Process(const IN& in) = 0;

 private:
  IN scratch_{};
};

struct EdgeSpec {
  uint32_t source_id = 0;
  PartitionKind kind = PartitionKind::kUnspecified;
  std::function<int32_t(const void*)> key_hash;  // kHash only: KeyHash of the record's key
};

struct NodeSpec {
  uint32_t id = 0;
  std::string uid;
  std::string name;
  int parallelism = 0;      // 0: the environment's default
  int max_parallelism = 0;  // 0: the environment's, else derived from the parallelism
  bool is_source = false;
  bool chainable = true;
  std::vector<EdgeSpec> inputs;
  std::function<std::unique_ptr<StreamOperator>()> factory;
  void (*serialize_output)(const void* record, ByteWriter& out) = nullptr;
};

template <typename T>
void SerializeErased(const void* record, ByteWriter& out) {
  Serializer<T>::Write(*static_cast<const T*>(record), out);
}

}  // namespace sluice
