#include "jobmanager/execution_plan.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/states.h"

namespace sluice::jobmanager {

const TaskVertex& ExecutionPlan::vertex(uint32_t id) const {
  for (const auto& v : vertices) {
    if (v.id == id) return v;
  }
  static const TaskVertex kNone;
  return kNone;
}

int ExecutionPlan::RequiredSlots() const {
  int slots = 0;
  for (const auto& v : vertices) slots = std::max(slots, v.parallelism);
  return slots;
}

namespace {

bool Chainable(const proto::JobGraph& graph, const proto::JobNode& consumer) {
  if (consumer.is_source() || consumer.inputs_size() != 1 || !consumer.chainable()) return false;
  const proto::JobEdge& e = consumer.inputs(0);
  const proto::JobNode& producer = graph.nodes(static_cast<int>(e.source_id()));
  // A side output always leaves through the network: the chain passes only main outputs.
  return e.partitioner() == proto::FORWARD && e.side_output().empty() && producer.chainable() &&
         producer.parallelism() == consumer.parallelism();
}

}  // namespace

absl::StatusOr<ExecutionPlan> BuildExecutionPlan(const proto::JobGraph& graph) {
  if (graph.nodes_size() == 0) return absl::InvalidArgumentError("the job graph has no operators");
  for (int i = 0; i < graph.nodes_size(); ++i) {
    const auto& n = graph.nodes(i);
    if (n.id() != static_cast<uint32_t>(i)) {
      return absl::InvalidArgumentError(
          absl::StrCat("operator '", n.name(), "' has id ", n.id(), ", expected ", i));
    }
    if (n.parallelism() <= 0 || n.max_parallelism() < n.parallelism()) {
      return absl::InvalidArgumentError(absl::StrCat("operator '", n.name(), "' has parallelism ",
                                                     n.parallelism(), " and max parallelism ",
                                                     n.max_parallelism()));
    }
    if (n.is_source() != (n.inputs_size() == 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("operator '", n.name(), "': only sources may lack inputs"));
    }
    bool first_input = false, second_input = false;
    for (const auto& e : n.inputs()) {
      if (e.input() < 0 || e.input() > 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "operator '", n.name(), "' has an edge into input ", e.input(), " (0 or 1 expected)"));
      }
      (e.input() == 0 ? first_input : second_input) = true;
      if (e.source_id() >= n.id()) {
        return absl::InvalidArgumentError(
            absl::StrCat("operator '", n.name(), "' reads from an operator defined after it"));
      }
      if (e.partitioner() == proto::PARTITIONER_UNSPECIFIED) {
        return absl::InvalidArgumentError(
            absl::StrCat("operator '", n.name(), "' has an unresolved input partitioner"));
      }
    }
    if (second_input && !first_input) {
      return absl::InvalidArgumentError(
          absl::StrCat("operator '", n.name(), "' has a second input but no first"));
    }
  }

  ExecutionPlan plan;
  std::map<uint32_t, size_t> index_of_vertex;
  for (const auto& n : graph.nodes()) {
    if (Chainable(graph, n)) {
      uint32_t head = plan.vertex_of_node.at(n.inputs(0).source_id());
      plan.vertex_of_node[n.id()] = head;
      TaskVertex& v = plan.vertices[index_of_vertex.at(head)];
      v.nodes.push_back(n.id());
      v.name += " -> " + n.name();
    } else {
      TaskVertex v;
      v.id = n.id();
      v.name = n.name();
      v.parallelism = n.parallelism();
      v.max_parallelism = n.max_parallelism();
      v.nodes.push_back(n.id());
      index_of_vertex[n.id()] = plan.vertices.size();
      plan.vertex_of_node[n.id()] = n.id();
      plan.vertices.push_back(std::move(v));
    }
  }
  for (const auto& n : graph.nodes()) {
    if (Chainable(graph, n)) continue;
    for (int k = 0; k < n.inputs_size(); ++k) {
      NetworkEdge e;
      e.producer_node = n.inputs(k).source_id();
      e.consumer_node = n.id();
      e.input_index = k;
      e.operator_input = n.inputs(k).input();
      e.partitioner = n.inputs(k).partitioner();
      e.producer_vertex = plan.vertex_of_node.at(e.producer_node);
      e.consumer_vertex = plan.vertex_of_node.at(e.consumer_node);
      plan.edges.push_back(e);
    }
  }
  return plan;
}

