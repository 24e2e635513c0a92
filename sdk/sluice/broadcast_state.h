// Broadcast state (Flink's broadcast state pattern): a stream broadcast with one or more
// MapStateDescriptors carries records that every subtask of the operator reading it sees, and the
// maps those descriptors name, kept by that operator, are the same on every subtask as long as
// every subtask changes them alike from those records — which is the user's contract, as in
// Flink. The side that is not broadcast only reads them (broadcast_process.h).
//
// Snapshots: the maps are operator state of union kind ("broadcast-state/<name>", one item per
// entry). Subtask 0 writes them — the others hold the same — and on a restore at any parallelism
// every subtask gets them whole.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "sluice/datastream.h"
#include "sluice/runtime.h"
#include "sluice/state_descriptors.h"
#include "sluice/state_types.h"

namespace sluice {

//! A broadcast state as the non-broadcast side sees it: read only.
template <typename UK, typename UV>
class ReadOnlyBroadcastState {
 public:
  explicit ReadOnlyBroadcastState(std::map<UK, UV>* map) : map_(map) {}
  std::optional<UV> Get(const UK& key) const {
    auto it = map_->find(key);
    return it == map_->end() ? std::nullopt : std::optional<UV>(it->second);
  }
  bool Contains(const UK& key) const { return map_->count(key) > 0; }
  //! Every entry, in key order.
  const std::map<UK, UV>& Entries() const { return *map_; }
  bool IsEmpty() const { return map_->empty(); }

 protected:
  std::map<UK, UV>* map_;
};

//! A broadcast state as the broadcast side sees it: read and write.
template <typename UK, typename UV>
class BroadcastState : public ReadOnlyBroadcastState<UK, UV> {
 public:
  using ReadOnlyBroadcastState<UK, UV>::ReadOnlyBroadcastState;
  void Put(const UK& key, UV value) { (*this->map_)[key] = std::move(value); }
  void Remove(const UK& key) { this->map_->erase(key); }
  void Clear() { this->map_->clear(); }
};

namespace internal {

inline constexpr char kBroadcastStatePrefix[] = "broadcast-state/";

class BroadcastMapBase {
 public:
  virtual ~BroadcastMapBase() = default;
  virtual void Snapshot(SnapshotContext& ctx, const std::string& list) const = 0;
  virtual void Restore(const std::vector<std::string>& items) = 0;
};

template <typename UK, typename UV>
class BroadcastMap final : public BroadcastMapBase {
 public:
  void Snapshot(SnapshotContext& ctx, const std::string& list) const override {
    ByteWriter scratch;
    for (const auto& [key, value] : map) {
      ctx.AddOperatorState(list, OperatorStateMode::kUnion,
                           SerializeToString(std::pair<UK, UV>(key, value), scratch));
    }
  }
  void Restore(const std::vector<std::string>& items) override {
    for (const std::string& item : items) {
      std::pair<UK, UV> entry;
      DeserializeFrom(item, entry);
      map[std::move(entry.first)] = std::move(entry.second);
    }
  }
  std::map<UK, UV> map;
};

//! A broadcast state declared by Broadcast(descriptor): its name, types and how to make it.
struct BroadcastStateSpec {
  std::string name;
  const std::type_info* types = nullptr;
  std::function<std::unique_ptr<BroadcastMapBase>()> make;
};

template <typename UK, typename UV>
void AddBroadcastSpec(std::vector<BroadcastStateSpec>& specs, const MapStateDescriptor<UK, UV>& d) {
  const std::type_info& types = typeid(BroadcastMap<UK, UV>);
  for (const BroadcastStateSpec& s : specs) {
    if (s.name != d.name()) continue;
    if (*s.types != types) {
      throw JobDefinitionError("Broadcast: the broadcast state '" + d.name() +
                               "' is declared twice with different key or value types");
    }
    return;
  }
  specs.push_back({d.name(), &types, [] { return std::make_unique<BroadcastMap<UK, UV>>(); }});
}

//! The broadcast states of one operator instance.
class BroadcastStates {
 public:
  explicit BroadcastStates(const std::vector<BroadcastStateSpec>& specs) {
    for (const BroadcastStateSpec& s : specs) maps_[s.name] = s.make();
  }
  template <typename UK, typename UV>
  std::map<UK, UV>* Get(const MapStateDescriptor<UK, UV>& d) {
    auto it = maps_.find(d.name());
    if (it == maps_.end()) {
      throw std::logic_error("the broadcast state '" + d.name() +
                             "' does not exist: name its descriptor in Broadcast(...)");
    }
    auto* typed = dynamic_cast<BroadcastMap<UK, UV>*>(it->second.get());
    if (!typed) {
      throw std::logic_error("the broadcast state '" + d.name() +
                             "' is asked for with other key or value types than Broadcast(...) "
                             "declared");
    }
    return &typed->map;
  }
  void Initialize(InitContext& ctx) {
    if (!ctx.IsRestored()) return;
    for (auto& [name, map] : maps_) map->Restore(ctx.OperatorState(kBroadcastStatePrefix + name));
  }
  //! Subtask 0 writes the states; the others hold the same.
  void Snapshot(SnapshotContext& ctx, int subtask) const {
    if (subtask != 0) return;
    for (const auto& [name, map] : maps_) map->Snapshot(ctx, kBroadcastStatePrefix + name);
  }

 private:
  std::map<std::string, std::unique_ptr<BroadcastMapBase>> maps_;
};

}  // namespace internal

//! A stream broadcast with the broadcast states it updates (DataStream::Broadcast(descriptors)):
//! connect it to another stream, keyed or not.
template <typename T>
class BroadcastStream {
 public:
  BroadcastStream(StreamEnvironment* env, std::vector<EdgeSpec> edges,
                  std::vector<internal::BroadcastStateSpec> states)
      : env_(env), edges_(std::move(edges)), states_(std::move(states)) {}
  StreamEnvironment* env() const { return env_; }
  const std::vector<EdgeSpec>& edges() const { return edges_; }
  const std::vector<internal::BroadcastStateSpec>& states() const { return states_; }

 private:
  StreamEnvironment* env_;
  std::vector<EdgeSpec> edges_;
  std::vector<internal::BroadcastStateSpec> states_;
};

template <typename T>
template <typename UK, typename UV, typename... More>
BroadcastStream<T> DataStream<T>::Broadcast(const MapStateDescriptor<UK, UV>& first,
                                            const More&... more) const {
  std::vector<internal::BroadcastStateSpec> specs;
  internal::AddBroadcastSpec(specs, first);
  (internal::AddBroadcastSpec(specs, more), ...);
  std::vector<EdgeSpec> edges = pending_;
  for (auto& e : edges) {
    e.kind = PartitionKind::kBroadcast;
    e.key_hash = nullptr;
  }
  return BroadcastStream<T>(env_, std::move(edges), std::move(specs));
}

}  // namespace sluice
