#include "jobmanager/execution_plan.h"

#include <gtest/gtest.h>

namespace sluice::jobmanager {
namespace {

//! Builds job graphs node by node for the tests.
class GraphBuilder {
 public:
  uint32_t Source(const std::string& name, int p) { return Add(name, p, {}); }
  uint32_t Op(const std::string& name, int p,
              std::vector<std::pair<uint32_t, proto::Partitioner>> in, bool chainable = true) {
    return Add(name, p, in, chainable);
  }
  proto::JobGraph graph;

 private:
  uint32_t Add(const std::string& name, int p,
               std::vector<std::pair<uint32_t, proto::Partitioner>> in, bool chainable = true) {
    auto* n = graph.add_nodes();
    n->set_id(static_cast<uint32_t>(graph.nodes_size() - 1));
    n->set_name(name);
    n->set_uid(name);
    n->set_parallelism(p);
    n->set_max_parallelism(128);
    n->set_is_source(in.empty());
    n->set_chainable(chainable);
    for (auto [src, part] : in) {
      auto* e = n->add_inputs();
      e->set_source_id(src);
      e->set_partitioner(part);
    }
    return n->id();
  }
};

TEST(ExecutionPlanTest, ChainsForwardEdgesOfEqualParallelism) {
  GraphBuilder b;
  auto src = b.Source("Source", 2);
  auto map = b.Op("Map", 2, {{src, proto::FORWARD}});
  auto keyed = b.Op("Count", 2, {{map, proto::HASH}});
  b.Op("Sink", 2, {{keyed, proto::FORWARD}});
  auto plan = BuildExecutionPlan(b.graph);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->vertices.size(), 2u);
  EXPECT_EQ(plan->vertices[0].name, "Source -> Map");
  EXPECT_EQ(plan->vertices[1].name, "Count -> Sink");
  EXPECT_EQ(plan->vertices[1].nodes, (std::vector<uint32_t>{2, 3}));
  ASSERT_EQ(plan->edges.size(), 1u);
  EXPECT_EQ(plan->edges[0].producer_node, map);
  EXPECT_EQ(plan->edges[0].consumer_vertex, keyed);
  EXPECT_EQ(plan->RequiredSlots(), 2);
}

TEST(ExecutionPlanTest, DoesNotChainAcrossParallelismChangesUnionsOrDisabledChaining) {
  GraphBuilder b;
  auto a = b.Source("A", 2);
  auto c = b.Source("C", 2);
  auto u = b.Op("Union", 2, {{a, proto::FORWARD}, {c, proto::FORWARD}});
  auto r = b.Op("Wide", 4, {{u, proto::REBALANCE}});
  auto nc = b.Op("NoChain", 4, {{r, proto::FORWARD}}, /*chainable=*/false);
  auto plan = BuildExecutionPlan(b.graph);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->vertices.size(), 5u);
  EXPECT_EQ(plan->vertex_of_node.at(nc), nc);
  EXPECT_EQ(plan->RequiredSlots(), 4);
}

TEST(ExecutionPlanTest, DeploymentWiresChainedOutputsPartitionsAndInputs) {
  GraphBuilder b;
  auto src = b.Source("Source", 2);
  auto map = b.Op("Map", 2, {{src, proto::FORWARD}});
  auto keyed = b.Op("Count", 3, {{map, proto::HASH}});
  auto plan = BuildExecutionPlan(b.graph);
  ASSERT_TRUE(plan.ok());
  auto locate = [](uint32_t, int s) {
    return SubtaskLocation{"tm-" + std::to_string(s), "127.0.0.1:" + std::to_string(1000 + s)};
  };
  auto producer = MakeDeployment(*plan, b.graph, src, 1, "job.0", locate);
  ASSERT_EQ(producer.operators_size(), 2);
  EXPECT_EQ(producer.operators(0).outputs(0).chained_node_id(), map);
  ASSERT_EQ(producer.partitions_size(), 1);
  EXPECT_EQ(producer.partitions(0).num_subpartitions(), 3);
  EXPECT_EQ(producer.partitions(0).partitioner(), proto::HASH);
  EXPECT_EQ(producer.partitions(0).consumer_node_id(), keyed);
  EXPECT_EQ(producer.operators(1).outputs(0).partition_index(), 0u);

  auto consumer = MakeDeployment(*plan, b.graph, keyed, 2, "job.0", locate);
  ASSERT_EQ(consumer.inputs_size(), 2);  // one channel per producer subtask
  for (int s = 0; s < 2; ++s) {
    EXPECT_EQ(consumer.inputs(s).subpartition(), 2);
    EXPECT_EQ(consumer.inputs(s).producer_taskmanager_id(), "tm-" + std::to_string(s));
    EXPECT_EQ(consumer.inputs(s).partition_id(), PartitionId("job.0", plan->edges[0], s));
  }
  EXPECT_EQ(consumer.partitions_size(), 0);
}

