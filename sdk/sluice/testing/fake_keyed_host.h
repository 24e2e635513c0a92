// Fakes of the host's keyed side for running a keyed operator without a cluster: its timers
// (fired earliest first when the test moves the watermark or the clock, as the host does before
// the operator's ProcessWatermark), a keyed state backend holding what RocksDB would (a sorted
// map), an InitContext handing over restored entries, and a snapshot context collecting what the
// operator writes; and OperatorHarness, one operator with that host, its runtime context and a
// capturing output. In the SDK's tests and in a job's own unit tests. Single-threaded, like a task
// thread.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "sluice/runtime.h"
#include "sluice/serialization.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice::testing {

struct Entry {
  int key_group;
  std::string state, key, user_key, value;
};

struct Timer {
  int domain;
  int64_t timestamp;
  std::string key;
  std::string ns;
  int key_group;
  auto Tie() const { return std::tie(domain, timestamp, key, ns, key_group); }
  bool operator<(const Timer& o) const { return Tie() < o.Tie(); }
};

//! The host's timers of one operator: fires them earliest first, after moving the watermark (or
//! the clock), as the host's HeapTimerService does.
class FakeTimerService final : public InternalTimerService {
 public:
  void Register(TimeDomain d, int64_t ts, std::string_view key, int kg,
                std::string_view ns) override {
    timers.insert({static_cast<int>(d), ts, std::string(key), std::string(ns), kg});
  }
  void Delete(TimeDomain d, int64_t ts, std::string_view key, int kg,
              std::string_view ns) override {
    timers.erase({static_cast<int>(d), ts, std::string(key), std::string(ns), kg});
  }
  int64_t CurrentWatermark() const override { return watermark; }
  int64_t CurrentProcessingTime() const override { return now; }

  void AdvanceWatermark(int64_t wm) {
    watermark = wm;
    Fire(TimeDomain::kEventTime, wm);
  }
  void AdvanceProcessingTime(int64_t t) {
    now = t;
    Fire(TimeDomain::kProcessingTime, t);
  }
  size_t Count(TimeDomain d) const {
    size_t n = 0;
    for (const Timer& t : timers) n += t.domain == static_cast<int>(d);
    return n;
  }

  std::set<Timer> timers;
  int64_t watermark = kNoTimestamp;
  int64_t now = 0;
  TimerTarget* target = nullptr;

 private:
  void Fire(TimeDomain d, int64_t upto) {
    for (;;) {
      auto it = timers.lower_bound({static_cast<int>(d), INT64_MIN, "", "", 0});
      if (it == timers.end() || it->domain != static_cast<int>(d) || it->timestamp > upto) return;
      Timer t = *it;
      timers.erase(it);
      target->OnTimer(d, t.timestamp, t.key, t.ns);
    }
  }
};

//! The host's keyed state backend (state.backend.type: rocksdb) as a sorted map of what RocksDB
//! would hold. A copy of it is a snapshot.
class MapBackend final : public KeyedStateBackend {
 public:
  int RegisterState(const std::string& name) override {
    return ids.emplace(name, static_cast<int>(ids.size())).first->second;
  }
  //! Like the host's backend, refuses a key outside this subtask's key groups.
  void SetCurrentKey(const uint8_t* key, size_t size, int key_group) override {
    if (key_group < first_key_group || key_group > last_key_group) {
      throw std::out_of_range("key group " + std::to_string(key_group) + " is not in [" +
                              std::to_string(first_key_group) + ", " +
                              std::to_string(last_key_group) + "]");
    }
    key_.assign(reinterpret_cast<const char*>(key), size);
  }
  bool Get(int s, std::string_view uk, std::string* value) override {
    auto it = data.find({s, key_, std::string(uk)});
    if (it == data.end()) return false;
    *value = it->second;
    return true;
  }
  void Put(int s, std::string_view uk, std::string_view v) override {
    data[{s, key_, std::string(uk)}] = std::string(v);
  }
  void Append(int s, std::string_view uk, std::string_view bytes) override {
    data[{s, key_, std::string(uk)}].append(bytes);
  }
  void Delete(int s, std::string_view uk) override { data.erase({s, key_, std::string(uk)}); }
  void DeleteAll(int s) override {
    auto it = data.lower_bound({s, key_, ""});
    while (it != data.end() && std::get<0>(it->first) == s && std::get<1>(it->first) == key_) {
      it = data.erase(it);
    }
  }
  void ForEachUserKey(int s,
                      const std::function<void(std::string_view, std::string_view)>& fn) override {
    for (auto it = data.lower_bound({s, key_, ""});
         it != data.end() && std::get<0>(it->first) == s && std::get<1>(it->first) == key_; ++it) {
      fn(std::get<2>(it->first), it->second);
    }
  }
  void ForEachKey(int s, const std::function<void(std::string_view)>& fn) override {
    std::set<std::string> keys;
    for (const auto& [k, v] : data) {
      if (std::get<0>(k) == s) keys.insert(std::get<1>(k));
    }
    for (const auto& k : keys) fn(k);
  }

