// Heap tables (state.backend.type: hashmap): typed objects in copy-on-write hash maps inside the
// operator, one map per key group, so that heap state is never serialized on access. A table's map
// key is the key alone in the void namespace (no cost for state without a namespace) or the key and
// the namespace. In snapshots an entry's key is the key's bytes and its user key starts with the
// namespace's bytes, as in the host backend, so a heap snapshot restores into RocksDB. A restored
// table builds its map lazily: each key group from its restored entries on the first access to one
// of its keys (restored_entries.h). Internal to the SDK; task thread only, except the frozen maps
// and pending entries that snapshots read on an I/O thread.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "sluice/internal/heap_bytes.h"
#include "sluice/internal/restored_entries.h"
#include "sluice/state_types.h"

namespace sluice {
namespace internal {

//! The map key of a namespaced heap table.
template <typename K, typename N>
struct NsKey {
  K key;
  N ns;
  bool operator==(const NsKey& o) const { return key == o.key && ns == o.ns; }
};

template <typename K, typename N>
struct OutsideBytes<NsKey<K, N>> {
  static size_t Of(const NsKey<K, N>& k) { return BytesOutside(k.key) + BytesOutside(k.ns); }
};

}  // namespace internal

template <typename K, typename N>
struct KeyHasher<internal::NsKey<K, N>> {
  size_t operator()(const internal::NsKey<K, N>& k) const {
    return KeyHasher<K>()(k.key) * 31 + KeyHasher<N>()(k.ns);
  }
};

namespace internal {

template <typename K, typename N>
using TableKey = std::conditional_t<kVoidNamespace<N>, K, NsKey<K, N>>;

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
  //! A restored entry, whose key is in no map yet (heap tables build a key group from its restored
  //! entries before any access to it): into the base, or into the delta while a snapshot reads the
  //! base.
  void PutRestored(const K& k, V v) { Unfrozen().insert_or_assign(k, std::move(v)); }
  V& RestoredSlot(const K& k) { return Unfrozen()[k]; }
  template <typename F>
  void ForEachKey(F fn) const {
    for (const auto& [k, v] : delta_) fn(k);
    for (const auto& [k, v] : *base_) {
      if (!delta_.count(k) && !removed_.count(k)) fn(k);
    }
  }
  //! The bytes the map holds (heap_bytes.h), in two parts: buckets and nodes, and (sampled) what
  //! the entries hold outside; and the entries of its three maps. A base a snapshot still reads
  //! is counted once.
  size_t StructureBytes() const {
    return HashMapStructureBytes(*base_) + HashMapStructureBytes(delta_) +
           HashMapStructureBytes(removed_);
  }
  size_t OutsideBytes() const {
    return SampledOutside(base_->begin(), base_->size()) +
           SampledOutside(delta_.begin(), delta_.size()) +
           SampledOutside(removed_.begin(), removed_.size());
  }
  size_t Entries() const { return base_->size() + delta_.size() + removed_.size(); }
  //! The contents now, immutable; later writes do not change them.
  std::shared_ptr<const Map> Freeze() {
    if (delta_.empty() && removed_.empty()) return base_;  // unchanged: no copy even if shared
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
  Map& Unfrozen() { return base_.use_count() > 1 ? delta_ : *base_; }
  //! The base, copied first if a snapshot still reads it.
  Map& Writable() {
    if (base_.use_count() > 1) base_ = std::make_shared<Map>(*base_);
    return *base_;
  }

  std::shared_ptr<Map> base_ = std::make_shared<Map>();
  Map delta_;
  std::unordered_set<K, KeyHasher<K>> removed_;
};

//! fn(entry) for every entry of `map`, bucket by bucket, with the first node of the bucket 16
//! ahead prefetched. A walk along the map's node list waits for one cache miss per node; the
//! buckets' first nodes are known before they are needed, so their misses overlap: ~4 times faster
//! when the nodes lie scattered, a little slower when a restore laid them out in order.
template <typename Map, typename F>
void ForEachPrefetched(const Map& map, F&& fn) {
  constexpr size_t kAhead = 16;
  const size_t buckets = map.bucket_count();
  if (map.size() < 4 * kAhead) {
    for (const auto& entry : map) fn(entry);
    return;
  }
  std::vector<const typename Map::value_type*> first(buckets, nullptr);
  for (size_t b = 0; b < buckets; ++b) {
    auto it = map.begin(b);
    if (it != map.end(b)) first[b] = &*it;
  }
  for (size_t b = 0; b < buckets; ++b) {
    if (b + kAhead < buckets && first[b + kAhead] != nullptr) __builtin_prefetch(first[b + kAhead]);
    if (first[b] == nullptr) continue;
    for (auto it = map.begin(b); it != map.end(b); ++it) fn(*it);
  }
}

//! A table's entries as Flink's heap backend keeps them: one CowMap per key group, so that a
//! restore builds each key group into a map of its own size (1.7 times faster than into one map of
//! all keys, whose buckets do not fit in any cache: restore_bench), and a snapshot writes the
//! entries key group by key group without hashing a key again. Every access names its group.
template <typename K, typename V>
class KeyGroupedMap {
 public:
  using Map = typename CowMap<K, V>::Map;
  //! Frozen maps of the key groups that hold entries, in key-group order.
  using Frozen = std::vector<std::pair<int, std::shared_ptr<const Map>>>;

