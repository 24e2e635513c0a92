// Keyed state: ValueState, ListState, MapState and ReducingState, scoped to the current key of a
// keyed operator. Two homes, picked by the host at InitializeState:
//  - heap (state.backend.type: hashmap): objects in hash maps inside the operator; a snapshot
//    writes them out per key group, a restore reads them back;
//  - the host's KeyedStateBackend (rocksdb): keys and values serialized on every access; the host
//    snapshots and restores the backend itself.
// Task thread only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "sluice/key_groups.h"
#include "sluice/runtime.h"
#include "sluice/serialization.h"

namespace sluice {

template <typename K>
struct KeyHasher {
  size_t operator()(const K& k) const {
    if constexpr (std::is_integral_v<K> || std::is_same_v<K, std::string>) {
      return std::hash<K>()(k);
    } else {
      return static_cast<size_t>(MurmurHash(KeyHash(k)));
    }
  }
};

namespace internal {

template <typename T>
std::string SerializeToString(const T& v, ByteWriter& scratch) {
  scratch.Clear();
  Serializer<T>::Write(v, scratch);
  return std::string(reinterpret_cast<const char*>(scratch.data()), scratch.size());
}

template <typename T>
void DeserializeFrom(std::string_view bytes, T& out) {
  ByteReader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  Serializer<T>::Read(r, out);
}

//! Items of a ListState stored as one value: each item serialized after the other.
template <typename T>
void DeserializeList(std::string_view bytes, std::vector<T>& out) {
  ByteReader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  while (r.remaining() > 0) {
    T item{};
    Serializer<T>::Read(r, item);
    out.push_back(std::move(item));
  }
}

using KeyedSnapshotFn = std::function<void(KeyedStateWriter&)>;

//! One named state of a keyed operator. Heap tables snapshot and restore themselves; backend
//! tables live in the host.
template <typename K>
class StateTable {
 public:
  virtual ~StateTable() = default;
  //! Heap only: freezes the entries (synchronous part) and returns what writes them out
  //! (asynchronous part, on another thread); null for tables kept in the host's backend.
  virtual KeyedSnapshotFn Freeze(const std::string& name, int max_parallelism) {
    (void)name;
    (void)max_parallelism;
    return nullptr;
  }
  //! Heap only: one restored entry.
  virtual void Restore(const K& key, std::string_view user_key, std::string_view value) {
    (void)key;
    (void)user_key;
    (void)value;
  }
  virtual void AppendKeys(std::vector<K>& out) = 0;
  //! Heap only: room for `n` keys (before a restore).
  virtual void Reserve(size_t n) { (void)n; }
};

}  // namespace internal

//! Where typed states find the current key. Implemented by KeyedStateStore.
template <typename K>
class KeyScope {
 public:
  virtual ~KeyScope() = default;
  virtual const K& CurrentKey() const = 0;
};

// ---- ValueState ----

template <typename T>
class ValueTable {
 public:
  virtual ~ValueTable() = default;
  virtual const T* Get() = 0;
  virtual void Put(T value) = 0;
  virtual void Clear() = 0;
};

//! One value per key. Cheap to copy; valid while its operator lives.
template <typename T>
class ValueState {
 public:
  ValueState() = default;
  explicit ValueState(ValueTable<T>* table) : table_(table) {}
  //! The current key's value, or nullptr when it has none. Valid until the next state access.
  const T* Get() const { return table_->Get(); }
  T ValueOr(T fallback) const {
    const T* v = table_->Get();
    return v ? *v : fallback;
  }
  void Update(T value) { table_->Put(std::move(value)); }
  void Clear() { table_->Clear(); }

