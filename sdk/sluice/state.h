// Keyed state: ValueState, ListState, MapState and ReducingState (state_types.h), scoped to the
// current key of a keyed operator, and optionally to a namespace. Two homes, picked by the host at
// InitializeState:
//  - heap (state.backend.type: hashmap): objects in hash maps inside the operator
//    (internal/heap_tables.h); a snapshot writes them out per key group, a restore reads them back
//    and the table builds each key group on the first access to it;
//  - the host's KeyedStateBackend (rocksdb): keys and values serialized on every access
//    (internal/backend_tables.h); the host snapshots and restores the backend itself.
// Timers are the host's in both (sluice/timers.h). Task thread only.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sluice/internal/backend_tables.h"
#include "sluice/internal/heap_tables.h"
#include "sluice/internal/restored_entries.h"
#include "sluice/state_ttl.h"
#include "sluice/state_types.h"

namespace sluice {

//! All keyed state of one keyed operator instance, with the current key. Task thread only.
template <typename K>
class KeyedStateStore final : public KeyScope<K>, public HeapStateSizer {
 public:
  //! Picks the home of the state (the host's backend, or the heap when null) and takes the
  //! restored heap entries. Call before the first Get*State.
  void Initialize(InitContext& ctx) {
    backend_ = ctx.KeyedBackend();
    max_parallelism_ = ctx.MaxParallelism();
    if (!backend_) ctx.AddHeapState(this);
    if (backend_ || !ctx.IsRestored()) return;
    internal::RestoredEntries* last = nullptr;  // entries come grouped by state: one lookup each
    const std::string* last_name = nullptr;
    ctx.ForEachKeyedEntry([&](int kg, const std::string& state, std::string_view key,
                              std::string_view user_key, std::string_view value) {
      if (last == nullptr || state != *last_name) {
        auto it = restored_.try_emplace(state).first;
        last = &it->second;
        last_name = &it->first;
      }
      last->Add(kg, key, user_key, value);
    });
  }

  void SetCurrentKey(const K& key) {
    // CleanupIncrementally(n, true): a step of cleanup for every record, before its key is set.
    if (!ttl_every_record_.empty() && !in_cleanup_) {
      for (const std::string& name : ttl_every_record_) CleanupStep(name);
    }
    current_ = key;
    has_current_ = true;
    current_key_group_ = KeyGroupFor(key, max_parallelism_);
    if (backend_) {
      key_bytes_.Clear();
      Serializer<K>::Write(key, key_bytes_);
      backend_->SetCurrentKey(key_bytes_.data(), key_bytes_.size(), current_key_group_);
    }
  }
  const K& CurrentKey() const override { return current_; }
  int CurrentKeyGroup() const override { return current_key_group_; }

  // A state is named; with a namespace type N the handle is Namespaced (SetCurrentNamespace).
  // Asking for a name again with another state type or namespace type throws std::logic_error.
  template <typename T, typename N = VoidNamespace>
  WithNamespace<ValueState<T>, N> GetValueState(const std::string& name) {
    auto* t = Table<ValueTable<T>, N, internal::HeapValueTable<K, N, T>,
                    internal::BackendValueTable<K, N, T>>(name);
    return Handle<N>(ValueState<T>(t), t);
  }
  template <typename T, typename N = VoidNamespace>
  WithNamespace<ListState<T>, N> GetListState(const std::string& name) {
    auto* t = Table<ListTable<T>, N, internal::HeapListTable<K, N, T>,
                    internal::BackendListTable<K, N, T>>(name);
    return Handle<N>(ListState<T>(t), t);
  }
  template <typename UK, typename UV, typename N = VoidNamespace>
  WithNamespace<MapState<UK, UV>, N> GetMapState(const std::string& name) {
    auto* t = Table<MapTable<UK, UV>, N, internal::HeapMapTable<K, N, UK, UV>,
                    internal::BackendMapTable<K, N, UK, UV>>(name);
    return Handle<N>(MapState<UK, UV>(t), t);
  }
  template <typename T, typename N = VoidNamespace>
  WithNamespace<ReducingState<T>, N> GetReducingState(const std::string& name,
                                                      std::function<T(const T&, const T&)> reduce) {
    auto* t = Table<ValueTable<T>, N, internal::HeapValueTable<K, N, T>,
                    internal::BackendValueTable<K, N, T>>(name);
    return Handle<N>(ReducingState<T>(t, std::move(reduce)), t);
  }

