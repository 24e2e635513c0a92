// State time-to-live (Flink's StateTtlConfig): keyed state that expires a time after it was last
// written (or read), by processing time.
//
//   sluice::StateTtlConfig ttl = sluice::StateTtlConfig::NewBuilder(std::chrono::hours(24))
//       .SetUpdateType(sluice::StateTtlConfig::UpdateType::kOnCreateAndWrite)
//       .SetStateVisibility(sluice::StateTtlConfig::Visibility::kNeverReturnExpired)
//       .CleanupFullSnapshot()
//       .Build();
//   count_ = ctx.GetState<int64_t>("count", ttl);   // and GetListState, GetMapState
//
// Each value (each list element, each map entry) is stored with the time it was last written or
// read (internal::TtlValue), so it expires on its own and the time travels with it through
// snapshots, restores and rescales. The handles are the usual ValueState, ListState and MapState.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/environment.h"
#include "sluice/serialization.h"
#include "sluice/state_types.h"

namespace sluice {

class StateTtlConfig {
 public:
  //! When the time-to-live starts again: on writes (kOnCreateAndWrite), on reads too
  //! (kOnReadAndWrite); never (kDisabled: no TTL).
  enum class UpdateType { kDisabled, kOnCreateAndWrite, kOnReadAndWrite };
  //! Whether an expired value not yet cleaned up may still be read.
  enum class Visibility { kNeverReturnExpired, kReturnExpiredIfNotCleanedUp };

  class Builder;
  static Builder NewBuilder(std::chrono::milliseconds ttl);

  int64_t ttl_ms() const { return ttl_ms_; }
  UpdateType update_type() const { return update_type_; }
  Visibility visibility() const { return visibility_; }
  bool IsEnabled() const { return update_type_ != UpdateType::kDisabled; }
  bool cleanup_full_snapshot() const { return cleanup_full_snapshot_; }
  //! Keys checked per access by incremental cleanup (CleanupIncrementally). 0: none.
  int incremental_cleanup_size() const { return incremental_size_; }
  //! Whether RocksDB's compactions drop expired entries (CleanupInRocksdbCompactFilter).
  bool compaction_filter() const { return compaction_filter_; }
  //! Entries a compaction filter processes between two readings of the clock.
  int64_t compaction_filter_entries() const { return compaction_filter_entries_; }
  bool incremental_every_record() const { return incremental_every_record_; }

 private:
  int64_t ttl_ms_ = 0;
  UpdateType update_type_ = UpdateType::kOnCreateAndWrite;
  Visibility visibility_ = Visibility::kNeverReturnExpired;
  bool cleanup_full_snapshot_ = false;
  // Flink's defaults: background cleanup on, 5 keys per access on the heap, 1000 entries per
  // compaction-filter query on RocksDB.
  int incremental_size_ = 5;
  bool incremental_every_record_ = false;
  bool compaction_filter_ = true;
  int64_t compaction_filter_entries_ = 1000;
};

class StateTtlConfig::Builder {
 public:
  explicit Builder(std::chrono::milliseconds ttl) { config_.ttl_ms_ = ttl.count(); }
  Builder& SetUpdateType(UpdateType type) {
    config_.update_type_ = type;
    return *this;
  }
  Builder& SetStateVisibility(Visibility visibility) {
    config_.visibility_ = visibility;
    return *this;
  }
  Builder& SetTtl(std::chrono::milliseconds ttl) {
    config_.ttl_ms_ = ttl.count();
    return *this;
  }
  //! Expired entries are removed before each snapshot of heap state, so no snapshot holds
  //! them.
  Builder& CleanupFullSnapshot() {
    config_.cleanup_full_snapshot_ = true;
    return *this;
  }
  //! Every access to the state (and with `run_for_every_record` every record the operator
  //! processes) also checks `cleanup_size` other keys of it and removes what expired (heap and
  //! RocksDB alike).
  Builder& CleanupIncrementally(int cleanup_size, bool run_for_every_record) {
    config_.incremental_size_ = cleanup_size;
    config_.incremental_every_record_ = run_for_every_record;
    return *this;
  }
  //! RocksDB's compactions drop expired entries (a list's expired elements), reading the time
  //! again after `query_time_after_num_entries` entries (0: for every entry). On by default with
  //! 1000, as in Flink; no effect on heap state (docs/state-backends.md, "State time-to-live").
  Builder& CleanupInRocksdbCompactFilter(int64_t query_time_after_num_entries) {
    config_.compaction_filter_ = true;
    config_.compaction_filter_entries_ = query_time_after_num_entries;
    return *this;
  }
  Builder& DisableCleanupInBackground() {
    config_.incremental_size_ = 0;
    config_.compaction_filter_ = false;
    return *this;
  }
  //! Fails with a JobDefinitionError on a time-to-live that is not positive or a negative
  //! cleanup size.
  StateTtlConfig Build() const {
    if (config_.ttl_ms_ <= 0) {
      throw JobDefinitionError("StateTtlConfig: the time-to-live must be positive, not " +
                               std::to_string(config_.ttl_ms_) + " ms");
    }
    if (config_.incremental_size_ < 0 || config_.compaction_filter_entries_ < 0) {
      throw JobDefinitionError("StateTtlConfig: cleanup sizes must not be negative");
    }
    return config_;
  }

