// The interval join driven as the host drives it (sluice/testing/fake_keyed_host.h): random,
// out-of-order records of both sides with watermarks behind them, against the pairs the test
// computes itself from the bounds — inclusive and exclusive, negative and positive — with a
// snapshot and restore midway, state on the heap and in a backend; late records dropped and
// counted; the buffers empty once the watermark passed everything; the bad bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sluice/sluice.h"
#include "sluice/testing/fake_keyed_host.h"
#include "sluice/testing/fake_runtime_context.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using testing::KeyedSnapshot;

struct Click {
  int64_t user = 0;
  int64_t id = 0;
  SLUICE_FIELDS(user, id)
};

struct View {
  std::string page;
  int64_t user = 0;
  int64_t id = 0;
  SLUICE_FIELDS(page, user, id)
};

//! "click id,view id,left ts,right ts".
class Pair final : public ProcessJoinFunction<Click, View, std::string> {
 public:
  void ProcessElement(const Click& c, const View& v, Context& ctx,
                      Collector<std::string>& out) override {
    if (ctx.Timestamp() != std::max(ctx.LeftTimestamp(), ctx.RightTimestamp())) {
      throw std::logic_error("the pair's timestamp is not the larger of its two");
    }
    out.Collect(std::to_string(c.id) + "," + std::to_string(v.id) + "," +
                std::to_string(ctx.LeftTimestamp()) + "," + std::to_string(ctx.RightTimestamp()));
  }
};

struct Bounds {
  int64_t lower, upper;
  bool lower_exclusive, upper_exclusive;
};

std::function<std::unique_ptr<StreamOperator>()> JoinFactory(const Bounds& b) {
  StreamEnvironment env({}, 1);
  auto clicks =
      env.AddSource<Click>([] { return std::make_unique<testing::NoSource<Click>>(); }, "Clicks");
  auto views =
      env.AddSource<View>([] { return std::make_unique<testing::NoSource<View>>(); }, "Views");
  auto joined = clicks.KeyBy([](const Click& c) { return c.user; })
                    .IntervalJoin(views.KeyBy([](const View& v) { return v.user; }))
                    .Between(milliseconds(b.lower), milliseconds(b.upper));
  if (b.lower_exclusive) joined.LowerBoundExclusive();
  if (b.upper_exclusive) joined.UpperBoundExclusive();
  joined.Process([] { return std::make_unique<Pair>(); });
  env.Finalize();
  return env.nodes()[2].factory;
}

using Harness = testing::OperatorHarness<std::string>;

struct Event {
  bool left;
  int64_t user, id, ts;
};