  // The same with a time-to-live (state_ttl.h), by the processing time `clock()`. A name is TTL'd
  // or not for good: asking for it the other way throws std::logic_error.
  template <typename T>
  ValueState<T> GetValueState(const std::string& name, const StateTtlConfig& ttl,
                              std::function<int64_t()> clock) {
    if (!ttl.IsEnabled()) return GetValueState<T>(name);
    using V = internal::TtlValue<T>;
    auto* inner = Table<ValueTable<V>, VoidNamespace, internal::HeapValueTable<K, VoidNamespace, V>,
                        internal::BackendValueTable<K, VoidNamespace, V>>(name);
    return ValueState<T>(TtlTable<internal::TtlValueTable<T>>(name, inner, ttl, std::move(clock)));
  }
  template <typename T>
  ListState<T> GetListState(const std::string& name, const StateTtlConfig& ttl,
                            std::function<int64_t()> clock) {
    if (!ttl.IsEnabled()) return GetListState<T>(name);
    using V = internal::TtlValue<T>;
    auto* inner = Table<ListTable<V>, VoidNamespace, internal::HeapListTable<K, VoidNamespace, V>,
                        internal::BackendListTable<K, VoidNamespace, V>>(name);
    return ListState<T>(TtlTable<internal::TtlListTable<T>>(name, inner, ttl, std::move(clock),
                                                            &internal::TtlElementSize<T>));
  }
  template <typename UK, typename UV>
  MapState<UK, UV> GetMapState(const std::string& name, const StateTtlConfig& ttl,
                               std::function<int64_t()> clock) {
    if (!ttl.IsEnabled()) return GetMapState<UK, UV>(name);
    using V = internal::TtlValue<UV>;
    auto* inner =
        Table<MapTable<UK, V>, VoidNamespace, internal::HeapMapTable<K, VoidNamespace, UK, V>,
              internal::BackendMapTable<K, VoidNamespace, UK, V>>(name);
    return MapState<UK, UV>(
        TtlTable<internal::TtlMapTable<UK, UV>>(name, inner, ttl, std::move(clock)));
  }

  int max_parallelism() const { return max_parallelism_; }

  //! Heap state: an estimate of its bytes, restored entries not yet asked for included.
  size_t EstimateHeapBytes() const override {
    size_t bytes = 0;
    for (const auto& [name, table] : tables_) bytes += table->EstimateBytes();
    for (const auto& [name, entries] : restored_) bytes += entries.Bytes();
    return bytes;
  }

  //! Every key that has a value in any state, each once, in no particular order.
  std::vector<K> Keys() const {
    std::vector<K> keys;
    for (const auto& [name, table] : tables_) table->AppendKeys(keys);
    if (tables_.size() > 1) {
      std::unordered_map<K, bool, KeyHasher<K>> seen;
      std::vector<K> unique;
      for (auto& k : keys) {
        if (seen.emplace(k, true).second) unique.push_back(std::move(k));
      }
      return unique;
    }
    return keys;
  }

  //! Every key with a value in the state `name`, each once, in no particular order; none when
  //! the state was not asked for yet.
  std::vector<K> KeysOf(const std::string& name) const {
    std::vector<K> keys;
    if (auto it = tables_.find(name); it != tables_.end()) it->second->AppendKeys(keys);
    return keys;
  }

  //! Heap only: freezes every state (copy-on-write) and hands the host what writes the entries
  //! out in the asynchronous part — also restored entries of states not asked for again.
  void Snapshot(SnapshotContext& ctx) {
    if (backend_) return;
    // CleanupFullSnapshot: no snapshot holds an expired entry (heap state; RocksDB's snapshots
    // are the host's).
    for (auto& [name, ttl] : ttl_) {
      if (ttl.table->config().cleanup_full_snapshot()) CleanupAll(name, *ttl.table);
    }
    for (const auto& [name, table] : tables_) {
      if (internal::KeyedSnapshotFn fn = table->Freeze(name, max_parallelism_)) {
        ctx.AddKeyedSnapshot(std::move(fn));
      }
    }
    if (restored_.empty()) return;
    auto leftover =
        std::make_shared<const std::map<std::string, internal::RestoredEntries>>(restored_);
    ctx.AddKeyedSnapshot([leftover](KeyedStateWriter& out) {
      for (const auto& [name, entries] : *leftover) {
        entries.ForEach([&out, &name = name](int kg, std::string_view key,
                                             std::string_view user_key, std::string_view value) {
          out.Write(kg, name, key, user_key, value);
        });
      }
    });
  }

 private:
  template <typename N, typename State, typename Api>
  static WithNamespace<State, N> Handle(State state, Api* table) {
    if constexpr (internal::kVoidNamespace<N>) {
      return state;
    } else {
      return Namespaced<State, N>(std::move(state),
                                  dynamic_cast<internal::NamespaceTable<N>*>(table));
    }
  }