 private:
  StateTtlConfig config_;
};

inline StateTtlConfig::Builder StateTtlConfig::NewBuilder(std::chrono::milliseconds ttl) {
  return Builder(ttl);
}

namespace internal {

//! A value with the processing time it was last written (or read).
template <typename T>
struct TtlValue {
  int64_t last_access = 0;
  T value{};
};

}  // namespace internal

template <typename T>
struct Serializer<internal::TtlValue<T>> {
  static void Write(const internal::TtlValue<T>& v, ByteWriter& w) {
    Serializer<int64_t>::Write(v.last_access, w);
    Serializer<T>::Write(v.value, w);
  }
  static void Read(ByteReader& r, internal::TtlValue<T>& v) {
    Serializer<int64_t>::Read(r, v.last_access);
    Serializer<T>::Read(r, v.value);
  }
};

namespace internal {

//! The bytes of the TTL'd list element stored at `data` (its time and value), 0 when it cannot be
//! read: what the host's compaction filter needs to walk a list (KeyedStateBackend::SetTimeToLive).
//! Runs on the host's threads.
template <typename T>
size_t TtlElementSize(const uint8_t* data, size_t size) noexcept {
  if constexpr (kFixedWidth<T> != 0) {
    constexpr size_t n = sizeof(int64_t) + kFixedWidth<T>;
    return n <= size ? n : 0;
  } else {
    try {
      ByteReader r(data, size);
      TtlValue<T> element;
      Serializer<TtlValue<T>>::Read(r, element);
      return size - r.remaining();
    } catch (...) {
      return 0;
    }
  }
}

}  // namespace internal

namespace internal {

//! What a TTL'd table needs from its store: the time, and a step of incremental cleanup.
class TtlTableBase {
 public:
  virtual ~TtlTableBase() = default;
  //! Removes the current key's expired entries.
  virtual void CleanupCurrent() = 0;
  virtual const StateTtlConfig& config() const = 0;
};

//! Expiry by `config` at processing time `clock()`.
class TtlClock {
 public:
  TtlClock(StateTtlConfig config, std::function<int64_t()> clock)
      : config_(std::move(config)), clock_(std::move(clock)) {}
  int64_t Now() const { return clock_(); }
  bool Expired(int64_t last_access, int64_t now) const {
    return last_access <= now - config_.ttl_ms();
  }
  bool ReturnExpired() const {
    return config_.visibility() == StateTtlConfig::Visibility::kReturnExpiredIfNotCleanedUp;
  }
  bool UpdateOnRead() const {
    return config_.update_type() == StateTtlConfig::UpdateType::kOnReadAndWrite;
  }
  const StateTtlConfig& config() const { return config_; }

 private:
  StateTtlConfig config_;
  std::function<int64_t()> clock_;
};

template <typename T>
class TtlValueTable final : public ValueTable<T>, public TtlTableBase {
 public:
  TtlValueTable(ValueTable<TtlValue<T>>* inner, TtlClock clock, std::function<void()> step)
      : inner_(inner), clock_(std::move(clock)), step_(std::move(step)) {}
  const T* Get() override {
    step_();
    const TtlValue<T>* v = inner_->Get();
    if (!v) return nullptr;
    const int64_t now = clock_.Now();
    if (clock_.Expired(v->last_access, now)) {
      if (!clock_.ReturnExpired()) {
        inner_->Clear();
        return nullptr;
      }
      expired_ = v->value;  // returned once more, then gone
      inner_->Clear();
      return &expired_;
    }
    if (clock_.UpdateOnRead()) {
      inner_->Put(TtlValue<T>{now, v->value});
      v = inner_->Get();
    }
    return &v->value;
  }
  void Put(T value) override {
    step_();
    inner_->Put(TtlValue<T>{clock_.Now(), std::move(value)});
  }
  void Clear() override { inner_->Clear(); }
  void CleanupCurrent() override {
    const TtlValue<T>* v = inner_->Get();
    if (v && clock_.Expired(v->last_access, clock_.Now())) inner_->Clear();
  }
  const StateTtlConfig& config() const override { return clock_.config(); }