  std::map<std::string, int> ids;
  std::map<std::tuple<int, std::string, std::string>, std::string> data;
  //! The key groups of the subtask (all of them by default).
  int first_key_group = 0;
  int last_key_group = 1 << 15;

 private:
  std::string key_;
};

class FakeInit final : public InitContext {
 public:
  //! Operator-state lists by name, as a restore hands them to this subtask.
  using OperatorLists = std::map<std::string, std::vector<std::string>>;
  FakeInit(FakeTimerService* timers, std::vector<Entry> restored, bool is_restored,
           KeyedStateBackend* backend = nullptr, OperatorLists operator_state = {})
      : timers_(timers),
        restored_(std::move(restored)),
        is_restored_(is_restored),
        backend_(backend),
        operator_state_(std::move(operator_state)) {}
  bool IsRestored() const override { return is_restored_; }
  int MaxParallelism() const override { return 128; }
  std::vector<std::string> OperatorState(const std::string& name) const override {
    auto it = operator_state_.find(name);
    return it == operator_state_.end() ? std::vector<std::string>{} : it->second;
  }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>& fn) const override {
    for (const Entry& e : restored_) fn(e.key_group, e.state, e.key, e.user_key, e.value);
  }
  KeyedStateBackend* KeyedBackend() override { return backend_; }
  InternalTimerService* TimerService(const std::string&, TimerTarget* target) override {
    timers_->target = target;
    return timers_;
  }

 private:
  FakeTimerService* timers_;
  std::vector<Entry> restored_;
  bool is_restored_;
  KeyedStateBackend* backend_;
  OperatorLists operator_state_;
};

class MemoryWriter final : public KeyedStateWriter, public SnapshotContext {
 public:
  void Write(int key_group, const std::string& state, std::string_view key,
             std::string_view user_key, std::string_view value) override {
    entries.push_back(
        {key_group, state, std::string(key), std::string(user_key), std::string(value)});
  }
  explicit MemoryWriter(int64_t checkpoint_id = 1) : checkpoint_id_(checkpoint_id) {}
  int64_t CheckpointId() const override { return checkpoint_id_; }
  void AddOperatorState(const std::string& name, OperatorStateMode, std::string item) override {
    operator_state[name].push_back(std::move(item));
  }
  KeyedStateWriter& Keyed() override { return *this; }
  void AddKeyedSnapshot(std::function<void(KeyedStateWriter&)> write) override { write(*this); }
  std::vector<Entry> entries;
  std::map<std::string, std::vector<std::string>> operator_state;

 private:
  int64_t checkpoint_id_;
};

struct KeyedSnapshot {
  std::vector<Entry> entries;
  //! Operator-state lists as this subtask wrote them (a union list goes to every subtask).
  std::map<std::string, std::vector<std::string>> operator_state;
  std::set<Timer> timers;
  std::optional<MapBackend> backend;  // what the host's backend held, when state lives there
};

