// The node of a two-input operator (Connect, joins): which edges feed which input, and edges
// partitioned by a key. Job-building time only.
#pragma once

#include "sluice/internal/cxx_version.h"  // IWYU pragma: keep
// ^ First and apart (clang-format keeps it so): before C++20, compilation stops there, plainly.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sluice/environment.h"
#include "sluice/key_groups.h"
#include "sluice/runtime.h"

namespace sluice {

namespace internal {

//! The node reading `first` as its input 0 and `second` as its input 1.
inline NodeSpec& AddTwoInputNode(StreamEnvironment* env, std::string name,
                                 const std::vector<EdgeSpec>& first,
                                 const std::vector<EdgeSpec>& second) {
  NodeSpec& n = env->AddNode(std::move(name));
  n.inputs = first;
  for (EdgeSpec e : second) {
    e.input = 1;
    n.inputs.push_back(std::move(e));
  }
  return n;
}

//! The node reading `first` and `second` whose operator `make_operator()` builds for each
//! subtask; its output, of type OUT.
template <typename OUT, typename MakeOperator>
DataStream<OUT> AddTwoInputOperator(StreamEnvironment* env, std::string name,
                                    const std::vector<EdgeSpec>& first,
                                    const std::vector<EdgeSpec>& second,
                                    MakeOperator make_operator) {
  NodeSpec& n = AddTwoInputNode(env, std::move(name), first, second);
  n.factory = [make_operator]() -> std::unique_ptr<StreamOperator> { return make_operator(); };
  n.serialize_output = &SerializeErased<OUT>;
  return DataStream<OUT>(env, {MainOutputEdge(n.id)}, static_cast<int>(n.id));
}

//! `edges` partitioned by `key_fn` over records of type T.
template <typename T, typename KeyFn>
std::vector<EdgeSpec> HashEdges(std::vector<EdgeSpec> edges, KeyFn key_fn) {
  for (auto& e : edges) {
    e.kind = PartitionKind::kHash;
    e.key_hash = [key_fn](const void* rec) { return KeyHash(key_fn(*static_cast<const T*>(rec))); };
  }
  return edges;
}

}  // namespace internal

}  // namespace sluice