 private:
  ValueTable<TtlValue<T>>* inner_;
  TtlClock clock_;
  std::function<void()> step_;
  T expired_{};
};

template <typename T>
class TtlListTable final : public ListTable<T>, public TtlTableBase {
 public:
  TtlListTable(ListTable<TtlValue<T>>* inner, TtlClock clock, std::function<void()> step)
      : inner_(inner), clock_(std::move(clock)), step_(std::move(step)) {}
  std::vector<T> Get() override {
    step_();
    std::vector<TtlValue<T>> stored = inner_->Get();
    const int64_t now = clock_.Now();
    std::vector<T> out;
    std::vector<TtlValue<T>> kept;
    for (auto& e : stored) {
      const bool expired = clock_.Expired(e.last_access, now);
      if (!expired || clock_.ReturnExpired()) out.push_back(e.value);
      if (!expired)
        kept.push_back({clock_.UpdateOnRead() ? now : e.last_access, std::move(e.value)});
    }
    if (kept.size() != stored.size() || (clock_.UpdateOnRead() && !kept.empty())) {
      if (kept.empty()) {
        inner_->Clear();
      } else {
        inner_->Update(std::move(kept));
      }
    }
    return out;
  }
  void Add(const T& value) override {
    step_();
    inner_->Add(TtlValue<T>{clock_.Now(), value});
  }
  void Update(std::vector<T> values) override {
    step_();
    const int64_t now = clock_.Now();
    std::vector<TtlValue<T>> stored;
    stored.reserve(values.size());
    for (auto& v : values) stored.push_back({now, std::move(v)});
    inner_->Update(std::move(stored));
  }
  void Clear() override { inner_->Clear(); }
  void CleanupCurrent() override {
    std::vector<TtlValue<T>> stored = inner_->Get();
    const int64_t now = clock_.Now();
    std::vector<TtlValue<T>> kept;
    for (auto& e : stored) {
      if (!clock_.Expired(e.last_access, now)) kept.push_back(std::move(e));
    }
    if (kept.size() == stored.size()) return;
    if (kept.empty()) {
      inner_->Clear();
    } else {
      inner_->Update(std::move(kept));
    }
  }
  const StateTtlConfig& config() const override { return clock_.config(); }

 private:
  ListTable<TtlValue<T>>* inner_;
  TtlClock clock_;
  std::function<void()> step_;
};

template <typename UK, typename UV>
class TtlMapTable final : public MapTable<UK, UV>, public TtlTableBase {
 public:
  TtlMapTable(MapTable<UK, TtlValue<UV>>* inner, TtlClock clock, std::function<void()> step)
      : inner_(inner), clock_(std::move(clock)), step_(std::move(step)) {}
  std::optional<UV> Get(const UK& key) override {
    step_();
    std::optional<TtlValue<UV>> v = inner_->Get(key);
    if (!v) return std::nullopt;
    const int64_t now = clock_.Now();
    if (clock_.Expired(v->last_access, now)) {
      inner_->Remove(key);
      if (!clock_.ReturnExpired()) return std::nullopt;
      return std::move(v->value);
    }
    if (clock_.UpdateOnRead()) inner_->Put(key, TtlValue<UV>{now, v->value});
    return std::move(v->value);
  }
  void Put(const UK& key, UV value) override {
    step_();
    inner_->Put(key, TtlValue<UV>{clock_.Now(), std::move(value)});
  }
  void Remove(const UK& key) override { inner_->Remove(key); }
  std::vector<std::pair<UK, UV>> Entries() override {
    std::vector<std::pair<UK, UV>> out;
    ForEach([&out](const UK& k, const UV& v) { out.emplace_back(k, v); });
    return out;
  }
  void ForEach(const std::function<void(const UK&, const UV&)>& fn) override {
    step_();
    const int64_t now = clock_.Now();
    std::vector<UK> expired;
    std::vector<std::pair<UK, UV>> touched;
    inner_->ForEach([&](const UK& k, const TtlValue<UV>& v) {
      if (clock_.Expired(v.last_access, now)) {
        expired.push_back(k);
        if (!clock_.ReturnExpired()) return;
      } else if (clock_.UpdateOnRead()) {
        touched.emplace_back(k, v.value);
      }
      fn(k, v.value);
    });
    for (const UK& k : expired) inner_->Remove(k);
    for (auto& [k, v] : touched) inner_->Put(k, TtlValue<UV>{now, std::move(v)});
  }
  void Clear() override { inner_->Clear(); }
  void CleanupCurrent() override {
    const int64_t now = clock_.Now();
    std::vector<UK> expired;
    inner_->ForEach([&](const UK& k, const TtlValue<UV>& v) {
      if (clock_.Expired(v.last_access, now)) expired.push_back(k);
    });
    for (const UK& k : expired) inner_->Remove(k);
  }
  const StateTtlConfig& config() const override { return clock_.config(); }

 private:
  MapTable<UK, TtlValue<UV>>* inner_;
  TtlClock clock_;
  std::function<void()> step_;
};

}  // namespace internal
}  // namespace sluice
