// Keyed state (in memory for now): ValueState scoped to the current key of a keyed operator.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "sluice/key_groups.h"

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

template <typename T>
class ValueTable {
 public:
  virtual ~ValueTable() = default;
  virtual T* Get() = 0;
  virtual void Put(T value) = 0;
  virtual void Clear() = 0;
};

//! Handle to one named value per key. Cheap to copy; valid while its operator lives.
template <typename T>
class ValueState {
 public:
  ValueState() = default;
  explicit ValueState(ValueTable<T>* table) : table_(table) {}
  //! The current key's value, or nullptr when it has none.
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

namespace internal {

class StateTableBase {
 public:
  virtual ~StateTableBase() = default;
};

template <typename K>
class KeyedTableBase : public StateTableBase {
 public:
  virtual void AppendKeys(std::vector<K>& out) const = 0;
};

template <typename K, typename T>
class HeapValueTable final : public KeyedTableBase<K>, public ValueTable<T> {
 public:
  explicit HeapValueTable(const K* current) : current_(current) {}
  T* Get() override {
    auto it = map_.find(*current_);
    return it == map_.end() ? nullptr : &it->second;
  }
  void Put(T value) override { map_.insert_or_assign(*current_, std::move(value)); }
  void Clear() override { map_.erase(*current_); }
  void AppendKeys(std::vector<K>& out) const override {
    for (const auto& [k, v] : map_) out.push_back(k);
  }

 private:
  const K* current_;
  std::unordered_map<K, T, KeyHasher<K>> map_;
};

}  // namespace internal

//! All keyed state of one keyed operator instance, with the current key. Task thread only.
template <typename K>
class KeyedStateStore {
 public:
  void SetCurrentKey(const K& key) { current_ = key; }
  const K& CurrentKey() const { return current_; }

  template <typename T>
  ValueState<T> GetValueState(const std::string& name) {
    auto it = tables_.find(name);
    if (it == tables_.end()) {
      auto table = std::make_unique<internal::HeapValueTable<K, T>>(&current_);
      auto* raw = table.get();
      tables_.emplace(name, std::move(table));
      return ValueState<T>(raw);
    }
    auto* typed = dynamic_cast<internal::HeapValueTable<K, T>*>(it->second.get());
    if (!typed) throw std::logic_error("state '" + name + "' requested with another type");
    return ValueState<T>(typed);
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

 private:
  K current_{};
  std::map<std::string, std::unique_ptr<internal::KeyedTableBase<K>>> tables_;
};

}  // namespace sluice