  const V* Find(int kg, const K& k) const {
    return kg >= 0 && static_cast<size_t>(kg) < groups_.size() ? groups_[kg].Find(k) : nullptr;
  }
  V& Mutable(int kg, const K& k) { return Grow(kg).Mutable(k); }
  void Put(int kg, const K& k, V v) { Grow(kg).Put(k, std::move(v)); }
  void Erase(int kg, const K& k) {
    if (kg >= 0 && static_cast<size_t>(kg) < groups_.size()) groups_[kg].Erase(k);
  }
  void Reserve(int kg, size_t n) { Grow(kg).Reserve(n); }
  void PutRestored(int kg, const K& k, V v) { Grow(kg).PutRestored(k, std::move(v)); }
  V& RestoredSlot(int kg, const K& k) { return Grow(kg).RestoredSlot(k); }
  template <typename F>
  void ForEachKey(F fn) const {
    for (const CowMap<K, V>& g : groups_) g.ForEachKey(fn);
  }
  //! As CowMap::EstimateBytes over every key group, but what entries hold outside is sampled in
  //! the first two key groups with entries only: the task checks its heap state after every
  //! buffer of records.
  size_t EstimateBytes() const {
    size_t bytes = groups_.capacity() * sizeof(CowMap<K, V>);
    size_t entries = 0, sampled_entries = 0, sampled_outside = 0;
    int sampled = 0;
    for (const CowMap<K, V>& g : groups_) {
      bytes += g.StructureBytes();
      const size_t n = g.Entries();
      entries += n;
      if (n > 0 && sampled < 2) {
        sampled_outside += g.OutsideBytes();
        sampled_entries += n;
        ++sampled;
      }
    }
    if (sampled_entries > 0) {
      bytes += static_cast<size_t>(static_cast<double>(sampled_outside) / sampled_entries *
                                   static_cast<double>(entries));
    }
    return bytes;
  }
  Frozen Freeze() {
    Frozen frozen;
    for (size_t kg = 0; kg < groups_.size(); ++kg) {
      std::shared_ptr<const Map> map = groups_[kg].Freeze();
      if (!map->empty()) frozen.emplace_back(static_cast<int>(kg), std::move(map));
    }
    return frozen;
  }

 private:
  CowMap<K, V>& Grow(int kg) {
    if (kg < 0) throw std::out_of_range("negative key group");
    if (static_cast<size_t>(kg) >= groups_.size()) groups_.resize(kg + 1);
    return groups_[kg];
  }