  template <typename Api, typename N, typename Heap, typename InBackend>
  Api* Table(const std::string& name) {
    auto it = tables_.find(name);
    if (it != tables_.end()) {
      auto* typed = dynamic_cast<Api*>(it->second.get());
      if (!typed || !dynamic_cast<internal::NamespaceTable<N>*>(it->second.get())) {
        throw std::logic_error("state '" + name + "' requested with another type");
      }
      return typed;
    }
    if (name.rfind(kReservedStatePrefix, 0) == 0) {
      throw std::invalid_argument("state name '" + name + "': names starting with '" +
                                  kReservedStatePrefix + "' are reserved for the engine");
    }
    std::unique_ptr<internal::StateTable<K>> table;
    Api* api;
    if (backend_) {
      auto t = std::make_unique<InBackend>(backend_, backend_->RegisterState(name));
      api = t.get();
      table = std::move(t);
    } else {
      auto t = std::make_unique<Heap>(this);
      api = t.get();
      auto r = restored_.find(name);
      if (r != restored_.end()) {
        t->AdoptRestored(std::move(r->second), max_parallelism_);
        restored_.erase(r);
      }
      table = std::move(t);
    }
    tables_.emplace(name, std::move(table));
    return api;
  }

  //! The TTL'd table `A` of state `name` over its stored table `inner`, made on first use.
  template <typename A, typename Inner>
  A* TtlTable(const std::string& name, Inner* inner, const StateTtlConfig& ttl,
              std::function<int64_t()> clock,
              size_t (*element_size)(const uint8_t*, size_t) = nullptr) {
    auto it = ttl_.find(name);
    if (it != ttl_.end()) {
      auto* typed = dynamic_cast<A*>(it->second.table.get());
      if (!typed) throw std::logic_error("state '" + name + "' requested with another type");
      return typed;
    }
    auto table = std::make_unique<A>(inner, internal::TtlClock(ttl, std::move(clock)),
                                     [this, name] { CleanupStep(name); });
    A* typed = table.get();
    ttl_[name].table = std::move(table);
    if (backend_ != nullptr && ttl.compaction_filter()) {
      backend_->SetTimeToLive(backend_->RegisterState(name), ttl.ttl_ms(),
                              ttl.compaction_filter_entries(), element_size);
    }
    if (ttl.incremental_every_record() && ttl.incremental_cleanup_size() > 0) {
      ttl_every_record_.push_back(name);
    }
    return typed;
  }
  //! Incremental cleanup: the next keys of state `name` in turn, their expired entries removed.
  void CleanupStep(const std::string& name) {
    if (in_cleanup_) return;
    TtlState& ttl = ttl_.at(name);
    const int n = ttl.table->config().incremental_cleanup_size();
    if (n <= 0) return;
    in_cleanup_ = true;
    // The key to go back to; none before the first record (K{} may not even be this subtask's).
    const bool had_current = has_current_;
    const K current = current_;
    bool refreshed = false;
    for (int i = 0; i < n; ++i) {
      if (ttl.next >= ttl.keys.size()) {
        if (refreshed) break;  // every key was visited in this step
        ttl.keys = KeysOf(name);
        ttl.next = 0;
        refreshed = true;
        if (ttl.keys.empty()) break;
      }
      SetCurrentKey(ttl.keys[ttl.next++]);
      ttl.table->CleanupCurrent();
    }
    if (had_current) SetCurrentKey(current);
    in_cleanup_ = false;
  }
  void CleanupAll(const std::string& name, internal::TtlTableBase& table) {
    in_cleanup_ = true;
    const bool had_current = has_current_;
    const K current = current_;
    for (const K& key : KeysOf(name)) {
      SetCurrentKey(key);
      table.CleanupCurrent();
    }
    if (had_current) SetCurrentKey(current);
    in_cleanup_ = false;
  }

  struct TtlState {
    std::unique_ptr<internal::TtlTableBase> table;
    std::vector<K> keys;  // incremental cleanup's round over the keys
    size_t next = 0;
  };

  K current_{};
  bool has_current_ = false;
  int current_key_group_ = 0;
  KeyedStateBackend* backend_ = nullptr;
  int max_parallelism_ = kDefaultMaxParallelism;
  ByteWriter key_bytes_;
  std::map<std::string, std::unique_ptr<internal::StateTable<K>>> tables_;
  std::map<std::string, internal::RestoredEntries> restored_;
  std::map<std::string, TtlState> ttl_;
  std::vector<std::string> ttl_every_record_;
  bool in_cleanup_ = false;
};

}  // namespace sluice
