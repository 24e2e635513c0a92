// The contract between a job package and the TaskManager that runs it. A package's builder fills a
// StreamEnvironment with NodeSpecs; the host instantiates operators through the type-erased
// interfaces below. Everything here is compiled into both sides, so the ABI version guards its
// layout.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/internal/user_code_error.h"
#include "sluice/serialization.h"

#ifndef SLUICE_ABI_VERSION
#define SLUICE_ABI_VERSION 5
#endif

namespace sluice {

constexpr uint32_t kAbiVersion = SLUICE_ABI_VERSION;

//! A record's timestamp when it has none (Flink's StreamRecord without a timestamp), and the
//! watermark before the first one: no event time has been seen.
inline constexpr int64_t kNoTimestamp = INT64_MIN;
//! The watermark at the end of a bounded input (and of `stop --drain`): every event-time window
//! and timer fires.
inline constexpr int64_t kMaxWatermark = INT64_MAX;

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
  //! Event time has reached `watermark`: no record with a timestamp at or below it follows.
  virtual void EmitWatermark(int64_t watermark) { (void)watermark; }
  //! Flink's WatermarkStatus: an idle output holds back no downstream watermark until it emits
  //! again (a record or a watermark makes it active).
  virtual void EmitWatermarkStatus(bool idle) { (void)idle; }
  //! A record for the side output `tag` (OutputTag's id); dropped when nothing consumes it.
  virtual void EmitSideOutput(const std::string& tag, const void* record) {
    (void)tag;
    (void)record;
  }
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
  //! 0 for the job's first run, +1 for every restart.
  virtual int AttemptNumber() const = 0;
  //! Whether the job takes checkpoints (transactional sinks then commit on checkpoint completion).
  virtual bool IsCheckpointingEnabled() const = 0;
  //! The timestamp of the record being processed, which the records emitted now carry unless the
  //! operator sets another (Flink's StreamRecord timestamp); kNoTimestamp when it has none. One
  //! slot per task, shared along the chain: map, filter and flat map keep it by doing nothing.
  virtual int64_t CurrentTimestamp() const { return kNoTimestamp; }
  virtual void SetCurrentTimestamp(int64_t timestamp) { (void)timestamp; }
  //! Milliseconds since the epoch, by the host's clock.
  virtual int64_t CurrentProcessingTime() const { return 0; }
  //! Runs `fn` on the task thread, between records, once the host's clock reaches `time_ms`
  //! (through the task mailbox). Not snapshotted: operators re-register after a restore.
  virtual void ScheduleProcessingTime(int64_t time_ms, std::function<void()> fn) {
    (void)time_ms;
    (void)fn;
  }
  //! pipeline.auto-watermark-interval in milliseconds (0: periodic watermarks are off).
  virtual int64_t AutoWatermarkIntervalMs() const { return 200; }
  //! Counts records dropped because they came too late for every window (numLateRecordsDropped).
  virtual void AddLateRecordsDropped(uint64_t n) { (void)n; }
  //! Watermark alignment (a source whose strategy has WithWatermarkAlignment): the source's
  //! current watermark in `group` (kMaxWatermark when idle), its max drift, and how many of its
  //! splits alignment holds paused now. The host passes it to the JobManager with its metrics.
  virtual void ReportWatermarkForAlignment(const std::string& group, int64_t max_drift_ms,
                                           int64_t watermark, int paused_splits) {
    (void)group;
    (void)max_drift_ms;
    (void)watermark;
    (void)paused_splits;
  }
  //! The most this source's watermark may advance to, as its alignment group last allowed
  //! (the slowest other member's watermark plus max drift); kMaxWatermark when unbounded.
  virtual int64_t MaxAllowedWatermark() const { return kMaxWatermark; }
  //! A source's splits, for `sluice watermarks`: its combined watermark, the split that holds it
  //! back (empty: none), and the splits that are idle.
  virtual void ReportSplitWatermarks(int64_t watermark, const std::string& held_by,
                                     const std::vector<std::string>& idle) {
    (void)watermark;
    (void)held_by;
    (void)idle;
  }
  //! Any thread: runs `mail` on the task thread, between records, through the task mailbox
  //! (waking the task when it waits for input). Async I/O hands its results to the task this
  //! way. False, and the mail is dropped, once the task has ended or where the host has no
  //! mailbox.
  virtual bool PostMail(std::function<void()> mail) {
    (void)mail;
    return false;
  }
};