TEST(ExecutionPlanTest, UnchainedForwardEdgeIsPointwise) {
  GraphBuilder b;
  auto src = b.Source("Source", 3);
  auto sink = b.Op("Sink", 3, {{src, proto::FORWARD}}, /*chainable=*/false);
  auto plan = BuildExecutionPlan(b.graph);
  ASSERT_TRUE(plan.ok());
  auto locate = [](uint32_t, int s) { return SubtaskLocation{"tm", std::to_string(s)}; };
  auto d = MakeDeployment(*plan, b.graph, sink, 1, "j.0", locate);
  ASSERT_EQ(d.inputs_size(), 1);
  EXPECT_EQ(d.inputs(0).subpartition(), 0);
  EXPECT_EQ(d.inputs(0).producer_data_address(), "1");
  auto p = MakeDeployment(*plan, b.graph, src, 1, "j.0", locate);
  EXPECT_EQ(p.partitions(0).num_subpartitions(), 1);
}

TEST(ExecutionPlanTest, TwoInputOperatorHeadsItsChainAndItsChannelsSayWhichInputTheyFeed) {
  GraphBuilder b;
  auto customers = b.Source("Customers", 2);
  auto orders = b.Source("Orders", 2);
  auto join = b.Op("Join", 2, {{customers, proto::FORWARD}, {orders, proto::HASH}});
  b.graph.mutable_nodes(static_cast<int>(join))->mutable_inputs(1)->set_input(1);
  auto plan = BuildExecutionPlan(b.graph);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->vertices.size(), 3u) << "a two-input operator is never chained to a producer";
  auto locate = [](uint32_t, int s) { return SubtaskLocation{"tm", std::to_string(s)}; };
  auto d = MakeDeployment(*plan, b.graph, join, 1, "j.0", locate);
  ASSERT_EQ(d.inputs_size(), 3);  // one forward channel, two hash channels
  EXPECT_EQ(d.inputs(0).operator_input(), 0);
  EXPECT_EQ(d.inputs(1).operator_input(), 1);
  EXPECT_EQ(d.inputs(2).operator_input(), 1);

  // Only inputs 0 and 1 exist, and a second input needs a first.
  b.graph.mutable_nodes(static_cast<int>(join))->mutable_inputs(1)->set_input(2);
  EXPECT_FALSE(BuildExecutionPlan(b.graph).ok());
  b.graph.mutable_nodes(static_cast<int>(join))->mutable_inputs(1)->set_input(1);
  b.graph.mutable_nodes(static_cast<int>(join))->mutable_inputs(0)->set_input(1);
  auto r = BuildExecutionPlan(b.graph);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("a second input but no first"),
            std::string::npos)
      << r.status();
}

TEST(ExecutionPlanTest, RejectsMalformedGraphs) {
  proto::JobGraph empty;
  EXPECT_FALSE(BuildExecutionPlan(empty).ok());

  GraphBuilder forward_ref;
  forward_ref.Source("S", 1);
  auto* n = forward_ref.graph.add_nodes();
  n->set_id(1);
  n->set_name("Bad");
  n->set_parallelism(1);
  n->set_max_parallelism(128);
  n->add_inputs()->set_source_id(5);
  n->mutable_inputs(0)->set_partitioner(proto::FORWARD);
  auto r = BuildExecutionPlan(forward_ref.graph);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("Bad"), std::string::npos);

  GraphBuilder too_wide;
  too_wide.Source("S", 200);  // above max parallelism 128
  EXPECT_FALSE(BuildExecutionPlan(too_wide.graph).ok());
}

}  // namespace
}  // namespace sluice::jobmanager