  std::vector<CowMap<K, V>> groups_;  // by key group, up to the highest written
};

inline std::string_view View(const ByteWriter& w) {
  return std::string_view(reinterpret_cast<const char*>(w.data()), w.size());
}

//! What every heap table shares: the current map key, and the key's form in snapshots.
template <typename K, typename N>
class HeapTable : public StateTable<K>, public NamespaceTable<N> {
 public:
  using Key = TableKey<K, N>;
  explicit HeapTable(const KeyScope<K>* scope) : scope_(scope) {}
  void SetNamespace(const N& ns) override { ns_ = ns; }
  void AdoptRestored(RestoredEntries entries, int max_parallelism) override {
    (void)max_parallelism;  // entries come with their key groups
    pending_ = PendingKeyGroups(std::move(entries));
  }

 protected:
  //! Room for `n` restored entries in key group `kg`, before they come.
  virtual void ReserveRestored(int kg, size_t n) = 0;
  //! One restored entry of key group `kg` into the map; its key is in no map yet.
  virtual void RestoreEntry(int kg, std::string_view key, std::string_view user_key,
                            std::string_view value) = 0;
  //! Before any access to the current key: its key group's restored entries into the map.
  void Ready() {
    if (pending_.empty()) return;
    const int kg = Group();
    pending_.Take(
        kg, [this, kg](size_t n) { ReserveRestored(kg, n); },
        [this](int group, std::string_view key, std::string_view user_key, std::string_view value) {
          RestoreEntry(group, key, user_key, value);
        });
  }
  //! Before a walk over all keys: every restored entry into the map.
  void ReadyAll() {
    pending_.TakeAll([this](int kg, size_t n) { ReserveRestored(kg, n); },
                     [this](int kg, std::string_view key, std::string_view user_key,
                            std::string_view value) { RestoreEntry(kg, key, user_key, value); });
  }
  //! The current key's key group.
  int Group() const { return scope_->CurrentKeyGroup(); }
  size_t PendingBytes() const { return pending_.Bytes(); }
  //! For a snapshot: the restored entries not in the map yet, to be written as they are.
  PendingKeyGroups::Frozen FreezePending() const { return pending_.Freeze(); }
  static void WritePending(const PendingKeyGroups::Frozen& pending, const std::string& name,
                           KeyedStateWriter& out) {
    pending.ForEach(
        [&out, &name](int kg, std::string_view key, std::string_view user_key,
                      std::string_view value) { out.Write(kg, name, key, user_key, value); });
  }

  //! The map key of the current key (a reference to it in the void namespace) and namespace.
  decltype(auto) Current() const {
    if constexpr (kVoidNamespace<N>) {
      return scope_->CurrentKey();
    } else {
      return Key{scope_->CurrentKey(), ns_};
    }
  }
  static const K& KeyPart(const Key& k) {
    if constexpr (kVoidNamespace<N>) {
      return k;
    } else {
      return k.key;
    }
  }
  //! An entry in a snapshot, as the host backend stores it too: the key's bytes as its key, the
  //! namespace's bytes at the start of its user key (nothing in the void namespace).
  static void WriteEntryKey(const Key& k, ByteWriter& key, ByteWriter& user_key) {
    key.Clear();
    Serializer<K>::Write(KeyPart(k), key);
    user_key.Clear();
    if constexpr (!kVoidNamespace<N>) Serializer<N>::Write(k.ns, user_key);
  }
  //! The map key of a restored entry; `user_key` is left with what follows the namespace.
  static Key ReadEntryKey(std::string_view key, std::string_view& user_key) {
    ByteReader r(reinterpret_cast<const uint8_t*>(key.data()), key.size());
    Key k{};
    if constexpr (kVoidNamespace<N>) {
      Serializer<K>::Read(r, k);
    } else {
      Serializer<K>::Read(r, k.key);
      ByteReader ns(reinterpret_cast<const uint8_t*>(user_key.data()), user_key.size());
      Serializer<N>::Read(ns, k.ns);
      user_key.remove_prefix(user_key.size() - ns.remaining());
    }
    return k;
  }
  template <typename V>
  void AppendKeysOf(const KeyGroupedMap<Key, V>& map, std::vector<K>& out) {
    ReadyAll();
    if constexpr (kVoidNamespace<N>) {
      map.ForEachKey([&out](const K& k) { out.push_back(k); });
    } else {
      std::unordered_set<K, KeyHasher<K>> seen;
      map.ForEachKey([&](const Key& k) {
        if (seen.insert(k.key).second) out.push_back(k.key);
      });
    }
  }