//! Serialized keyed state kept by the host (state.backend.type: rocksdb). The current key is set
//! before each access; a state is a named column; `user_key` tells the entries of a MapState
//! apart (it is empty for Value, List and Reducing state). Task thread only.
class KeyedStateBackend {
 public:
  virtual ~KeyedStateBackend() = default;
  //! Id of the named state, created on first use.
  virtual int RegisterState(const std::string& name) = 0;
  //! `key` is the serialized key; `key_group` its key group.
  virtual void SetCurrentKey(const uint8_t* key, size_t size, int key_group) = 0;
  virtual bool Get(int state, std::string_view user_key, std::string* value) = 0;
  virtual void Put(int state, std::string_view user_key, std::string_view value) = 0;
  //! Appends bytes to the stored value (ListState: items are self-delimiting).
  virtual void Append(int state, std::string_view user_key, std::string_view bytes) = 0;
  virtual void Delete(int state, std::string_view user_key) = 0;
  //! Deletes every entry of the state under the current key.
  virtual void DeleteAll(int state) = 0;
  //! Every entry of the state under the current key, in user-key byte order.
  virtual void ForEachUserKey(
      int state,
      const std::function<void(std::string_view user_key, std::string_view value)>& fn) = 0;
  //! Every serialized key with an entry in the state, each once.
  virtual void ForEachKey(int state, const std::function<void(std::string_view key)>& fn) = 0;
  //! State `state` has a time-to-live of `ttl_ms` (sluice/state_ttl.h): each stored value, map
  //! entry and list element starts with the processing time it was last written (8 bytes), and
  //! the host may drop the expired ones in the background (RocksDB: in compactions, reading the
  //! clock again every `query_time_after_entries` entries). For list state, `element_size` gives
  //! the bytes of the element at `data` (0: unreadable), and may be called from any thread while
  //! the backend is open; null for value and map state.
  virtual void SetTimeToLive(int state, int64_t ttl_ms, int64_t query_time_after_entries,
                             size_t (*element_size)(const uint8_t* data, size_t size)) {
    (void)state;
    (void)ttl_ms;
    (void)query_time_after_entries;
    (void)element_size;
  }
};

//! Receives a heap keyed operator's state during the synchronous part of a snapshot, as entries
//! of (key group, state, key, user key, value).
class KeyedStateWriter {
 public:
  virtual ~KeyedStateWriter() = default;
  virtual void Write(int key_group, const std::string& state, std::string_view key,
                     std::string_view user_key, std::string_view value) = 0;
};

//! Same numbers as proto OperatorStateList.Mode.
enum class OperatorStateMode { kSplit = 0, kUnion = 1 };

//! Given to StreamOperator::SnapshotState on the task thread. Whatever the operator adds is part
//! of the checkpoint; the host writes it out asynchronously.
class SnapshotContext {
 public:
  virtual ~SnapshotContext() = default;
  virtual int64_t CheckpointId() const = 0;
  //! Adds one item to the operator-state list `name` (created on first use).
  virtual void AddOperatorState(const std::string& name, OperatorStateMode mode,
                                std::string item) = 0;
  //! Where a heap keyed operator writes its keyed state now (synchronous part).
  virtual KeyedStateWriter& Keyed() = 0;
  //! A function that writes keyed state later, in the asynchronous part, on an I/O thread: it must
  //! only read data frozen now (copy-on-write snapshots of heap state).
  virtual void AddKeyedSnapshot(std::function<void(KeyedStateWriter&)> write) = 0;
};

//! Keyed state names starting with this are the host's (its timers, in snapshots).
inline constexpr char kReservedStatePrefix[] = "_timers/";

//! Event time or processing time (Flink's TimeDomain). Same numbers as in snapshots.
enum class TimeDomain { kEventTime = 0, kProcessingTime = 1 };

//! What the host calls when a timer of a keyed operator fires; implemented by the operator. Task
//! thread, between records. `key` and `ns` are the serialized key and namespace the timer was
//! registered with.
class TimerTarget {
 public:
  virtual ~TimerTarget() = default;
  virtual void OnTimer(TimeDomain domain, int64_t timestamp, std::string_view key,
                       std::string_view ns) = 0;
};

//! The timers of one keyed operator, kept by the host whatever the state backend: at most one
//! timer per domain, key, namespace and time; snapshotted, restored and rescaled with their key's
//! key group. Event-time timers fire when the watermark reaches them, processing-time timers when
//! the wall clock does; earliest first, on the task thread, never inside a record. Owned by the
//! host, valid until the operator's Close. Task thread only.
class InternalTimerService {
 public:
  virtual ~InternalTimerService() = default;
  //! `key` is the serialized key, `key_group` its key group, `ns` the serialized namespace.
  virtual void Register(TimeDomain domain, int64_t timestamp, std::string_view key, int key_group,
                        std::string_view ns) = 0;
  virtual void Delete(TimeDomain domain, int64_t timestamp, std::string_view key, int key_group,
                      std::string_view ns) = 0;
  //! The operator's current event time: INT64_MIN until the first watermark.
  virtual int64_t CurrentWatermark() const = 0;
  //! Milliseconds since the epoch, by the host's clock.
  virtual int64_t CurrentProcessingTime() const = 0;
};

//! Heap keyed state (state.backend.type: hashmap) of one operator instance, as the host sees it:
//! an estimate of the bytes it holds, so that the TaskManager can count it against its memory
//! budget. Task thread only.
class HeapStateSizer {
 public:
  virtual ~HeapStateSizer() = default;
  virtual size_t EstimateHeapBytes() const = 0;
};

