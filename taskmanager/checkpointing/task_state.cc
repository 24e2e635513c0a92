#include "taskmanager/checkpointing/task_state.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/snapshot/key_groups_format.h"
#include "common/snapshot/metadata.h"
#include "common/snapshot/storage.h"
#include "sluice/key_groups.h"
#include "taskmanager/state/rocksdb_backend.h"
#include "taskmanager/state/timer_service.h"

namespace sluice::taskmanager {
namespace {

bool IsKeyed(const NodeSpec& node) {
  for (const auto& in : node.inputs) {
    if (in.kind == PartitionKind::kHash) return true;
  }
  return false;
}

std::shared_ptr<snapshot::SnapshotStorage> Open(const std::string& root, const char* what) {
  auto s = snapshot::OpenStorage(root);
  if (!s.ok()) throw std::runtime_error(absl::StrCat(what, ": ", s.status().message()));
  return std::shared_ptr<snapshot::SnapshotStorage>(std::move(*s));
}

//! File-name-safe form of a uid.
std::string SafeName(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    out += ok ? c : '_';
  }
  return out.substr(0, 64);
}

//! Throws SnapshotDamagedError for damage, std::runtime_error for anything else.
[[noreturn]] void ThrowRestoreError(const absl::Status& s, absl::string_view what) {
  std::string message = absl::StrCat(what, s.message());
  if (snapshot::IsDamage(s)) throw SnapshotDamagedError(message);
  throw std::runtime_error(message);
}

//! A restored key-groups file of a keyed operator, read once for its timers and its heap state.
struct KeyGroupsFile {
  std::string bytes;                   // what was read: the whole file or the wanted part
  proto::KeyGroupsStateHandle handle;  // of those bytes (snapshot::ReadKeyGroups)
};

class RestoredInit final : public InitContext {
 public:
  using TimerFactory = std::function<InternalTimerService*(const std::string&, TimerTarget*)>;

  //! `files`: the operator's restored key-groups files; `holds_rocksdb`: the snapshot has
  //! RocksDB state for it; `timers`: null where the operator is not keyed.
  RestoredInit(const proto::OperatorSubtaskState* state, bool restored, int max_parallelism,
               proto::KeyGroupRange range, const std::vector<KeyGroupsFile>* files,
               bool holds_rocksdb, KeyedStateBackend* backend, TimerFactory timers,
               std::vector<const HeapStateSizer*>* heap_states)
      : state_(state),
        restored_(restored),
        max_parallelism_(max_parallelism),
        range_(range),
        files_(files),
        holds_rocksdb_(holds_rocksdb),
        backend_(backend),
        timers_(std::move(timers)),
        heap_states_(heap_states) {}

  void AddHeapState(const HeapStateSizer* sizer) override { heap_states_->push_back(sizer); }

  bool IsRestored() const override { return restored_; }
  int MaxParallelism() const override { return max_parallelism_; }
  std::vector<std::string> OperatorState(const std::string& name) const override {
    std::vector<std::string> items;
    if (!state_) return items;
    for (const auto& list : state_->operator_state()) {
      if (list.name() != name) continue;
      for (const auto& item : list.items()) items.push_back(item);
    }
    return items;
  }
  void ForEachKeyedEntry(
      const std::function<void(int, const std::string&, std::string_view, std::string_view,
                               std::string_view)>& fn) const override {
    if (holds_rocksdb_) {
      throw std::runtime_error(
          "the snapshot holds RocksDB state; restoring it into the hashmap backend is not "
          "supported (set state.backend.type: rocksdb)");
    }
    for (const KeyGroupsFile& f : *files_) {
      absl::Status s =
          snapshot::ForEachEntry(f.bytes, f.handle, range_,
                                 [&fn](int kg, const std::string& state, std::string_view key,
                                       std::string_view user_key, std::string_view value) {
                                   if (state.rfind(state::kTimerStatePrefix, 0) == 0)
                                     return;  // the host's
                                   fn(kg, state, key, user_key, value);
                                 });
      if (!s.ok()) ThrowRestoreError(s, "corrupt keyed state: ");
    }
  }
  KeyedStateBackend* KeyedBackend() override { return backend_; }
  InternalTimerService* TimerService(const std::string& name, TimerTarget* target) override {
    return timers_ ? timers_(name, target) : nullptr;
  }

