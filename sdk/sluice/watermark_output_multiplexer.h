// WatermarkOutputMultiplexer: combines the watermarks of several outputs (a source's splits) into
// one, as Flink's WatermarkOutputMultiplexer does. Each registered output keeps its own watermark
// and idleness; the combined watermark is the minimum over the outputs that are not idle, and the
// combination is idle when every registered output is. Owned by the source operator that uses it
// (through SourceWatermarks, usually); task thread only.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sluice/watermark_generators.h"

namespace sluice {

class WatermarkOutputMultiplexer {
 public:
  //! `underlying` gets the combined watermark when it advances, and idle/active when the
  //! combination's status changes. It must outlive the multiplexer.
  explicit WatermarkOutputMultiplexer(WatermarkOutput& underlying) : underlying_(underlying) {}
  WatermarkOutputMultiplexer(const WatermarkOutputMultiplexer&) = delete;
  WatermarkOutputMultiplexer& operator=(const WatermarkOutputMultiplexer&) = delete;

  //! A new output (split) `id`, active, at watermark INT64_MIN. Throws std::logic_error when `id`
  //! is already registered.
  void RegisterNewOutput(const std::string& id) {
    auto [it, added] = outputs_.emplace(id, nullptr);
    if (!added) throw std::logic_error("watermark output '" + id + "' is already registered");
    it->second = std::make_unique<Partial>(this);
  }
  //! Forgets `id` (a finished split); false when it was not registered. Its outputs become
  //! invalid. The combination is recomputed at the next update, as in Flink.
  bool UnregisterOutput(const std::string& id) { return outputs_.erase(id) > 0; }
  bool HasOutput(const std::string& id) const { return outputs_.count(id) > 0; }
  //! The active output with the lowest watermark, which holds the combined one back; empty when
  //! every output is idle or there is none.
  std::string holding_back() const {
    const std::string* id = nullptr;
    int64_t min = kMaxWatermark;
    for (const auto& [name, p] : outputs_) {
      if (p->idle || (id && p->watermark >= min)) continue;
      id = &name;
      min = p->watermark;
    }
    return id ? *id : std::string();
  }
  //! The outputs marked idle.
  std::vector<std::string> idle_outputs() const {
    std::vector<std::string> idle;
    for (const auto& [name, p] : outputs_) {
      if (p->idle) idle.push_back(name);
    }
    return idle;
  }
  //! The watermark of one output (kNoTimestamp before its first); throws for an unknown id.
  int64_t watermark_of(const std::string& id) const {
    auto it = outputs_.find(id);
    if (it == outputs_.end()) throw std::logic_error("no watermark output '" + id + "'");
    return it->second->watermark;
  }

  //! Updates the combination on every call: for events (punctuated watermarks).
  WatermarkOutput& GetImmediateOutput(const std::string& id) { return Find(id).immediate; }
  //! Only records the split's state; OnPeriodicEmit combines: for periodic watermarks, so that
  //! each split's emit does not recompute the combination.
  WatermarkOutput& GetDeferredOutput(const std::string& id) { return Find(id).deferred; }

  //! Combines the deferred updates (after every split's OnPeriodicEmit).
  void OnPeriodicEmit() { UpdateCombined(); }

  int64_t combined_watermark() const { return combined_; }
  bool idle() const { return idle_; }

 private:
  struct Partial;

  //! The output of one split: `immediate` recombines after each change, `deferred` does not.
  class SplitOutput final : public WatermarkOutput {
   public:
    SplitOutput(Partial* state, WatermarkOutputMultiplexer* parent)
        : state_(state), parent_(parent) {}
    void EmitWatermark(int64_t watermark) override {
      // Like Flink's PartialWatermark: any watermark, advancing or not, ends the split's idleness.
      state_->idle = false;
      if (watermark > state_->watermark) state_->watermark = watermark;
      Changed();
    }
    void MarkIdle() override {
      state_->idle = true;
      Changed();
    }
    void MarkActive() override {
      state_->idle = false;
      Changed();
    }

   private:
    void Changed() {
      if (parent_) parent_->UpdateCombined();
    }
    Partial* state_;
    WatermarkOutputMultiplexer* parent_;  // null for the deferred output
  };

  struct Partial {
    explicit Partial(WatermarkOutputMultiplexer* parent)
        : immediate(this, parent), deferred(this, nullptr) {}
    int64_t watermark = kNoTimestamp;
    bool idle = false;
    SplitOutput immediate;
    SplitOutput deferred;
  };

  Partial& Find(const std::string& id) {
    auto it = outputs_.find(id);
    if (it == outputs_.end()) throw std::logic_error("no watermark output '" + id + "'");
    return *it->second;
  }

  void UpdateCombined() {
    // With no outputs the minimum is undefined: nothing changes (Flink does the same).
    if (outputs_.empty()) return;
    int64_t min = kMaxWatermark;
    bool all_idle = true;
    for (const auto& [id, p] : outputs_) {
      if (p->idle) continue;
      all_idle = false;
      if (p->watermark < min) min = p->watermark;
    }
    if (all_idle) {
      if (!idle_) {
        idle_ = true;
        underlying_.MarkIdle();
      }
      return;
    }
    if (idle_) {
      idle_ = false;
      underlying_.MarkActive();
    }
    if (min > combined_) {
      combined_ = min;
      underlying_.EmitWatermark(min);
    }
  }

  WatermarkOutput& underlying_;
  // unique_ptr: the outputs handed out must keep their address while the map changes.
  std::map<std::string, std::unique_ptr<Partial>> outputs_;
  int64_t combined_ = kNoTimestamp;
  bool idle_ = false;
};

}  // namespace sluice