//! The keyed side of one operator's host: its timers and, with `in_backend`, a backend (as with
//! rocksdb; else state stays on the heap), restored from `restore` when given.
class FakeKeyedHost {
 public:
  explicit FakeKeyedHost(const KeyedSnapshot* restore = nullptr, bool in_backend = false)
      : restore_(restore) {
    if (restore) timers.timers = restore->timers;
    if (restore && restore->backend) {
      backend.emplace(*restore->backend);
    } else if (in_backend) {
      backend.emplace();
    }
  }
  //! Calls op.InitializeState against this host.
  void Initialize(StreamOperator& op) {
    FakeInit init(&timers, restore_ ? restore_->entries : std::vector<Entry>{}, restore_ != nullptr,
                  backend ? &*backend : nullptr,
                  restore_ ? restore_->operator_state : FakeInit::OperatorLists{});
    op.InitializeState(init);
  }
  //! Moves the watermark: the timers due fire, then the operator sees it (the host's order).
  void Watermark(StreamOperator& op, int64_t wm) {
    timers.AdvanceWatermark(wm);
    op.ProcessWatermark(wm);
  }
  //! What a checkpoint of `op` would hold.
  KeyedSnapshot Take(StreamOperator& op) {
    MemoryWriter w;
    op.SnapshotState(w);
    return KeyedSnapshot{w.entries, w.operator_state, timers.timers, backend};
  }
  //! Whether no keyed state is left, wherever it lives.
  bool StateIsEmpty(StreamOperator& op) {
    return Take(op).entries.empty() && (!backend || backend->data.empty());
  }

  std::optional<MapBackend> backend;
  FakeTimerService timers;

 private:
  const KeyedSnapshot* restore_;
};

//! A source that is never run: a stand-in to build a job graph around the operator under test.
template <typename T>
class NoSource final : public StreamOperator {};

//! An operator's output: its records (of type OUT) with the timestamp each was emitted with, and
//! its watermarks.
template <typename OUT>
class CapturingOutput final : public Output {
 public:
  explicit CapturingOutput(const FakeRuntimeContext* rt) : rt_(rt) {}
  void Emit(const void* r) override {
    records.push_back(*static_cast<const OUT*>(r));
    timestamps.push_back(rt_->timestamp);
  }
  void EmitWatermark(int64_t wm) override { watermarks.push_back(wm); }
  std::vector<OUT> records;
  std::vector<int64_t> timestamps;
  std::vector<int64_t> watermarks;

 private:
  const FakeRuntimeContext* rt_;
};

//! One keyed operator instance from `factory`, initialized against a FakeKeyedHost (restored
//! from `restore`, state in a backend with `in_backend`) and opened as subtask `subtask` of
//! `parallelism`; records reach it serialized, as from the network.
template <typename OUT>
class OperatorHarness {
 public:
  explicit OperatorHarness(const std::function<std::unique_ptr<StreamOperator>()>& factory,
                           const KeyedSnapshot* restore = nullptr, bool in_backend = false,
                           int subtask = 0, int parallelism = 1)
      : host(restore, in_backend), rt(subtask, parallelism), out(&rt) {
    op = factory();
    host.Initialize(*op);
    op->Open(rt, out);
  }
  //! `record` with timestamp `ts` into input 0, or 1 (a two-input operator's second).
  template <typename T>
  void Add(const T& record, int64_t ts, int input = 0) {
    rt.timestamp = ts;
    bytes_.Clear();
    SerializeRecord(record, bytes_);
    if (input == 0) {
      op->ProcessSerialized(bytes_.data(), bytes_.size());
    } else {
      op->ProcessSerialized2(bytes_.data(), bytes_.size());
    }
  }
  void Watermark(int64_t wm) { host.Watermark(*op, wm); }
  KeyedSnapshot Take() { return host.Take(*op); }

  FakeKeyedHost host;
  FakeRuntimeContext rt;
  CapturingOutput<OUT> out;
  std::unique_ptr<StreamOperator> op;

 private:
  ByteWriter bytes_;
};

}  // namespace sluice::testing
