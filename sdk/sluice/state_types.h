// Keyed state types: the handles a keyed operator holds (ValueState, ListState, MapState,
// ReducingState), the table interfaces behind them, and namespaces. A state is scoped to the
// current key; a namespaced state (Namespaced<State, N>) is scoped to the current key and to a
// namespace of type N set with SetCurrentNamespace (window operators keep a window's contents in
// the window's namespace). VoidNamespace, the default, serializes to nothing: a state without a
// namespace stores exactly what it stored before namespaces existed. Task thread only.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/internal/restored_entries.h"
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

//! The namespace of state that has none.
struct VoidNamespace {
  bool operator==(const VoidNamespace&) const { return true; }
};

template <>
struct Serializer<VoidNamespace> {
  static void Write(const VoidNamespace&, ByteWriter&) {}
  static void Read(ByteReader&, VoidNamespace&) {}
};

template <>
struct KeyHasher<VoidNamespace> {
  size_t operator()(const VoidNamespace&) const { return 0; }
};

namespace internal {

template <typename N>
inline constexpr bool kVoidNamespace = std::is_same_v<N, VoidNamespace>;

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
  //! Heap only: the restored entries (an entry's `user_key` starts with the namespace's bytes),
  //! built into the table one key group at a time, on the first access to a key of the group.
  virtual void AdoptRestored(RestoredEntries entries, int max_parallelism) {
    (void)entries;
    (void)max_parallelism;
  }
  //! Appends every key with an entry, each once.
  virtual void AppendKeys(std::vector<K>& out) = 0;
  //! Heap only: an estimate of the bytes the table holds (internal/heap_bytes.h).
  virtual size_t EstimateBytes() const { return 0; }
};

//! Where a table keeps its current namespace (one per table, shared by its handles, as Flink).
template <typename N>
class NamespaceTable {
 public:
  virtual ~NamespaceTable() = default;
  virtual void SetNamespace(const N& ns) = 0;
};

}  // namespace internal

//! Where typed states find the current key. Implemented by KeyedStateStore.
template <typename K>
class KeyScope {
 public:
  virtual ~KeyScope() = default;
  virtual const K& CurrentKey() const = 0;
  //! The current key's key group (KeyGroupFor), computed once when the key is set.
  virtual int CurrentKeyGroup() const = 0;
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
  //! Every entry, without copying them out where the table can help it.
  virtual void ForEach(const std::function<void(const UK&, const UV&)>& fn) {
    for (const auto& [k, v] : Entries()) fn(k, v);
  }
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
  //! Calls fn(key, value) for every entry, in no defined order, without a copy of the map: fn
  //! must not change this state.
  void ForEach(const std::function<void(const UK&, const UV&)>& fn) const { table_->ForEach(fn); }
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

//! A state scoped by a namespace as well as by the current key: every access goes to the entry of
//! the current key in the namespace last set (through any handle of the same state).
template <typename State, typename N>
class Namespaced : public State {
 public:
  Namespaced() = default;
  Namespaced(State state, internal::NamespaceTable<N>* table)
      : State(std::move(state)), table_(table) {}
  void SetCurrentNamespace(const N& ns) { table_->SetNamespace(ns); }

 private:
  internal::NamespaceTable<N>* table_ = nullptr;
};

//! The handle type of `State` in namespace N: the plain State for VoidNamespace.
template <typename State, typename N>
using WithNamespace = std::conditional_t<internal::kVoidNamespace<N>, State, Namespaced<State, N>>;

}  // namespace sluice