 private:
  ValueTable<T>* table_ = nullptr;
};

// ---- ListState ----

template <typename T>
class ListTable {
 public:
  virtual ~ListTable() = default;
  virtual std::vector<T> Get() = 0;
  virtual void Add(const T& value) = 0;
  virtual void Update(std::vector<T> values) = 0;
  virtual void Clear() = 0;
};

//! A list of values per key.
template <typename T>
class ListState {
 public:
  ListState() = default;
  explicit ListState(ListTable<T>* table) : table_(table) {}
  //! The current key's items (empty when none).
  std::vector<T> Get() const { return table_->Get(); }
  void Add(const T& value) { table_->Add(value); }
  void AddAll(const std::vector<T>& values) {
    for (const auto& v : values) table_->Add(v);
  }
  void Update(std::vector<T> values) { table_->Update(std::move(values)); }
  void Clear() { table_->Clear(); }

 private:
  ListTable<T>* table_ = nullptr;
};

// ---- MapState ----

template <typename UK, typename UV>
class MapTable {
 public:
  virtual ~MapTable() = default;
  virtual std::optional<UV> Get(const UK& key) = 0;
  virtual void Put(const UK& key, UV value) = 0;
  virtual void Remove(const UK& key) = 0;
  virtual std::vector<std::pair<UK, UV>> Entries() = 0;
  virtual void Clear() = 0;
};

//! A map per key. Entries() has no defined order (as Flink).
template <typename UK, typename UV>
class MapState {
 public:
  MapState() = default;
  explicit MapState(MapTable<UK, UV>* table) : table_(table) {}
  std::optional<UV> Get(const UK& key) const { return table_->Get(key); }
  bool Contains(const UK& key) const { return table_->Get(key).has_value(); }
  void Put(const UK& key, UV value) { table_->Put(key, std::move(value)); }
  void Remove(const UK& key) { table_->Remove(key); }
  std::vector<std::pair<UK, UV>> Entries() const { return table_->Entries(); }
  bool IsEmpty() const { return table_->Entries().empty(); }
  void Clear() { table_->Clear(); }

 private:
  MapTable<UK, UV>* table_ = nullptr;
};

// ---- ReducingState ----

//! One value per key, folded with a reduce function on Add.
template <typename T>
class ReducingState {
 public:
  ReducingState() = default;
  ReducingState(ValueTable<T>* table, std::function<T(const T&, const T&)> reduce)
      : table_(table), reduce_(std::move(reduce)) {}
  std::optional<T> Get() const {
    const T* v = table_->Get();
    return v ? std::optional<T>(*v) : std::nullopt;
  }
  void Add(const T& value) {
    const T* acc = table_->Get();
    table_->Put(acc ? reduce_(*acc, value) : value);
  }
  void Clear() { table_->Clear(); }

 private:
  ValueTable<T>* table_ = nullptr;
  std::function<T(const T&, const T&)> reduce_;
};

namespace internal {

// ---- Heap tables ----

//! A hash map with copy-on-write snapshots. Freeze() hands out the current contents as an
//! immutable map that an I/O thread may read while the task thread goes on writing: writes after a
//! freeze go to `delta_` (and removals of frozen keys to `removed_`); the next freeze folds them
//! into the base — in place when no snapshot reads it any more, else into a copy. So the
//! synchronous part of a snapshot costs in proportion to the smaller of the state and the keys
//! written since the previous snapshot (none for a state filled from scratch), not to the state.
template <typename K, typename V>
class CowMap {
 public:
  using Map = std::unordered_map<K, V, KeyHasher<K>>;