 private:
  const proto::OperatorSubtaskState* state_;
  bool restored_;
  int max_parallelism_;
  proto::KeyGroupRange range_;
  const std::vector<KeyGroupsFile>* files_;
  bool holds_rocksdb_;
  KeyedStateBackend* backend_;
  TimerFactory timers_;
  std::vector<const HeapStateSizer*>* heap_states_;
};

class KeyedWriter final : public KeyedStateWriter {
 public:
  explicit KeyedWriter(proto::KeyGroupRange range) : range_(range) {}
  void Write(int key_group, const std::string& state, std::string_view key,
             std::string_view user_key, std::string_view value) override {
    if (!builder_) builder_ = std::make_shared<snapshot::KeyGroupsFileBuilder>(range_);
    builder_->Add(key_group, state, key, user_key, value);
  }
  std::shared_ptr<snapshot::KeyGroupsFileBuilder> builder() const { return builder_; }

 private:
  proto::KeyGroupRange range_;
  std::shared_ptr<snapshot::KeyGroupsFileBuilder> builder_;
};

class CollectingSnapshot final : public SnapshotContext {
 public:
  CollectingSnapshot(int64_t id, proto::KeyGroupRange range)
      : id_(id), keyed_(std::make_shared<KeyedWriter>(range)) {}
  int64_t CheckpointId() const override { return id_; }
  void AddOperatorState(const std::string& name, OperatorStateMode mode,
                        std::string item) override {
    auto& list = lists_[name];
    list.set_name(name);
    list.set_mode(static_cast<proto::OperatorStateList::Mode>(mode));
    list.add_items(std::move(item));
  }
  KeyedStateWriter& Keyed() override { return *keyed_; }
  void AddKeyedSnapshot(std::function<void(KeyedStateWriter&)> write) override {
    deferred_.push_back(std::move(write));
  }

  const std::map<std::string, proto::OperatorStateList>& lists() const { return lists_; }
  //! The keyed state writer with what was written synchronously; `deferred()` adds the rest.
  std::shared_ptr<KeyedWriter> keyed() const { return keyed_; }
  std::vector<std::function<void(KeyedStateWriter&)>>& deferred() { return deferred_; }

 private:
  int64_t id_;
  std::map<std::string, proto::OperatorStateList> lists_;
  std::shared_ptr<KeyedWriter> keyed_;
  std::vector<std::function<void(KeyedStateWriter&)>> deferred_;
};

}  // namespace

struct TaskState::Operator {
  //! A restored timer of a service the operator has not asked for (yet).
  struct RawTimer {
    std::string service;
    TimeDomain domain;
    int key_group;
    std::string key, user_key;
  };

  uint32_t node_id = 0;
  std::string uid;
  bool keyed = false;
  int max_parallelism = 0;
  proto::KeyGroupRange range;
  std::unique_ptr<state::RocksDbKeyedBackend> rocksdb;
  std::map<std::string, std::unique_ptr<state::HeapTimerService>> timers;
  //! Kept, and written to later snapshots, until their service is asked for.
  std::vector<RawTimer> restored_timers;

  //! The timer service `name`, created on first use with the restored timers it owns.
  InternalTimerService* Timers(const std::string& name, TimerTarget* target,
                               state::ProcessingTimeScheduler* scheduler) {
    auto& service = timers[name];
    if (service) return service.get();
    service = std::make_unique<state::HeapTimerService>(name, target, scheduler);
    std::vector<RawTimer> others;
    for (RawTimer& t : restored_timers) {
      if (t.service == name) {
        service->Restore(t.domain, t.key_group, t.key, t.user_key);
      } else {
        others.push_back(std::move(t));
      }
    }
    restored_timers.swap(others);
    return service.get();
  }
};