//! Given to StreamOperator::InitializeState before Open: the restored state, if any, and the
//! keyed state backend to use. Append-only (docs/decisions.md, "Where state lives"): packages built
//! against an older SDK call the functions they know.
class InitContext {
 public:
  virtual ~InitContext() = default;
  virtual bool IsRestored() const = 0;
  //! The operator's max parallelism (number of key groups).
  virtual int MaxParallelism() const = 0;
  //! The restored items of operator-state list `name` for this subtask (empty when none).
  virtual std::vector<std::string> OperatorState(const std::string& name) const = 0;
  //! Restored keyed entries of this subtask's key groups (heap operators read them here).
  virtual void ForEachKeyedEntry(
      const std::function<void(int key_group, const std::string& state, std::string_view key,
                               std::string_view user_key, std::string_view value)>& fn) const = 0;
  //! Non-null when keyed state lives in the host (rocksdb); null: keep it on the heap.
  virtual KeyedStateBackend* KeyedBackend() = 0;
  //! Keyed operators: the timer service `name` (created on first use, restored timers included),
  //! firing into `target`; null where the operator is not keyed.
  virtual InternalTimerService* TimerService(const std::string& name, TimerTarget* target) {
    (void)name;
    (void)target;
    return nullptr;
  }
  //! Keyed operators with heap state: the host asks `sizer` for the state's size while the
  //! operator lives (its memory budget, docs/state-backends.md).
  virtual void AddHeapState(const HeapStateSizer* sizer) { (void)sizer; }
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
  //! Two-input operators (Connect): a record of the second input, which always comes from the
  //! network (a two-input operator heads its chain). The first input's come as above.
  virtual void ProcessSerialized2(const uint8_t* data, size_t size) {
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

  //! The operator's input watermark advanced (the host fired its event-time timers up to it
  //! first). Default: forward it. An operator that makes its own watermarks (timestamps and
  //! watermarks assignment) overrides this.
  virtual void ProcessWatermark(int64_t watermark) {
    if (out_) out_->EmitWatermark(watermark);
  }
  //! Every input became idle (true) or one became active again (false). Default: forward it.
  virtual void ProcessWatermarkStatus(bool idle) {
    if (out_) out_->EmitWatermarkStatus(idle);
  }

  //! Before Open: restore state (when ctx.IsRestored()) and pick up the keyed backend.
  virtual void InitializeState(InitContext& ctx) { (void)ctx; }
  //! Synchronous part of a checkpoint, between records: add the operator's state to ctx.
  virtual void SnapshotState(SnapshotContext& ctx) { (void)ctx; }
  //! Checkpoint `checkpoint_id` is complete (durable): transactional sinks commit here.
  virtual void NotifyCheckpointComplete(int64_t checkpoint_id) { (void)checkpoint_id; }

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
  // A try block costs nothing until something is thrown; then the failure names this operator
  // and the record (internal/user_code_error.h).
  void ProcessRecord(const void* record) final {
    const IN& in = *static_cast<const IN*>(record);
    try {
      Process(in);
    } catch (...) {
      internal::RethrowAsUserCodeError(this, in);
    }
  }
  void ProcessSerialized(const uint8_t* data, size_t size) final {
    DeserializeRecord(data, size, scratch_);
    try {
      Process(scratch_);
    } catch (...) {
      internal::RethrowAsUserCodeError(this, scratch_);
    }
  }
  virtual void Process(const IN& in) = 0;

 private:
  IN scratch_{};
};

//! Base for operators with two inputs (Connect) of types IN1 and IN2. Both come from the network:
//! the host hands each record to the side its edge feeds (EdgeSpec::input).
template <typename IN1, typename IN2>
class TwoInputOperator : public StreamOperator {
 public:
  void ProcessSerialized(const uint8_t* data, size_t size) final {
    DeserializeRecord(data, size, scratch1_);
    try {
      Process1(scratch1_);
    } catch (...) {
      internal::RethrowAsUserCodeError(this, scratch1_);
    }
  }
  void ProcessSerialized2(const uint8_t* data, size_t size) final {
    DeserializeRecord(data, size, scratch2_);
    try {
      Process2(scratch2_);
    } catch (...) {
      internal::RethrowAsUserCodeError(this, scratch2_);
    }
  }
  virtual void Process1(const IN1& in) = 0;
  virtual void Process2(const IN2& in) = 0;

 private:
  IN1 scratch1_{};
  IN2 scratch2_{};
};

struct EdgeSpec {
  uint32_t source_id = 0;
  PartitionKind kind = PartitionKind::kUnspecified;
  std::function<int32_t(const void*)> key_hash;  // kHash only: KeyHash of the record's key
  //! Non-empty: the edge carries the producer's side output with this OutputTag id, serialized by
  //! `serialize_side_output`, instead of its main output.
  std::string side_output;
  void (*serialize_side_output)(const void* record, ByteWriter& out) = nullptr;
  //! Which input of the consuming operator the edge feeds: 0, or 1 for the second input of a
  //! two-input operator (Connect).
  int input = 0;
};

//! The edge that reads `source_id`'s main output, partitioning still to be chosen.
inline EdgeSpec MainOutputEdge(uint32_t source_id) {
  EdgeSpec e;
  e.source_id = source_id;
  return e;
}

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
  SerializeRecord(*static_cast<const T*>(record), out);
}

}  // namespace sluice
