// OutputTag<T>: names a side output of type T (Flink's OutputTag). An operator emits to it with
// ctx.Output(tag, value); stream.GetSideOutput(tag) reads it. The id tells side outputs apart
// within an operator: two tags with the same id are the same side output.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <string>
#include <utility>

#include "sluice/environment.h"

namespace sluice {

template <typename T>
class OutputTag {
 public:
  using Type = T;
  explicit OutputTag(std::string id) : id_(std::move(id)) {
    if (id_.empty()) throw JobDefinitionError("an OutputTag needs a non-empty id");
  }
  const std::string& id() const { return id_; }

 private:
  std::string id_;
};

}  // namespace sluice
