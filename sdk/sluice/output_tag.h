// OutputTag<T>: names a side output of an operator and the type of its records (Flink's
// OutputTag). Operators emit to it with Output::EmitSideOutput(tag.id(), &record); a consumer
// reads it with DataStream::GetSideOutput(tag).
#pragma once

#include <string>
#include <utility>

#include "sluice/environment.h"

namespace sluice {

template <typename T>
class OutputTag {
 public:
  using Type = T;
  //! `id` names the side output within the job; it must not be empty.
  explicit OutputTag(std::string id) : id_(std::move(id)) {
    if (id_.empty()) throw JobDefinitionError("an OutputTag needs a non-empty id");
  }
  const std::string& id() const { return id_; }

 private:
  std::string id_;
};

}  // namespace sluice
