// From job graph to tasks: operator chaining (forward edges between chainable operators of equal
// parallelism whose consumer has a single input are fused into one task) and the network edges
// between tasks. Pure functions, unit tested on their own.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice_proto/cluster.pb.h"
#include "sluice_proto/graph.pb.h"

namespace sluice::jobmanager {

//! A task: an operator chain, identified by the id of its head node.
struct TaskVertex {
  uint32_t id = 0;
  std::string name;  // operator names joined with " -> "
  int parallelism = 1;
  int max_parallelism = 128;
  std::vector<uint32_t> nodes;  // topological order; nodes[0] is the head
};

//! A job edge that crosses tasks, i.e. goes through the network stack.
struct NetworkEdge {
  uint32_t producer_node = 0;
  uint32_t consumer_node = 0;
  int input_index = 0;     // index of the edge among the consumer node's inputs
  int operator_input = 0;  // which input of the consumer it feeds (1: a Connect's second)
  proto::Partitioner partitioner = proto::FORWARD;
  uint32_t producer_vertex = 0;
  uint32_t consumer_vertex = 0;
};

struct ExecutionPlan {
  std::vector<TaskVertex> vertices;  // ordered by head node id (topological)
  std::vector<NetworkEdge> edges;
  std::map<uint32_t, uint32_t> vertex_of_node;

  const TaskVertex& vertex(uint32_t id) const;
  //! Slots a job needs under slot sharing: the highest task parallelism.
  int RequiredSlots() const;
};

//! Validates the graph (ids, edges, parallelism) and computes chains. Errors name the operator.
absl::StatusOr<ExecutionPlan> BuildExecutionPlan(const proto::JobGraph& graph);

//! Where a subtask runs: TaskManager id and its data-plane address.
struct SubtaskLocation {
  std::string taskmanager_id;
  std::string data_address;
};

//! Partition id of one producer subtask's output along a network edge (unique within the cluster).
std::string PartitionId(const std::string& attempt_prefix, const NetworkEdge& edge,
                        int producer_subtask);

//! The deployment descriptor of one subtask. `locate(vertex, subtask)` gives producer locations.
proto::TaskDeployment MakeDeployment(
    const ExecutionPlan& plan, const proto::JobGraph& graph, uint32_t vertex_id, int subtask,
    const std::string& attempt_prefix,
    const std::function<SubtaskLocation(uint32_t vertex, int subtask)>& locate);

}  // namespace sluice::jobmanager