  const V* Find(const K& k) const {
    if (!delta_.empty()) {
      auto d = delta_.find(k);
      if (d != delta_.end()) return &d->second;
    }
    if (!removed_.empty() && removed_.count(k)) return nullptr;
    auto it = base_->find(k);
    return it == base_->end() ? nullptr : &it->second;
  }
  //! The value of `k` to modify in place (a copy of the frozen one, or a new one).
  V& Mutable(const K& k) {
    auto d = delta_.find(k);
    if (d != delta_.end()) return d->second;
    const V* frozen = Find(k);
    if (!removed_.empty()) removed_.erase(k);
    return delta_.emplace(k, frozen ? *frozen : V{}).first->second;
  }
  void Put(const K& k, V v) {
    if (!removed_.empty()) removed_.erase(k);
    delta_.insert_or_assign(k, std::move(v));
  }
  void Erase(const K& k) {
    delta_.erase(k);
    if (base_->count(k)) removed_.insert(k);
  }
  void Reserve(size_t n) { Writable().reserve(n); }
  //! Before any snapshot (restore): straight into the base.
  void PutBase(const K& k, V v) { Writable().insert_or_assign(k, std::move(v)); }
  V& BaseSlot(const K& k) { return Writable()[k]; }
  template <typename F>
  void ForEachKey(F fn) const {
    for (const auto& [k, v] : delta_) fn(k);
    for (const auto& [k, v] : *base_) {
      if (!delta_.count(k) && !removed_.count(k)) fn(k);
    }
  }
  //! The contents now, immutable; later writes do not change them.
  std::shared_ptr<const Map> Freeze() {
    Map& base = Writable();
    for (const K& k : removed_) base.erase(k);
    if (delta_.size() > base.size()) {
      // Fold the smaller map into the larger: the delta's values are the newer ones.
      for (auto& [k, v] : base) delta_.try_emplace(k, std::move(v));
      base.swap(delta_);
    } else {
      for (auto& [k, v] : delta_) base.insert_or_assign(k, std::move(v));
    }
    delta_.clear();
    removed_.clear();
    return base_;
  }

 private:
  //! The base, copied first if a snapshot still reads it.
  Map& Writable() {
    if (base_.use_count() > 1) base_ = std::make_shared<Map>(*base_);
    return *base_;
  }

  std::shared_ptr<Map> base_ = std::make_shared<Map>();
  Map delta_;
  std::unordered_set<K, KeyHasher<K>> removed_;
};

inline std::string_view View(const ByteWriter& w) {
  return std::string_view(reinterpret_cast<const char*>(w.data()), w.size());
}

template <typename K, typename T>
class HeapValueTable final : public StateTable<K>, public ValueTable<T> {
 public:
  explicit HeapValueTable(const KeyScope<K>* scope) : scope_(scope) {}
  const T* Get() override { return map_.Find(scope_->CurrentKey()); }
  void Put(T value) override { map_.Put(scope_->CurrentKey(), std::move(value)); }
  void Clear() override { map_.Erase(scope_->CurrentKey()); }
  void Reserve(size_t n) override { map_.Reserve(n); }
  void AppendKeys(std::vector<K>& out) override {
    map_.ForEachKey([&out](const K& k) { out.push_back(k); });
  }
  KeyedSnapshotFn Freeze(const std::string& name, int max_parallelism) override {
    return [frozen = map_.Freeze(), name, max_parallelism](KeyedStateWriter& out) {
      ByteWriter kw, vw;
      for (const auto& [k, v] : *frozen) {
        kw.Clear();
        Serializer<K>::Write(k, kw);
        vw.Clear();
        Serializer<T>::Write(v, vw);
        out.Write(KeyGroupFor(k, max_parallelism), name, View(kw), {}, View(vw));
      }
    };
  }
  void Restore(const K& key, std::string_view, std::string_view value) override {
    T v{};
    DeserializeFrom(value, v);
    map_.PutBase(key, std::move(v));
  }

