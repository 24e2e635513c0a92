// Tables in the host's KeyedStateBackend (state.backend.type: rocksdb): keys and values serialized
// on every access. The namespace's bytes prefix the user key (empty in the void namespace, so a
// state without a namespace is stored as before namespaces existed); namespace encodings are
// self-delimiting, so no namespace's bytes are a prefix of another's. Internal to the SDK; task
// thread only.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sluice/state_types.h"

namespace sluice::internal {

template <typename K, typename N>
class BackendTableBase : public StateTable<K>, public NamespaceTable<N> {
 public:
  BackendTableBase(KeyedStateBackend* backend, int id) : backend_(backend), id_(id) {}
  void SetNamespace(const N& ns) override {
    if constexpr (!kVoidNamespace<N>) ns_ = SerializeToString(ns, scratch_);
  }
  void AppendKeys(std::vector<K>& out) override {
    backend_->ForEachKey(id_, [&out](std::string_view key) {
      K k{};
      DeserializeFrom(key, k);
      out.push_back(std::move(k));
    });
  }

 protected:
  std::string_view Scratch() const {
    return std::string_view(reinterpret_cast<const char*>(scratch_.data()), scratch_.size());
  }
  //! Every entry of the current key in the current namespace, user keys without the namespace.
  template <typename F>
  void ForEachInNamespace(F fn) {
    backend_->ForEachUserKey(id_, [&](std::string_view uk, std::string_view value) {
      if (uk.substr(0, ns_.size()) == ns_) fn(uk.substr(ns_.size()), value);
    });
  }

  KeyedStateBackend* backend_;
  int id_;
  std::string ns_;  // the current namespace's bytes; empty in the void namespace
  ByteWriter scratch_;
  std::string bytes_;
};

template <typename K, typename N, typename T>
class BackendValueTable final : public BackendTableBase<K, N>, public ValueTable<T> {
 public:
  using BackendTableBase<K, N>::BackendTableBase;
  const T* Get() override {
    if (!this->backend_->Get(this->id_, this->ns_, &this->bytes_)) return nullptr;
    value_ = T{};
    DeserializeFrom(this->bytes_, value_);
    return &value_;
  }
  void Put(T value) override {
    this->scratch_.Clear();
    Serializer<T>::Write(value, this->scratch_);
    this->backend_->Put(this->id_, this->ns_, this->Scratch());
  }
  void Clear() override { this->backend_->Delete(this->id_, this->ns_); }

 private:
  T value_{};
};

template <typename K, typename N, typename T>
class BackendListTable final : public BackendTableBase<K, N>, public ListTable<T> {
 public:
  using BackendTableBase<K, N>::BackendTableBase;
  std::vector<T> Get() override {
    std::vector<T> out;
    if (this->backend_->Get(this->id_, this->ns_, &this->bytes_))
      DeserializeList(this->bytes_, out);
    return out;
  }
  void Add(const T& value) override {
    this->scratch_.Clear();
    Serializer<T>::Write(value, this->scratch_);
    this->backend_->Append(this->id_, this->ns_, this->Scratch());
  }
  void Update(std::vector<T> values) override {
    if (values.empty()) return Clear();
    this->scratch_.Clear();
    for (const auto& v : values) Serializer<T>::Write(v, this->scratch_);
    this->backend_->Put(this->id_, this->ns_, this->Scratch());
  }
  void Clear() override { this->backend_->Delete(this->id_, this->ns_); }
};

template <typename K, typename N, typename UK, typename UV>
class BackendMapTable final : public BackendTableBase<K, N>, public MapTable<UK, UV> {
 public:
  using BackendTableBase<K, N>::BackendTableBase;
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
    this->backend_->Put(this->id_, uk, this->Scratch());
  }
  void Remove(const UK& key) override { this->backend_->Delete(this->id_, UserKey(key)); }
  std::vector<std::pair<UK, UV>> Entries() override {
    std::vector<std::pair<UK, UV>> out;
    this->ForEachInNamespace([&out](std::string_view uk, std::string_view uv) {
      std::pair<UK, UV> e{};
      DeserializeFrom(uk, e.first);
      DeserializeFrom(uv, e.second);
      out.push_back(std::move(e));
    });
    return out;
  }
  void ForEach(const std::function<void(const UK&, const UV&)>& fn) override {
    this->ForEachInNamespace([&fn](std::string_view uk, std::string_view uv) {
      std::pair<UK, UV> e{};  // fresh: not every type's Read starts by clearing
      DeserializeFrom(uk, e.first);
      DeserializeFrom(uv, e.second);
      fn(e.first, e.second);
    });
  }
  void Clear() override {
    if constexpr (kVoidNamespace<N>) {
      this->backend_->DeleteAll(this->id_);
    } else {
      std::vector<std::string> doomed;
      this->ForEachInNamespace([&](std::string_view uk, std::string_view) {
        doomed.push_back(this->ns_ + std::string(uk));
      });
      for (const auto& uk : doomed) this->backend_->Delete(this->id_, uk);
    }
  }

 private:
  //! The namespace's bytes, then the user key's.
  std::string UserKey(const UK& key) { return this->ns_ + SerializeToString(key, this->scratch_); }
};

}  // namespace sluice::internal
