// State descriptors (Flink's ValueStateDescriptor, ListStateDescriptor, MapStateDescriptor): a
// state's name with its types, where an API takes a state rather than a name — broadcast state
// (DataStream::Broadcast(descriptor)) and ApplyToKeyedState.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <string>
#include <utility>

namespace sluice {

template <typename T>
class ValueStateDescriptor {
 public:
  using ValueType = T;
  explicit ValueStateDescriptor(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

template <typename T>
class ListStateDescriptor {
 public:
  using ElementType = T;
  explicit ListStateDescriptor(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

template <typename UK, typename UV>
class MapStateDescriptor {
 public:
  using KeyType = UK;
  using ValueType = UV;
  explicit MapStateDescriptor(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

}  // namespace sluice