TaskState::TaskState(const proto::TaskDeployment& deployment, std::string local_dir,
                     state::ProcessingTimeScheduler* scheduler)
    : deployment_(deployment), local_dir_(std::move(local_dir)), scheduler_(scheduler) {
  if (!deployment_.checkpointing().storage_root().empty()) {
    storage_ = Open(deployment_.checkpointing().storage_root(), "checkpoint storage");
  }
  if (deployment_.has_restore()) {
    restore_storage_ =
        deployment_.restore().base_dir() == deployment_.checkpointing().storage_root() ? storage_
                                                                                       : nullptr;
    if (!restore_storage_) restore_storage_ = Open(deployment_.restore().base_dir(), "snapshot");
  }
}

TaskState::~TaskState() {
  operators_.clear();  // closes RocksDB instances before their folder goes
  std::error_code ec;
  if (!local_dir_.empty()) std::filesystem::remove_all(local_dir_, ec);
}

std::string TaskState::OperatorUid(const NodeSpec& node) {
  return node.uid.empty() ? absl::StrCat("node-", node.id) : node.uid;
}

void TaskState::InitializeOperator(const NodeSpec& node, int max_parallelism, StreamOperator& op) {
  auto o = std::make_unique<Operator>();
  o->node_id = node.id;
  o->uid = OperatorUid(node);
  o->keyed = IsKeyed(node);
  o->max_parallelism =
      max_parallelism > 0 ? max_parallelism : DefaultMaxParallelism(deployment_.parallelism());
  KeyGroupRange r = o->keyed
                        ? KeyGroupRangeForOperator(o->max_parallelism, deployment_.parallelism(),
                                                   deployment_.subtask_index())
                        : KeyGroupRange{0, o->max_parallelism - 1};
  o->range.set_start(r.start);
  o->range.set_end(r.end);

  const proto::OperatorSubtaskState* restored = nullptr;
  if (deployment_.has_restore()) {
    for (const auto& s : deployment_.restore().operators()) {
      if (s.uid() == o->uid) restored = &s;
    }
  }
  // Keyed operators' key-groups files, read once: the timers now, then heap state when asked for,
  // or their entries copied into RocksDB.
  const auto started = std::chrono::steady_clock::now();
  std::vector<KeyGroupsFile> files;
  bool holds_rocksdb = false;
  if (restored && o->keyed) {
    for (const auto& handle : restored->keyed()) {
      holds_rocksdb |= handle.has_rocksdb();
      if (!handle.has_key_groups()) continue;
      const auto& kg = handle.key_groups();
      if (kg.range().end() < o->range.start() || kg.range().start() > o->range.end()) continue;
      // Only the bytes of the key groups in range, each checked against its checksum.
      KeyGroupsFile file;
      auto bytes = snapshot::ReadKeyGroups(*restore_storage_, kg, o->range, &file.handle);
      if (!bytes.ok()) ThrowRestoreError(bytes.status(), "cannot read keyed state: ");
      file.bytes = *std::move(bytes);
      files.push_back(std::move(file));
      // A file without timers (its handle names every state in it) is not read for them: a
      // pass over millions of entries saved.
      if (std::none_of(kg.state_names().begin(), kg.state_names().end(),
                       [](const std::string& name) {
                         return name.rfind(state::kTimerStatePrefix, 0) == 0;
                       })) {
        continue;
      }
      absl::Status s = snapshot::ForEachEntry(
          files.back().bytes, files.back().handle, o->range,
          [&o](int key_group, const std::string& state, std::string_view key,
               std::string_view user_key, std::string_view) {
            Operator::RawTimer t;
            if (!state::HeapTimerService::ParseStateName(state, &t.service, &t.domain)) return;
            t.key_group = key_group;
            t.key = std::string(key);
            t.user_key = std::string(user_key);
            o->restored_timers.push_back(std::move(t));
          });
      if (!s.ok()) ThrowRestoreError(s, "corrupt keyed state: ");
    }
  }
  const int64_t read_ms = MsSince(started);
  const auto rocksdb_started = std::chrono::steady_clock::now();
  if (o->keyed && deployment_.checkpointing().state_backend() == "rocksdb") {
    state::RocksDbBackendOptions opts;
    opts.local_dir = absl::StrCat(local_dir_, "/", node.id, "-", SafeName(o->uid));
    opts.range = o->range;
    opts.max_parallelism = o->max_parallelism;
    opts.incremental = deployment_.checkpointing().incremental();
    opts.shared_memory = rocksdb_memory_;
    opts.write_cache_bytes =
        static_cast<size_t>(deployment_.checkpointing().rocksdb_write_cache_bytes());
    opts.transfer_threads = std::max(1, deployment_.checkpointing().rocksdb_transfer_threads());
    opts.partitioned_index_filters =
        deployment_.checkpointing().rocksdb_partitioned_index_filters();
    opts.key_filter = deployment_.checkpointing().rocksdb_key_filter();
    opts.name = absl::StrCat(node.id, "-", SafeName(o->uid), "-", deployment_.subtask_index());
    opts.restored_files_in_checkpoint_storage =
        restore_storage_ != nullptr && restore_storage_ == storage_;
    // RocksDB instances from their handles; the key-groups files read above are copied in.
    std::vector<proto::KeyedStateHandle> handles;
    if (restored) {
      for (const auto& h : restored->keyed()) {
        if (h.has_rocksdb()) handles.push_back(h);
      }
    }
    auto backend = state::RocksDbKeyedBackend::Open(opts, restore_storage_.get(), handles);
    if (!backend.ok()) {
      ThrowRestoreError(backend.status(),
                        absl::StrCat("cannot open the RocksDB state of ", o->uid, ": "));
    }
    o->rocksdb = std::move(*backend);
    for (const KeyGroupsFile& f : files) {
      absl::Status s = o->rocksdb->InsertKeyGroups(f.bytes, f.handle);
      if (!s.ok()) {
        ThrowRestoreError(s, absl::StrCat("cannot restore the RocksDB state of ", o->uid, ": "));
      }
    }
  }
  Operator* raw = o.get();
  RestoredInit::TimerFactory timers;
  if (o->keyed) {
    timers = [raw, this](const std::string& name, TimerTarget* target) {
      return raw->Timers(name, target, scheduler_);
    };
  }
  RestoredInit init(restored, deployment_.has_restore(), o->max_parallelism, o->range, &files,
                    holds_rocksdb && !o->rocksdb, o->rocksdb.get(), std::move(timers),
                    &heap_states_);
  const int64_t rocksdb_ms = MsSince(rocksdb_started);
  const auto operator_started = std::chrono::steady_clock::now();
  op.InitializeState(init);
  if (restored != nullptr && o->keyed) {
    size_t bytes = 0;
    for (const KeyGroupsFile& f : files) bytes += f.bytes.size();
    log::Get("state")->info(
        "{}: restored keyed state [{}, {}] in {} ms: key-groups files {} ms ({} bytes), RocksDB {} "
        "ms, the operator's InitializeState {} ms",
        o->uid, o->range.start(), o->range.end(), MsSince(started), read_ms, bytes, rocksdb_ms,
        MsSince(operator_started));
  }
  operators_.push_back(std::move(o));
}

