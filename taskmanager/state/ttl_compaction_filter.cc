#include "taskmanager/state/ttl_compaction_filter.h"

#include <rocksdb/compaction_filter.h>

#include <cstring>
#include <string>
#include <utility>

namespace sluice::state {
namespace {

int64_t TimeAt(const char* p) {
  int64_t t;
  std::memcpy(&t, p, sizeof t);  // the SDK's int64 serializer: its 8 bytes as they are
  return t;
}

//! One compaction's filter (RocksDB uses it from one thread): reads the clock again every
//! `query_time_after_entries` entries.
class TtlFilter final : public rocksdb::CompactionFilter {
 public:
  TtlFilter(TtlCompactionFilters::Settings settings, std::function<int64_t()> clock)
      : settings_(settings), clock_(std::move(clock)), now_(clock_()) {}

  Decision FilterV2(int /*level*/, const rocksdb::Slice& /*key*/, ValueType type,
                    const rocksdb::Slice& existing_value, std::string* new_value,
                    std::string* /*skip_until*/) const override {
    if (type != ValueType::kValue && type != ValueType::kMergeOperand) return Decision::kKeep;
    if (settings_.query_time_after_entries > 0 &&
        ++entries_ >= settings_.query_time_after_entries) {
      entries_ = 0;
      now_ = clock_();
    }
    std::string_view kept;
    switch (TtlCompactionFilters::Filter(
        settings_, now_, std::string_view(existing_value.data(), existing_value.size()), &kept)) {
      case TtlCompactionFilters::Decision::kKeep:
        return Decision::kKeep;
      case TtlCompactionFilters::Decision::kRemove:
        return Decision::kRemove;
      case TtlCompactionFilters::Decision::kChange:
        new_value->assign(kept.data(), kept.size());
        return Decision::kChangeValue;
    }
    return Decision::kKeep;
  }
  const char* Name() const override { return "SluiceTtlFilter"; }

 private:
  TtlCompactionFilters::Settings settings_;
  std::function<int64_t()> clock_;
  mutable int64_t now_;
  mutable int64_t entries_ = 0;
};

}  // namespace

class TtlFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  explicit TtlFilterFactory(std::shared_ptr<const TtlCompactionFilters> filters)
      : filters_(std::move(filters)) {}
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& context) override {
    TtlCompactionFilters::Settings settings;
    if (!filters_->Find(context.column_family_id, &settings)) return nullptr;
    return std::make_unique<TtlFilter>(settings, filters_->clock_);
  }
  const char* Name() const override { return "SluiceTtlFilterFactory"; }

 private:
  std::shared_ptr<const TtlCompactionFilters> filters_;
};

TtlCompactionFilters::TtlCompactionFilters(std::function<int64_t()> clock)
    : clock_(std::move(clock)) {}

void TtlCompactionFilters::Set(uint32_t family_id, Settings settings) {
  absl::MutexLock lock(&mu_);
  families_[family_id] = settings;
}

bool TtlCompactionFilters::Find(uint32_t family_id, Settings* out) const {
  absl::MutexLock lock(&mu_);
  auto it = families_.find(family_id);
  if (it == families_.end() || it->second.ttl_ms <= 0) return false;
  *out = it->second;
  return true;
}

std::shared_ptr<rocksdb::CompactionFilterFactory> TtlCompactionFilters::Factory() {
  return std::make_shared<TtlFilterFactory>(shared_from_this());
}

TtlCompactionFilters::Decision TtlCompactionFilters::Filter(const Settings& settings, int64_t now,
                                                            std::string_view value,
                                                            std::string_view* kept) {
  auto expired = [&](const char* p) { return TimeAt(p) <= now - settings.ttl_ms; };
  if (settings.element_size == nullptr) {
    if (value.size() < sizeof(int64_t)) return Decision::kKeep;
    return expired(value.data()) ? Decision::kRemove : Decision::kKeep;
  }
  // A list: its expired elements come first.
  size_t offset = 0;
  while (offset < value.size()) {
    const size_t left = value.size() - offset;
    if (left < sizeof(int64_t) || !expired(value.data() + offset)) break;
    const size_t n =
        settings.element_size(reinterpret_cast<const uint8_t*>(value.data()) + offset, left);
    if (n == 0 || n > left) return Decision::kKeep;  // unreadable: leave it to the SDK
    offset += n;
  }
  if (offset == 0) return Decision::kKeep;
  if (offset == value.size()) return Decision::kRemove;
  *kept = value.substr(offset);
  return Decision::kChange;
}

}  // namespace sluice::state