 private:
  const KeyScope<K>* scope_;
  N ns_{};
  PendingKeyGroups pending_;
};

template <typename K, typename N, typename T>
class HeapValueTable final : public HeapTable<K, N>, public ValueTable<T> {
  using Base = HeapTable<K, N>;

 public:
  using Base::Base;
  const T* Get() override {
    this->Ready();
    return map_.Find(this->Group(), this->Current());
  }
  void Put(T value) override {
    this->Ready();
    map_.Put(this->Group(), this->Current(), std::move(value));
  }
  void Clear() override {
    this->Ready();
    map_.Erase(this->Group(), this->Current());
  }
  size_t EstimateBytes() const override { return map_.EstimateBytes() + this->PendingBytes(); }
  void AppendKeys(std::vector<K>& out) override { this->AppendKeysOf(map_, out); }
  KeyedSnapshotFn Freeze(const std::string& name, int /*max_parallelism*/) override {
    return [frozen = map_.Freeze(), pending = this->FreezePending(), name](KeyedStateWriter& out) {
      ByteWriter kw, uw, vw;
      for (const auto& [kg, map] : frozen) {
        ForEachPrefetched(*map, [&, kg = kg](const auto& entry) {
          Base::WriteEntryKey(entry.first, kw, uw);
          vw.Clear();
          Serializer<T>::Write(entry.second, vw);
          out.Write(kg, name, View(kw), View(uw), View(vw));
        });
      }
      Base::WritePending(pending, name, out);
    };
  }

 private:
  void ReserveRestored(int kg, size_t n) override { map_.Reserve(kg, n); }
  void RestoreEntry(int kg, std::string_view key, std::string_view user_key,
                    std::string_view value) override {
    T v{};
    DeserializeFrom(value, v);
    map_.PutRestored(kg, Base::ReadEntryKey(key, user_key), std::move(v));
  }

  KeyGroupedMap<typename Base::Key, T> map_;
};

template <typename K, typename N, typename T>
class HeapListTable final : public HeapTable<K, N>, public ListTable<T> {
  using Base = HeapTable<K, N>;

 public:
  using Base::Base;
  std::vector<T> Get() override {
    this->Ready();
    const std::vector<T>* v = map_.Find(this->Group(), this->Current());
    return v ? *v : std::vector<T>{};
  }
  void Add(const T& value) override {
    this->Ready();
    map_.Mutable(this->Group(), this->Current()).push_back(value);
  }
  void Update(std::vector<T> values) override {
    this->Ready();
    if (values.empty()) {
      Clear();
    } else {
      map_.Put(this->Group(), this->Current(), std::move(values));
    }
  }
  void Clear() override {
    this->Ready();
    map_.Erase(this->Group(), this->Current());
  }
  size_t EstimateBytes() const override { return map_.EstimateBytes() + this->PendingBytes(); }
  void AppendKeys(std::vector<K>& out) override { this->AppendKeysOf(map_, out); }
  KeyedSnapshotFn Freeze(const std::string& name, int /*max_parallelism*/) override {
    return [frozen = map_.Freeze(), pending = this->FreezePending(), name](KeyedStateWriter& out) {
      ByteWriter kw, uw, vw;
      for (const auto& [kg, map] : frozen) {
        ForEachPrefetched(*map, [&, kg = kg](const auto& entry) {
          Base::WriteEntryKey(entry.first, kw, uw);
          vw.Clear();
          for (const auto& item : entry.second) Serializer<T>::Write(item, vw);
          out.Write(kg, name, View(kw), View(uw), View(vw));
        });
      }
      Base::WritePending(pending, name, out);
    };
  }