size_t TaskState::HeapStateBytes() const {
  size_t bytes = 0;
  for (const HeapStateSizer* s : heap_states_) bytes += s->EstimateHeapBytes();
  return bytes;
}

TaskState::Operator& TaskState::Find(const NodeSpec& node) {
  for (auto& o : operators_) {
    if (o->node_id == node.id) return *o;
  }
  throw std::logic_error(absl::StrCat("operator ", node.id, " was not initialized"));
}

AsyncSnapshot TaskState::Snapshot(int64_t id, const std::vector<const NodeSpec*>& nodes,
                                  const std::vector<StreamOperator*>& ops) {
  struct Part {
    proto::OperatorSubtaskState state;
    std::shared_ptr<KeyedWriter> keyed;
    std::vector<std::function<void(KeyedStateWriter&)>> deferred;  // copy-on-write heap state
    std::shared_ptr<state::RocksDbSnapshot> rocksdb;
    std::string file;
  };
  auto parts = std::make_shared<std::vector<Part>>();
  for (size_t i = 0; i < ops.size(); ++i) {
    Operator& o = Find(*nodes[i]);
    CollectingSnapshot ctx(id, o.range);
    ops[i]->SnapshotState(ctx);
    Part p;
    p.state.set_node_id(o.node_id);
    p.state.set_uid(o.uid);
    p.state.set_subtask_index(deployment_.subtask_index());
    for (const auto& [name, list] : ctx.lists()) *p.state.add_operator_state() = list;
    p.keyed = ctx.keyed();
    p.deferred = std::move(ctx.deferred());
    for (const auto& [name, timers] : o.timers) p.deferred.push_back(timers->Snapshot());
    if (!o.restored_timers.empty()) {
      auto leftover = std::make_shared<const std::vector<Operator::RawTimer>>(o.restored_timers);
      p.deferred.push_back([leftover](KeyedStateWriter& out) {
        for (const auto& t : *leftover) {
          out.Write(t.key_group, state::HeapTimerService::StateName(t.service, t.domain), t.key,
                    t.user_key, {});
        }
      });
    }
    p.file = absl::StrCat(snapshot::CheckpointFolder(id), "/", o.node_id, "-", SafeName(o.uid), "-",
                          deployment_.subtask_index(), ".keyed");
    if (o.rocksdb) {
      auto snap = o.rocksdb->SnapshotSync(id);
      if (!snap.ok()) {
        throw std::runtime_error(
            absl::StrCat("RocksDB snapshot of ", o.uid, " failed: ", snap.status().message()));
      }
      p.rocksdb = std::shared_ptr<state::RocksDbSnapshot>(std::move(*snap));
    }
    parts->push_back(std::move(p));
  }
  auto storage = storage_;
  return [storage, parts, id]() -> absl::StatusOr<std::vector<proto::OperatorSubtaskState>> {
    if (!storage) return absl::FailedPreconditionError("checkpointing is off");
    std::vector<proto::OperatorSubtaskState> out;
    for (Part& p : *parts) {
      // On an I/O thread: what the entries' writers throw becomes this snapshot's failure.
      try {
        for (auto& write : p.deferred) write(*p.keyed);
      } catch (const std::exception& e) {
        return absl::InternalError(
            absl::StrCat("writing the keyed state of ", p.state.uid(), ": ", e.what()));
      }
      std::shared_ptr<snapshot::KeyGroupsFileBuilder> builder = p.keyed->builder();
      if (builder && builder->entries() > 0) {
        proto::KeyGroupsStateHandle handle;
        std::string bytes = builder->Finish(&handle);
        auto file = storage->WriteFile(p.file, bytes);
        if (!file.ok()) return file.status();
        *handle.mutable_file() = *file;
        *p.state.add_keyed()->mutable_key_groups() = std::move(handle);
      }
      if (p.rocksdb) {
        auto handle = p.rocksdb->Upload(*storage, snapshot::CheckpointFolder(id));
        if (!handle.ok()) return handle.status();
        *p.state.add_keyed() = std::move(*handle);
      }
      out.push_back(std::move(p.state));
    }
    return out;
  };
}

void TaskState::AdvanceWatermark(const NodeSpec& node, int64_t watermark) {
  for (auto& [name, timers] : Find(node).timers) timers->AdvanceWatermark(watermark);
}

void TaskState::NotifyComplete(int64_t id) {
  for (auto& o : operators_) {
    if (o->rocksdb) o->rocksdb->NotifyCheckpointComplete(id);
  }
}

}  // namespace sluice::taskmanager
