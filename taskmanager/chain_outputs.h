// The Outputs a task wires its operators with: to the next operator of the chain, to several
// targets, to nowhere, and the side-output router. Records pass as objects; watermarks and
// watermark status go to every target; the task's timestamp slot travels with them implicitly.
// Task thread only.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sluice/runtime.h"

namespace sluice::taskmanager {

//! Passes records to the next operator of the chain as objects. A watermark goes through
//! `on_watermark` (the task fires the next operator's event-time timers, then hands it over).
class ChainedOutput final : public Output {
 public:
  ChainedOutput(StreamOperator* next, std::function<void(int64_t)> on_watermark)
      : next_(next), on_watermark_(std::move(on_watermark)) {}
  void Emit(const void* record) override { next_->ProcessRecord(record); }
  void EmitWatermark(int64_t watermark) override { on_watermark_(watermark); }
  void EmitWatermarkStatus(bool idle) override { next_->ProcessWatermarkStatus(idle); }

 private:
  StreamOperator* next_;
  std::function<void(int64_t)> on_watermark_;
};

class FanOutOutput final : public Output {
 public:
  explicit FanOutOutput(std::vector<Output*> targets) : targets_(std::move(targets)) {}
  void Emit(const void* record) override {
    for (Output* t : targets_) t->Emit(record);
  }
  void EmitWatermark(int64_t watermark) override {
    for (Output* t : targets_) t->EmitWatermark(watermark);
  }
  void EmitWatermarkStatus(bool idle) override {
    for (Output* t : targets_) t->EmitWatermarkStatus(idle);
  }

 private:
  std::vector<Output*> targets_;
};

class NullOutput final : public Output {
 public:
  void Emit(const void*) override {}
};

//! An operator's output when some of its edges read side outputs: records go to `main`, a side
//! output's records to the targets of its tag (dropped when none reads it), watermarks and status
//! to every target.
class SideOutputRouter final : public Output {
 public:
  SideOutputRouter(Output* main, std::map<std::string, std::vector<Output*>> sides)
      : main_(main), sides_(std::move(sides)) {}
  void Emit(const void* record) override { main_->Emit(record); }
  void EmitSideOutput(const std::string& tag, const void* record) override {
    auto it = sides_.find(tag);
    if (it == sides_.end()) return;
    for (Output* t : it->second) t->Emit(record);
  }
  void EmitWatermark(int64_t watermark) override {
    main_->EmitWatermark(watermark);
    for (auto& [tag, targets] : sides_) {
      for (Output* t : targets) t->EmitWatermark(watermark);
    }
  }
  void EmitWatermarkStatus(bool idle) override {
    main_->EmitWatermarkStatus(idle);
    for (auto& [tag, targets] : sides_) {
      for (Output* t : targets) t->EmitWatermarkStatus(idle);
    }
  }

 private:
  Output* main_;
  std::map<std::string, std::vector<Output*>> sides_;
};

}  // namespace sluice::taskmanager