std::string PartitionId(const std::string& attempt_prefix, const NetworkEdge& edge,
                        int producer_subtask) {
  return absl::StrCat(attempt_prefix, "/", edge.producer_node, "-", edge.consumer_node, ".",
                      edge.input_index, "/", producer_subtask);
}

proto::TaskDeployment MakeDeployment(
    const ExecutionPlan& plan, const proto::JobGraph& graph, uint32_t vertex_id, int subtask,
    const std::string& attempt_prefix,
    const std::function<SubtaskLocation(uint32_t vertex, int subtask)>& locate) {
  const TaskVertex& v = plan.vertex(vertex_id);
  proto::TaskDeployment d;
  d.set_vertex_id(v.id);
  d.set_vertex_name(v.name);
  d.set_subtask_index(subtask);
  d.set_parallelism(v.parallelism);
  d.set_default_parallelism(graph.default_parallelism());
  std::set<uint32_t> in_chain(v.nodes.begin(), v.nodes.end());
  for (uint32_t node_id : v.nodes) {
    proto::ChainedOperator* op = d.add_operators();
    op->set_node_id(node_id);
    op->set_max_parallelism(graph.nodes(static_cast<int>(node_id)).max_parallelism());
    // Outputs in consumer id order: chained consumers and network edges alike.
    for (const auto& consumer : graph.nodes()) {
      for (int k = 0; k < consumer.inputs_size(); ++k) {
        if (consumer.inputs(k).source_id() != node_id) continue;
        if (in_chain.count(consumer.id()) && plan.vertex_of_node.at(consumer.id()) == v.id &&
            consumer.id() != v.id) {
          op->add_outputs()->set_chained_node_id(consumer.id());
          continue;
        }
        for (const auto& e : plan.edges) {
          if (e.producer_node != node_id || e.consumer_node != consumer.id() ||
              e.input_index != k) {
            continue;
          }
          const TaskVertex& cv = plan.vertex(e.consumer_vertex);
          proto::ResultPartitionSpec* p = d.add_partitions();
          p->set_partition_id(PartitionId(attempt_prefix, e, subtask));
          p->set_partitioner(e.partitioner);
          p->set_num_subpartitions(e.partitioner == proto::FORWARD ? 1 : cv.parallelism);
          p->set_max_parallelism(graph.nodes(static_cast<int>(e.consumer_node)).max_parallelism());
          p->set_consumer_node_id(e.consumer_node);
          p->set_input_index(e.input_index);
          op->add_outputs()->set_partition_index(static_cast<uint32_t>(d.partitions_size() - 1));
        }
      }
    }
  }
  for (const auto& e : plan.edges) {
    if (e.consumer_vertex != v.id) continue;
    const TaskVertex& pv = plan.vertex(e.producer_vertex);
    for (int s = 0; s < pv.parallelism; ++s) {
      if (e.partitioner == proto::FORWARD && s != subtask) continue;
      proto::InputChannelSpec* in = d.add_inputs();
      in->set_partition_id(PartitionId(attempt_prefix, e, s));
      in->set_subpartition(e.partitioner == proto::FORWARD ? 0 : subtask);
      SubtaskLocation loc = locate(e.producer_vertex, s);
      in->set_producer_taskmanager_id(loc.taskmanager_id);
      in->set_producer_data_address(loc.data_address);
      in->set_producer_name(SubtaskDisplayName(pv.name, s, pv.parallelism));
      in->set_operator_input(e.operator_input);
    }
  }
  return d;
}

}  // namespace sluice::jobmanager