 private:
  const KeyScope<K>* scope_;
  CowMap<K, T> map_;
};

template <typename K, typename T>
class HeapListTable final : public StateTable<K>, public ListTable<T> {
 public:
  explicit HeapListTable(const KeyScope<K>* scope) : scope_(scope) {}
  std::vector<T> Get() override {
    const std::vector<T>* v = map_.Find(scope_->CurrentKey());
    return v ? *v : std::vector<T>{};
  }
  void Add(const T& value) override { map_.Mutable(scope_->CurrentKey()).push_back(value); }
  void Update(std::vector<T> values) override {
    if (values.empty()) {
      Clear();
    } else {
      map_.Put(scope_->CurrentKey(), std::move(values));
    }
  }
  void Clear() override { map_.Erase(scope_->CurrentKey()); }
  void AppendKeys(std::vector<K>& out) override {
    map_.ForEachKey([&out](const K& k) { out.push_back(k); });
  }
  KeyedSnapshotFn Freeze(const std::string& name, int max_parallelism) override {
    return [frozen = map_.Freeze(), name, max_parallelism](KeyedStateWriter& out) {
      ByteWriter kw, vw;
      for (const auto& [k, items] : *frozen) {
        kw.Clear();
        Serializer<K>::Write(k, kw);
        vw.Clear();
        for (const auto& item : items) Serializer<T>::Write(item, vw);
        out.Write(KeyGroupFor(k, max_parallelism), name, View(kw), {}, View(vw));
      }
    };
  }
  void Restore(const K& key, std::string_view, std::string_view value) override {
    std::vector<T> items;
    DeserializeList(value, items);
    map_.PutBase(key, std::move(items));
  }

 private:
  const KeyScope<K>* scope_;
  CowMap<K, std::vector<T>> map_;
};

template <typename K, typename UK, typename UV>
class HeapMapTable final : public StateTable<K>, public MapTable<UK, UV> {
 public:
  using Inner = std::unordered_map<UK, UV, KeyHasher<UK>>;
  explicit HeapMapTable(const KeyScope<K>* scope) : scope_(scope) {}
  std::optional<UV> Get(const UK& key) override {
    const Inner* m = map_.Find(scope_->CurrentKey());
    if (!m) return std::nullopt;
    auto e = m->find(key);
    return e == m->end() ? std::nullopt : std::optional<UV>(e->second);
  }
  void Put(const UK& key, UV value) override {
    map_.Mutable(scope_->CurrentKey()).insert_or_assign(key, std::move(value));
  }
  void Remove(const UK& key) override {
    const Inner* m = map_.Find(scope_->CurrentKey());
    if (!m || !m->count(key)) return;
    Inner& mine = map_.Mutable(scope_->CurrentKey());
    mine.erase(key);
    if (mine.empty()) map_.Erase(scope_->CurrentKey());
  }
  std::vector<std::pair<UK, UV>> Entries() override {
    const Inner* m = map_.Find(scope_->CurrentKey());
    if (!m) return {};
    return {m->begin(), m->end()};
  }
  void Clear() override { map_.Erase(scope_->CurrentKey()); }
  void AppendKeys(std::vector<K>& out) override {
    map_.ForEachKey([&out](const K& k) { out.push_back(k); });
  }
  KeyedSnapshotFn Freeze(const std::string& name, int max_parallelism) override {
    return [frozen = map_.Freeze(), name, max_parallelism](KeyedStateWriter& out) {
      ByteWriter kw, uw, vw;
      for (const auto& [k, entries] : *frozen) {
        kw.Clear();
        Serializer<K>::Write(k, kw);
        int kg = KeyGroupFor(k, max_parallelism);
        for (const auto& [uk, uv] : entries) {
          uw.Clear();
          Serializer<UK>::Write(uk, uw);
          vw.Clear();
          Serializer<UV>::Write(uv, vw);
          out.Write(kg, name, View(kw), View(uw), View(vw));
        }
      }
    };
  }
  void Restore(const K& key, std::string_view user_key, std::string_view value) override {
    UK uk{};
    DeserializeFrom(user_key, uk);
    UV uv{};
    DeserializeFrom(value, uv);
    map_.BaseSlot(key).insert_or_assign(std::move(uk), std::move(uv));
  }

 private:
  const KeyScope<K>* scope_;
  CowMap<K, Inner> map_;
};

// ---- Tables in the host's backend ----

template <typename K>
class BackendTableBase : public StateTable<K> {
 public:
  BackendTableBase(KeyedStateBackend* backend, int id) : backend_(backend), id_(id) {}
  void AppendKeys(std::vector<K>& out) override {
    backend_->ForEachKey(id_, [&out](std::string_view key) {
      K k{};
      DeserializeFrom(key, k);
      out.push_back(std::move(k));
    });
  }

