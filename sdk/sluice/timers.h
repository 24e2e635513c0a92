// KeyedTimers: a keyed operator's typed view of its timer service, which the host keeps
// (InternalTimerService, in runtime.h): timers registered for the current key of the operator's
// KeyedStateStore, in a namespace N (a window, or none), and when one fires, its key is made
// current before `on_timer` runs, as Flink's InternalTimerService does for a Triggerable.
// Register the same (key, namespace, time) twice and it fires once. Task thread only.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/state.h"

namespace sluice {

template <typename K, typename N = VoidNamespace>
class KeyedTimers final : public TimerTarget {
 public:
  using Callback = std::function<void(TimeDomain domain, int64_t timestamp, const N& ns)>;

  //! In InitializeState, after store->Initialize(ctx): binds to the host's service `name`. A host
  //! without timers for this operator (not keyed) leaves them unusable: using one throws.
  void Initialize(InitContext& ctx, const std::string& name, KeyedStateStore<K>* store,
                  Callback on_timer) {
    service_ = ctx.TimerService(name, this);
    store_ = store;
    on_timer_ = std::move(on_timer);
  }

  void RegisterEventTimeTimer(int64_t timestamp, const N& ns = N{}) {
    Call(&InternalTimerService::Register, TimeDomain::kEventTime, timestamp, ns);
  }
  void DeleteEventTimeTimer(int64_t timestamp, const N& ns = N{}) {
    Call(&InternalTimerService::Delete, TimeDomain::kEventTime, timestamp, ns);
  }
  void RegisterProcessingTimeTimer(int64_t timestamp, const N& ns = N{}) {
    Call(&InternalTimerService::Register, TimeDomain::kProcessingTime, timestamp, ns);
  }
  void DeleteProcessingTimeTimer(int64_t timestamp, const N& ns = N{}) {
    Call(&InternalTimerService::Delete, TimeDomain::kProcessingTime, timestamp, ns);
  }
  int64_t CurrentWatermark() const {
    return service_ ? service_->CurrentWatermark() : kNoTimestamp;
  }
  int64_t CurrentProcessingTime() const { return Service().CurrentProcessingTime(); }

  void OnTimer(TimeDomain domain, int64_t timestamp, std::string_view key,
               std::string_view ns) override {
    K k{};
    internal::DeserializeFrom(key, k);
    store_->SetCurrentKey(k);
    N n{};
    internal::DeserializeFrom(ns, n);
    on_timer_(domain, timestamp, n);
  }

 private:
  using Op = void (InternalTimerService::*)(TimeDomain, int64_t, std::string_view, int,
                                            std::string_view);
  InternalTimerService& Service() const {
    if (!service_) throw std::logic_error("timers need a keyed operator (KeyBy before it)");
    return *service_;
  }
  void Call(Op op, TimeDomain domain, int64_t timestamp, const N& ns) {
    InternalTimerService& service = Service();
    const K& key = store_->CurrentKey();
    key_.Clear();
    Serializer<K>::Write(key, key_);
    ns_.Clear();
    Serializer<N>::Write(ns, ns_);
    (service.*op)(domain, timestamp, internal::View(key_), store_->CurrentKeyGroup(),
                  internal::View(ns_));
  }

  InternalTimerService* service_ = nullptr;
  KeyedStateStore<K>* store_ = nullptr;
  Callback on_timer_;
  ByteWriter key_, ns_;
};

}  // namespace sluice