 private:
  void ReserveRestored(int kg, size_t n) override { map_.Reserve(kg, n); }
  void RestoreEntry(int kg, std::string_view key, std::string_view user_key,
                    std::string_view value) override {
    std::vector<T> items;
    DeserializeList(value, items);
    map_.PutRestored(kg, Base::ReadEntryKey(key, user_key), std::move(items));
  }

  KeyGroupedMap<typename Base::Key, std::vector<T>> map_;
};

template <typename K, typename N, typename UK, typename UV>
class HeapMapTable final : public HeapTable<K, N>, public MapTable<UK, UV> {
  using Base = HeapTable<K, N>;

 public:
  using Inner = std::unordered_map<UK, UV, KeyHasher<UK>>;
  using Base::Base;
  std::optional<UV> Get(const UK& key) override {
    this->Ready();
    const Inner* m = map_.Find(this->Group(), this->Current());
    if (!m) return std::nullopt;
    auto e = m->find(key);
    return e == m->end() ? std::nullopt : std::optional<UV>(e->second);
  }
  void Put(const UK& key, UV value) override {
    this->Ready();
    map_.Mutable(this->Group(), this->Current()).insert_or_assign(key, std::move(value));
  }
  void Remove(const UK& key) override {
    this->Ready();
    const Inner* m = map_.Find(this->Group(), this->Current());
    if (!m || !m->count(key)) return;
    Inner& mine = map_.Mutable(this->Group(), this->Current());
    mine.erase(key);
    if (mine.empty()) map_.Erase(this->Group(), this->Current());
  }
  std::vector<std::pair<UK, UV>> Entries() override {
    this->Ready();
    const Inner* m = map_.Find(this->Group(), this->Current());
    if (!m) return {};
    return {m->begin(), m->end()};
  }
  void ForEach(const std::function<void(const UK&, const UV&)>& fn) override {
    this->Ready();
    const Inner* m = map_.Find(this->Group(), this->Current());
    if (!m) return;
    for (const auto& [k, v] : *m) fn(k, v);
  }
  void Clear() override {
    this->Ready();
    map_.Erase(this->Group(), this->Current());
  }
  size_t EstimateBytes() const override { return map_.EstimateBytes() + this->PendingBytes(); }
  void AppendKeys(std::vector<K>& out) override { this->AppendKeysOf(map_, out); }
  KeyedSnapshotFn Freeze(const std::string& name, int /*max_parallelism*/) override {
    return [frozen = map_.Freeze(), pending = this->FreezePending(), name](KeyedStateWriter& out) {
      ByteWriter kw, ns, uw, vw;
      for (const auto& [kg, map] : frozen) {
        ForEachPrefetched(*map, [&, kg = kg](const auto& entry) {
          Base::WriteEntryKey(entry.first, kw, ns);
          for (const auto& [uk, uv] : entry.second) {
            uw.Clear();
            uw.Append(ns.data(), ns.size());
            Serializer<UK>::Write(uk, uw);
            vw.Clear();
            Serializer<UV>::Write(uv, vw);
            out.Write(kg, name, View(kw), View(uw), View(vw));
          }
        });
      }
      Base::WritePending(pending, name, out);
    };
  }

 private:
  void ReserveRestored(int kg, size_t n) override { map_.Reserve(kg, n); }
  void RestoreEntry(int kg, std::string_view key, std::string_view user_key,
                    std::string_view value) override {
    Inner& slot = map_.RestoredSlot(kg, Base::ReadEntryKey(key, user_key));
    UK uk{};
    DeserializeFrom(user_key, uk);
    UV uv{};
    DeserializeFrom(value, uv);
    slot.insert_or_assign(std::move(uk), std::move(uv));
  }

  KeyGroupedMap<typename Base::Key, Inner> map_;
};

}  // namespace internal
}  // namespace sluice