 protected:
  KeyedStateBackend* backend_;
  int id_;
  ByteWriter scratch_;
  std::string bytes_;
};

template <typename K, typename T>
class BackendValueTable final : public BackendTableBase<K>, public ValueTable<T> {
 public:
  using BackendTableBase<K>::BackendTableBase;
  const T* Get() override {
    if (!this->backend_->Get(this->id_, {}, &this->bytes_)) return nullptr;
    value_ = T{};
    DeserializeFrom(this->bytes_, value_);
    return &value_;
  }
  void Put(T value) override {
    this->scratch_.Clear();
    Serializer<T>::Write(value, this->scratch_);
    this->backend_->Put(this->id_, {},
                        std::string_view(reinterpret_cast<const char*>(this->scratch_.data()),
                                         this->scratch_.size()));
  }
  void Clear() override { this->backend_->Delete(this->id_, {}); }

 private:
  T value_{};
};

template <typename K, typename T>
class BackendListTable final : public BackendTableBase<K>, public ListTable<T> {
 public:
  using BackendTableBase<K>::BackendTableBase;
  std::vector<T> Get() override {
    std::vector<T> out;
    if (this->backend_->Get(this->id_, {}, &this->bytes_)) DeserializeList(this->bytes_, out);
    return out;
  }
  void Add(const T& value) override {
    this->scratch_.Clear();
    Serializer<T>::Write(value, this->scratch_);
    this->backend_->Append(this->id_, {},
                           std::string_view(reinterpret_cast<const char*>(this->scratch_.data()),
                                            this->scratch_.size()));
  }
  void Update(std::vector<T> values) override {
    if (values.empty()) return Clear();
    this->scratch_.Clear();
    for (const auto& v : values) Serializer<T>::Write(v, this->scratch_);
    this->backend_->Put(this->id_, {},
                        std::string_view(reinterpret_cast<const char*>(this->scratch_.data()),
                                         this->scratch_.size()));
  }
  void Clear() override { this->backend_->Delete(this->id_, {}); }
};

template <typename K, typename UK, typename UV>
class BackendMapTable final : public BackendTableBase<K>, public MapTable<UK, UV> {
 public:
  using BackendTableBase<K>::BackendTableBase;
  std::optional<UV> Get(const UK& key) override {
    if (!this->backend_->Get(this->id_, UserKey(key), &this->bytes_)) return std::nullopt;
    UV v{};
    DeserializeFrom(this->bytes_, v);
    return v;
  }
  void Put(const UK& key, UV value) override {
    std::string uk = UserKey(key);
    this->scratch_.Clear();
    Serializer<UV>::Write(value, this->scratch_);
    this->backend_->Put(this->id_, uk,
                        std::string_view(reinterpret_cast<const char*>(this->scratch_.data()),
                                         this->scratch_.size()));
  }
  void Remove(const UK& key) override { this->backend_->Delete(this->id_, UserKey(key)); }
  std::vector<std::pair<UK, UV>> Entries() override {
    std::vector<std::pair<UK, UV>> out;
    this->backend_->ForEachUserKey(this->id_, [&out](std::string_view uk, std::string_view uv) {
      std::pair<UK, UV> e{};
      DeserializeFrom(uk, e.first);
      DeserializeFrom(uv, e.second);
      out.push_back(std::move(e));
    });
    return out;
  }
  void Clear() override { this->backend_->DeleteAll(this->id_); }