class IntervalJoinTest : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(IntervalJoinTest, JoinsExactlyThePairsWithinTheBoundsAndCleansUp) {
  const auto [bounds_case, in_backend] = GetParam();
  const Bounds cases[] = {{-5, 10, false, false},
                          {-5, 10, true, true},
                          {0, 0, false, false},
                          {3, 20, false, true},
                          {-20, -3, true, false}};
  const Bounds b = cases[bounds_case];
  std::mt19937 rng(1234 + static_cast<unsigned>(bounds_case));
  // Per side, records at times that advance with jitter: each arrives at most 30 ms behind the
  // newest of its side, and the watermark trails the newest of both by 31 ms, so only the records
  // the test makes late on purpose are late.
  std::vector<Event> events;
  int64_t clock = 1000;
  for (int i = 0; i < 600; ++i) {
    clock += std::uniform_int_distribution<int64_t>(0, 3)(rng);
    int64_t ts = clock - std::uniform_int_distribution<int64_t>(0, 30)(rng);
    bool left = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    events.push_back({left, std::uniform_int_distribution<int64_t>(0, 4)(rng), i, ts});
  }
  const std::vector<int> late_ids = {200, 400};
  auto factory = JoinFactory(b);
  auto harness = std::make_unique<Harness>(factory, nullptr, in_backend);
  KeyedSnapshot snap;
  std::vector<Event> accepted;
  int64_t max_ts = INT64_MIN;
  int64_t wm = kNoTimestamp;
  int64_t dropped = 0;
  std::vector<std::string> got;
  std::vector<int64_t> got_ts;
  for (Event e : events) {
    if (std::find(late_ids.begin(), late_ids.end(), e.id) != late_ids.end()) {
      e.ts = wm - 1;  // behind the watermark: late
      ++dropped;
    } else {
      accepted.push_back(e);
    }
    if (e.left) {
      harness->Add(Click{e.user, e.id}, e.ts, /*input=*/0);
    } else {
      harness->Add(View{"p" + std::to_string(e.id), e.user, e.id}, e.ts, /*input=*/1);
    }
    max_ts = std::max(max_ts, e.ts);
    if (e.id % 25 == 24) {
      wm = max_ts - 31;
      harness->Watermark(wm);
    }
    if (e.id == 300) {  // a snapshot, and the rest on a restored instance
      snap = harness->Take();
      got.insert(got.end(), harness->out.records.begin(), harness->out.records.end());
      got_ts.insert(got_ts.end(), harness->out.timestamps.begin(), harness->out.timestamps.end());
      harness = std::make_unique<Harness>(factory, &snap, in_backend);
    }
  }
  harness->Watermark(kMaxWatermark);
  got.insert(got.end(), harness->out.records.begin(), harness->out.records.end());
  got_ts.insert(got_ts.end(), harness->out.timestamps.begin(), harness->out.timestamps.end());

  const int64_t lower = b.lower_exclusive ? b.lower + 1 : b.lower;
  const int64_t upper = b.upper_exclusive ? b.upper - 1 : b.upper;
  std::vector<std::string> want;
  for (const Event& l : accepted) {
    if (!l.left) continue;
    for (const Event& r : accepted) {
      if (r.left || r.user != l.user) continue;
      if (r.ts < l.ts + lower || r.ts > l.ts + upper) continue;
      want.push_back(std::to_string(l.id) + "," + std::to_string(r.id) + "," +
                     std::to_string(l.ts) + "," + std::to_string(r.ts));
    }
  }
  ASSERT_GT(want.size(), 20u) << "the case should join something";
  for (size_t i = 0; i < got.size(); ++i) {
    int64_t lts = 0, rts = 0;
    ASSERT_EQ(std::sscanf(got[i].c_str(), "%*d,%*d,%ld,%ld", &lts, &rts), 2) << got[i];
    EXPECT_EQ(got_ts[i], std::max(lts, rts)) << got[i];
  }
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(harness->rt.late_records_dropped, 1) << "one late record after the restore";
  EXPECT_EQ(dropped, 2);
  EXPECT_TRUE(harness->host.StateIsEmpty(*harness->op)) << "the buffers are cleaned up";
  EXPECT_TRUE(harness->host.timers.timers.empty());
}

INSTANTIATE_TEST_SUITE_P(BoundsAndBackends, IntervalJoinTest,
                         ::testing::Combine(::testing::Range(0, 5), ::testing::Bool()),
                         [](const auto& info) {
                           return "bounds" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_backend" : "_heap");
                         });

TEST(IntervalJoinApiTest, BoundsTheWrongWayRoundAreRefusedWithFlinksWords) {
  try {
    JoinFactory({10, -5, false, false});
    FAIL() << "Between(10, -5) was accepted";
  } catch (const JobDefinitionError& e) {
    EXPECT_NE(std::string(e.what()).find("lowerBound <= upperBound must be fulfilled"),
              std::string::npos)
        << e.what();
  }
}

TEST(IntervalJoinApiTest, RecordsWithoutTimestampsFailWithWhatToDo) {
  Harness h(JoinFactory({-5, 5, false, false}), nullptr, false);
  try {
    h.Add(Click{1, 1}, kNoTimestamp);
    FAIL() << "a record without a timestamp was joined";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("needs records with timestamps"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sluice
