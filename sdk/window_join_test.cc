// Window join and co-group: the graph (both inputs tagged, unioned, keyed and windowed by one
// window operator) and that operator driven as the host drives it, with random out-of-order
// records of both sides in tumbling and sliding windows, against the pairs and groups the test
// computes itself; state on the heap and in a backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "sluice/sluice.h"
#include "sluice/testing/fake_keyed_host.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;

struct Order {
  int64_t id = 0;
  int64_t item = 0;
  SLUICE_FIELDS(id, item)
};

struct Stock {
  std::string note;
  int64_t item = 0;
  int64_t id = 0;
  SLUICE_FIELDS(note, item, id)
};

using Tagged = std::variant<Order, Stock>;

class CountGroups final : public CoGroupFunction<Order, Stock, std::string> {
 public:
  void CoGroup(const std::vector<Order>& orders, const std::vector<Stock>& stock,
               Collector<std::string>& out) override {
    int64_t item = orders.empty() ? stock[0].item : orders[0].item;
    out.Collect("item " + std::to_string(item) + ": " + std::to_string(orders.size()) + "/" +
                std::to_string(stock.size()));
  }
};

class PairJoin final : public JoinFunction<Order, Stock, std::string> {
 public:
  std::string Join(const Order& o, const Stock& s) override {
    return std::to_string(o.id) + "-" + std::to_string(s.id);
  }
};

struct Event {
  bool left;
  int64_t item, id, ts;
};

//! Builds the job with `apply` on the windowed join, returns its nodes and the window node.
template <typename Apply>
std::pair<std::vector<NodeSpec>, size_t> Build(bool co_group, int64_t size, int64_t slide,
                                               Apply apply) {
  StreamEnvironment env({}, 1);
  auto orders =
      env.AddSource<Order>([] { return std::make_unique<testing::NoSource<Order>>(); }, "Orders");
  auto stock =
      env.AddSource<Stock>([] { return std::make_unique<testing::NoSource<Stock>>(); }, "Stock");
  auto joined = co_group ? orders.CoGroup(stock) : orders.Join(stock);
  auto equal = joined.Where([](const Order& o) { return o.item; }).EqualTo([](const Stock& s) {
    return s.item;
  });
  if (slide == size) {
    apply(equal.Window(TumblingEventTimeWindows::Of(milliseconds(size))));
  } else {
    apply(equal.Window(SlidingEventTimeWindows::Of(milliseconds(size), milliseconds(slide))));
  }
  env.Finalize();
  return {env.nodes(), env.nodes().size() - 1};
}

class WindowJoinTest : public ::testing::TestWithParam<std::tuple<bool, bool, bool>> {};

TEST_P(WindowJoinTest, GivesThePairsOrGroupsOfEveryKeyAndWindow) {
  const auto [co_group, sliding, in_backend] = GetParam();
  const int64_t size = 100, slide = sliding ? 40 : 100;
  auto [nodes, window] = Build(co_group, size, slide, [co_group = co_group](auto windowed) {
    if (co_group) {
      windowed.Apply([] { return std::make_unique<CountGroups>(); }, "Groups");
    } else {
      windowed.Apply([] { return std::make_unique<PairJoin>(); }, "Pairs");
    }
  });
  // Orders -> tag, Stock -> tag, and the window operator reading both tags.
  ASSERT_EQ(nodes.size(), 5u);
  EXPECT_EQ(nodes[2].name, co_group ? "Groups (left)" : "Pairs (left)");
  EXPECT_EQ(nodes[window].name, co_group ? "Groups" : "Pairs");
  ASSERT_EQ(nodes[window].inputs.size(), 2u);
  for (const EdgeSpec& e : nodes[window].inputs) EXPECT_EQ(e.kind, PartitionKind::kHash);

  std::mt19937 rng(7);
  std::vector<Event> events;
  for (int i = 0; i < 400; ++i) {
    events.push_back({std::uniform_int_distribution<int>(0, 1)(rng) == 1,
                      std::uniform_int_distribution<int64_t>(0, 3)(rng), i,
                      1000 + i * 2 - std::uniform_int_distribution<int64_t>(0, 20)(rng)});
  }
  // The window operator reads the tagged records as the tag maps before it send them.
  testing::OperatorHarness<std::string> h(nodes[window].factory, nullptr, in_backend);
  for (const Event& e : events) {
    Tagged t = e.left ? Tagged(std::in_place_index<0>, Order{e.id, e.item})
                      : Tagged(std::in_place_index<1>, Stock{"n", e.item, e.id});
    h.Add(t, e.ts);
    if (e.id % 20 == 19) h.Watermark(1000 + e.id * 2 - 21);
  }
  h.Watermark(kMaxWatermark);

  // Every window [start, start + size) with start a multiple of the slide.
  std::vector<std::string> want;
  for (int64_t start = 0; start < 2000; start += slide) {
    for (int64_t item = 0; item < 4; ++item) {
      std::vector<const Event*> left, right;
      for (const Event& e : events) {
        if (e.item != item || e.ts < start || e.ts >= start + size) continue;
        (e.left ? left : right).push_back(&e);
      }
      if (co_group) {
        if (!left.empty() || !right.empty()) {
          want.push_back("item " + std::to_string(item) + ": " + std::to_string(left.size()) + "/" +
                         std::to_string(right.size()));
        }
        continue;
      }
      for (const Event* l : left) {
        for (const Event* r : right)
          want.push_back(std::to_string(l->id) + "-" + std::to_string(r->id));
      }
    }
  }
  ASSERT_GT(want.size(), 30u);
  std::vector<std::string> got = h.out.records;
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_TRUE(h.host.StateIsEmpty(*h.op)) << "fired windows are purged";
}

INSTANTIATE_TEST_SUITE_P(KindsWindowsBackends, WindowJoinTest,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "cogroup" : "join") +
                                  (std::get<1>(info.param) ? "_sliding" : "_tumbling") +
                                  (std::get<2>(info.param) ? "_backend" : "_heap");
                         });

// (The lambdas emit strings, the one type this file's only Output captures: GCC speculates that
// every Emit here is testing::CapturingOutput<std::string>'s and warns when the record is of
// another type.)
TEST(WindowJoinApiTest, LambdasOfEveryFormBuildAJob) {
  auto count = [](auto windowed) {
    windowed.Apply([](const Order& o, const Stock& s) { return std::to_string(o.id + s.id); });
  };
  EXPECT_EQ(Build(false, 10, 10, count).first.size(), 5u);
  auto flat = [](auto windowed) {
    windowed.template Apply<std::string>(
        [](const Order&, const Stock&, Collector<std::string>& out) { out.Collect("x"); });
  };
  EXPECT_EQ(Build(false, 10, 10, flat).first.size(), 5u);
  auto groups = [](auto windowed) {
    windowed.template Apply<std::string>(
        [](const std::vector<Order>& o, const std::vector<Stock>& s, Collector<std::string>& out) {
          out.Collect(std::to_string(o.size() + s.size()));
        });
  };
  EXPECT_EQ(Build(true, 10, 10, groups).first.size(), 5u);
  // A pair function on a co-group (and the other way round) is refused with what to write.
  EXPECT_THROW(Build(true, 10, 10, count), JobDefinitionError);
  EXPECT_THROW(Build(false, 10, 10, groups), JobDefinitionError);
}

}  // namespace
}  // namespace sluice