 private:
  std::string UserKey(const UK& key) { return SerializeToString(key, this->scratch_); }
};

}  // namespace internal

//! All keyed state of one keyed operator instance, with the current key. Task thread only.
template <typename K>
class KeyedStateStore final : public KeyScope<K> {
 public:
  //! Picks the home of the state (the host's backend, or the heap when null) and takes the
  //! restored heap entries. Call before the first Get*State.
  void Initialize(InitContext& ctx) {
    backend_ = ctx.KeyedBackend();
    max_parallelism_ = ctx.MaxParallelism();
    if (backend_ || !ctx.IsRestored()) return;
    ctx.ForEachKeyedEntry([this](int kg, const std::string& state, std::string_view key,
                                 std::string_view user_key, std::string_view value) {
      restored_[state].push_back(
          RawEntry{kg, std::string(key), std::string(user_key), std::string(value)});
    });
  }

  void SetCurrentKey(const K& key) {
    current_ = key;
    if (backend_) {
      key_bytes_.Clear();
      Serializer<K>::Write(key, key_bytes_);
      backend_->SetCurrentKey(key_bytes_.data(), key_bytes_.size(),
                              KeyGroupFor(key, max_parallelism_));
    }
  }
  const K& CurrentKey() const override { return current_; }

  template <typename T>
  ValueState<T> GetValueState(const std::string& name) {
    return ValueState<T>(
        Table<ValueTable<T>, internal::HeapValueTable<K, T>, internal::BackendValueTable<K, T>>(
            name));
  }
  template <typename T>
  ListState<T> GetListState(const std::string& name) {
    return ListState<T>(
        Table<ListTable<T>, internal::HeapListTable<K, T>, internal::BackendListTable<K, T>>(name));
  }
  template <typename UK, typename UV>
  MapState<UK, UV> GetMapState(const std::string& name) {
    return MapState<UK, UV>(Table<MapTable<UK, UV>, internal::HeapMapTable<K, UK, UV>,
                                  internal::BackendMapTable<K, UK, UV>>(name));
  }
  template <typename T>
  ReducingState<T> GetReducingState(const std::string& name,
                                    std::function<T(const T&, const T&)> reduce) {
    return ReducingState<T>(
        Table<ValueTable<T>, internal::HeapValueTable<K, T>, internal::BackendValueTable<K, T>>(
            name),
        std::move(reduce));
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

  //! Heap only: freezes every state (copy-on-write) and hands the host what writes the entries
  //! out in the asynchronous part — also restored entries of states not asked for again.
  void Snapshot(SnapshotContext& ctx) {
    if (backend_) return;
    for (const auto& [name, table] : tables_) {
      if (internal::KeyedSnapshotFn fn = table->Freeze(name, max_parallelism_)) {
        ctx.AddKeyedSnapshot(std::move(fn));
      }
    }
    if (restored_.empty()) return;
    auto leftover = std::make_shared<const std::map<std::string, std::vector<RawEntry>>>(restored_);
    ctx.AddKeyedSnapshot([leftover](KeyedStateWriter& out) {
      for (const auto& [name, entries] : *leftover) {
        for (const auto& e : entries) out.Write(e.key_group, name, e.key, e.user_key, e.value);
      }
    });
  }

 private:
  struct RawEntry {
    int key_group;
    std::string key, user_key, value;
  };

  template <typename Api, typename Heap, typename InBackend>
  Api* Table(const std::string& name) {
    auto it = tables_.find(name);
    if (it != tables_.end()) {
      auto* typed = dynamic_cast<Api*>(it->second.get());
      if (!typed) throw std::logic_error("state '" + name + "' requested with another type");
      return typed;
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
        t->Reserve(r->second.size());
        for (const auto& e : r->second) {
          K key{};
          internal::DeserializeFrom(e.key, key);
          t->Restore(key, e.user_key, e.value);
        }
        restored_.erase(r);
      }
      table = std::move(t);
    }
    tables_.emplace(name, std::move(table));
    return api;
  }

  K current_{};
  KeyedStateBackend* backend_ = nullptr;
  int max_parallelism_ = kDefaultMaxParallelism;
  ByteWriter key_bytes_;
  std::map<std::string, std::unique_ptr<internal::StateTable<K>>> tables_;
  std::map<std::string, std::vector<RawEntry>> restored_;
};

}  // namespace sluice
