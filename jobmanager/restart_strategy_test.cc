#include "jobmanager/restart_strategy.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace sluice::jobmanager {
namespace {

::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// A clock the test moves by hand.
struct FakeClock {
  int64_t now = 1'000'000;
  RestartClock Fn() {
    return [this] { return now; };
  }
};

// "Random" numbers from a fixed choice: the low end, the high end, or the middle of the range.
enum class Pick { kLow, kHigh, kMid };
UniformRandom Fixed(Pick pick) {
  return [pick](int64_t lo, int64_t hi) {
    switch (pick) {
      case Pick::kLow:
        return lo;
      case Pick::kHigh:
        return hi;
      case Pick::kMid:
        break;
    }
    return lo + (hi - lo) / 2;
  };
}

config::Configuration Config(const std::vector<std::pair<std::string, std::string>>& values) {
  config::Configuration c;
  for (const auto& [k, v] : values) EXPECT_TRUE(c.Set(k, v).ok()) << k << "=" << v;
  return c;
}

RestartStrategyConfig Exponential() {
  RestartStrategyConfig c;
  c.type = RestartStrategyType::kExponentialDelay;
  c.initial_backoff_ms = 1000;
  c.max_backoff_ms = 10'000;
  c.backoff_multiplier = 2;
  c.reset_backoff_threshold_ms = 60'000;
  c.jitter_factor = 0;
  return c;
}

TEST(RestartStrategyTest, NoneNeverRestarts) {
  auto s = CreateRestartStrategy(RestartStrategyConfig{});
  RestartStrategy::Decision d = s->OnFailure();
  EXPECT_FALSE(d.restart);
  EXPECT_EQ(s->Describe(), "none");
}

TEST(RestartStrategyTest, FixedDelayRestartsAttemptsTimesWithTheSameDelay) {
  RestartStrategyConfig c;
  c.type = RestartStrategyType::kFixedDelay;
  c.fixed_delay_attempts = 2;
  c.fixed_delay_ms = 5000;
  auto s = CreateRestartStrategy(c);
  for (int i = 0; i < 2; ++i) {
    RestartStrategy::Decision d = s->OnFailure();
    EXPECT_TRUE(d.restart) << "failure " << i + 1;
    EXPECT_EQ(d.delay_ms, 5000);
    EXPECT_FALSE(d.merged);
  }
  EXPECT_FALSE(s->OnFailure().restart) << "the third failure exceeds 2 attempts";
  EXPECT_EQ(s->Describe(), "fixed-delay (2 attempts, delay 5s)");
}

TEST(RestartStrategyTest, FixedDelayWithZeroAttemptsFailsAtOnce) {
  RestartStrategyConfig c;
  c.type = RestartStrategyType::kFixedDelay;
  c.fixed_delay_attempts = 0;
  EXPECT_FALSE(CreateRestartStrategy(c)->OnFailure().restart);
}

TEST(RestartStrategyTest, ExponentialDelayGrowsUpToTheMaximum) {
  FakeClock clock;
  auto s = CreateRestartStrategy(Exponential(), clock.Fn(), Fixed(Pick::kHigh));
  const int64_t expected[] = {1000, 2000, 4000, 8000, 10'000, 10'000};
  for (int64_t want : expected) {
    RestartStrategy::Decision d = s->OnFailure();
    ASSERT_TRUE(d.restart);
    EXPECT_FALSE(d.merged);
    EXPECT_EQ(d.delay_ms, want);
    clock.now += d.delay_ms + 1;  // the restart happens, then the next failure
  }
}

TEST(RestartStrategyTest, ExponentialDelayMergesFailuresBeforeTheScheduledRestart) {
  FakeClock clock;
  auto s = CreateRestartStrategy(Exponential(), clock.Fn(), Fixed(Pick::kHigh));
  EXPECT_EQ(s->OnFailure().delay_ms, 1000);
  clock.now += 400;
  RestartStrategy::Decision d = s->OnFailure();
  EXPECT_TRUE(d.merged);
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(d.delay_ms, 600) << "the remaining wait of the restart already scheduled";
  clock.now += 600;  // exactly the restart time: still merged
  EXPECT_TRUE(s->OnFailure().merged);
  clock.now += 1;
  d = s->OnFailure();
  EXPECT_FALSE(d.merged);
  EXPECT_EQ(d.delay_ms, 2000) << "merged failures do not grow the wait";
}

TEST(RestartStrategyTest, ExponentialDelayResetsAfterTheThreshold) {
  FakeClock clock;
  auto s = CreateRestartStrategy(Exponential(), clock.Fn(), Fixed(Pick::kHigh));
  EXPECT_EQ(s->OnFailure().delay_ms, 1000);
  clock.now += 1001;
  EXPECT_EQ(s->OnFailure().delay_ms, 2000);
  // 60 s after the last restart time (not the last failure) the wait starts over.
  clock.now += 2000 + 59'999;
  EXPECT_EQ(s->OnFailure().delay_ms, 4000) << "one millisecond short of the threshold";
  clock.now += 4000 + 60'000;
  EXPECT_EQ(s->OnFailure().delay_ms, 1000);
}

TEST(RestartStrategyTest, ExponentialDelayFailsAfterAttemptsBeforeReset) {
  FakeClock clock;
  RestartStrategyConfig c = Exponential();
  c.attempts_before_reset_backoff = 2;
  auto s = CreateRestartStrategy(c, clock.Fn(), Fixed(Pick::kHigh));
  for (int i = 0; i < 2; ++i) {
    RestartStrategy::Decision d = s->OnFailure();
    EXPECT_TRUE(d.restart);
    clock.now += d.delay_ms + 1;
  }
  EXPECT_FALSE(s->OnFailure().restart);
}

TEST(RestartStrategyTest, ExponentialDelayJitterStaysWithinFactorAndBounds) {
  RestartStrategyConfig c = Exponential();
  c.jitter_factor = 0.25;
  c.initial_backoff_ms = 1000;
  c.max_backoff_ms = 4000;
  struct Case {
    Pick pick;
    std::vector<int64_t> delays;
  };
  // Waits 1000, 2000, 4000, 8000 with +-25%: the low end never goes below the initial wait, the
  // high end never above the maximum.
  const Case cases[] = {{Pick::kLow, {1000, 1500, 3000, 4000}},
                        {Pick::kHigh, {1250, 2500, 4000, 4000}},
                        {Pick::kMid, {1000, 2000, 4000, 4000}}};
  for (const Case& k : cases) {
    FakeClock clock;
    std::vector<std::pair<int64_t, int64_t>> ranges;
    UniformRandom record = [&ranges, inner = Fixed(k.pick)](int64_t lo, int64_t hi) {
      ranges.emplace_back(lo, hi);
      return inner(lo, hi);
    };
    auto s = CreateRestartStrategy(c, clock.Fn(), record);
    for (int64_t want : k.delays) {
      RestartStrategy::Decision d = s->OnFailure();
      EXPECT_EQ(d.delay_ms, want) << "pick " << static_cast<int>(k.pick);
      clock.now += d.delay_ms + 1;
    }
    ASSERT_EQ(ranges.size(), 4u);
    EXPECT_EQ(ranges[0], std::make_pair(int64_t{-250}, int64_t{250}));
    EXPECT_EQ(ranges[3], std::make_pair(int64_t{-2000}, int64_t{2000}));
  }
}

TEST(RestartStrategyTest, ExponentialDelayDoesNotOverflowAfterManyRestarts) {
  FakeClock clock;
  RestartStrategyConfig c = Exponential();
  c.backoff_multiplier = 10;
  c.jitter_factor = 1;
  c.max_backoff_ms = 3'600'000;
  auto s = CreateRestartStrategy(c, clock.Fn(), Fixed(Pick::kHigh));
  for (int i = 0; i < 200; ++i) {
    RestartStrategy::Decision d = s->OnFailure();
    ASSERT_GE(d.delay_ms, 1000);
    ASSERT_LE(d.delay_ms, 3'600'000);
    clock.now += d.delay_ms + 1;
  }
}

TEST(RestartStrategyTest, FailureRateAllowsMaxFailuresPerInterval) {
  FakeClock clock;
  RestartStrategyConfig c;
  c.type = RestartStrategyType::kFailureRate;
  c.max_failures_per_interval = 2;
  c.failure_rate_interval_ms = 10'000;
  c.failure_rate_delay_ms = 300;
  auto s = CreateRestartStrategy(c, clock.Fn());
  RestartStrategy::Decision d = s->OnFailure();
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(d.delay_ms, 300);
  clock.now += 1000;
  EXPECT_TRUE(s->OnFailure().restart);
  clock.now += 1000;
  EXPECT_FALSE(s->OnFailure().restart) << "three failures within 10 s";
}

TEST(RestartStrategyTest, FailureRateForgetsFailuresOutsideTheInterval) {
  FakeClock clock;
  RestartStrategyConfig c;
  c.type = RestartStrategyType::kFailureRate;
  c.max_failures_per_interval = 2;
  c.failure_rate_interval_ms = 10'000;
  auto s = CreateRestartStrategy(c, clock.Fn());
  EXPECT_TRUE(s->OnFailure().restart);  // t = 0
  clock.now += 5000;
  EXPECT_TRUE(s->OnFailure().restart);  // t = 5 s
  clock.now += 5000;
  EXPECT_FALSE(s->OnFailure().restart) << "t = 10 s: the first failure is exactly 10 s old";
  clock.now += 5001;
  EXPECT_TRUE(s->OnFailure().restart) << "t = 15 s: only 10 s and 15 s are within 10 s";
  EXPECT_EQ(s->Describe(), "failure-rate (at most 2 failures per 10s, delay 1s)");
}

TEST(RestartStrategyConfigTest, EmptyTypeFollowsCheckpointing) {
  absl::StatusOr<RestartStrategyConfig> off = RestartStrategyConfig::FromConfiguration(Config({}));
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->type, RestartStrategyType::kNone);

  absl::StatusOr<RestartStrategyConfig> on = RestartStrategyConfig::FromConfiguration(
      Config({{"execution.checkpointing.interval", "10 s"}}));
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_EQ(on->type, RestartStrategyType::kExponentialDelay);

  absl::StatusOr<RestartStrategyConfig> explicit_none = RestartStrategyConfig::FromConfiguration(
      Config({{"execution.checkpointing.interval", "10 s"}, {"restart-strategy.type", "none"}}));
  ASSERT_TRUE(explicit_none.ok());
  EXPECT_EQ(explicit_none->type, RestartStrategyType::kNone);
}

TEST(RestartStrategyConfigTest, ReadsTheKeysOfEachType) {
  absl::StatusOr<std::unique_ptr<RestartStrategy>> fixed =
      CreateRestartStrategy(Config({{"restart-strategy.type", "fixed-delay"},
                                    {"restart-strategy.fixed-delay.attempts", "3"},
                                    {"restart-strategy.fixed-delay.delay", "10 s"}}));
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ((*fixed)->Describe(), "fixed-delay (3 attempts, delay 10s)");

  absl::StatusOr<std::unique_ptr<RestartStrategy>> exponential = CreateRestartStrategy(
      Config({{"restart-strategy.type", "exponential-delay"},
              {"restart-strategy.exponential-delay.initial-backoff", "2 s"},
              {"restart-strategy.exponential-delay.attempts-before-reset-backoff", "5"}}));
  ASSERT_TRUE(exponential.ok()) << exponential.status();
  EXPECT_EQ((*exponential)->Describe(),
            "exponential-delay (initial 2s, max 1m, multiplier 1.5, reset after 1h, jitter 0.1, "
            "attempts before reset 5)");

  absl::StatusOr<std::unique_ptr<RestartStrategy>> rate = CreateRestartStrategy(
      Config({{"restart-strategy.type", "failure-rate"},
              {"restart-strategy.failure-rate.max-failures-per-interval", "3"},
              {"restart-strategy.failure-rate.failure-rate-interval", "5 min"},
              {"restart-strategy.failure-rate.delay", "500"}}));
  ASSERT_TRUE(rate.ok()) << rate.status();
  EXPECT_EQ((*rate)->Describe(), "failure-rate (at most 3 failures per 5m, delay 500ms)");
}

TEST(RestartStrategyConfigTest, DefaultExponentialDelayIsUnlimited) {
  absl::StatusOr<std::unique_ptr<RestartStrategy>> s =
      CreateRestartStrategy(Config({{"restart-strategy.type", "exponential-delay"}}));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(Contains((*s)->Describe(), "initial 1s, max 1m"));
  EXPECT_TRUE(Contains((*s)->Describe(), "attempts before reset unlimited"));
}

TEST(RestartStrategyConfigTest, ValidationNamesTheKey) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> values;
    std::string key;
  };
  const std::string p = "restart-strategy.exponential-delay.";
  const Case cases[] = {
      {{{p + "backoff-multiplier", "0.5"}}, p + "backoff-multiplier"},
      {{{p + "jitter-factor", "1.5"}}, p + "jitter-factor"},
      {{{p + "jitter-factor", "-0.1"}}, p + "jitter-factor"},
      {{{p + "initial-backoff", "0"}}, p + "initial-backoff"},
      {{{p + "initial-backoff", "2 min"}, {p + "max-backoff", "1 min"}}, p + "max-backoff"},
      {{{p + "attempts-before-reset-backoff", "0"}}, p + "attempts-before-reset-backoff"},
  };
  for (const Case& c : cases) {
    auto values = c.values;
    values.emplace_back("restart-strategy.type", "exponential-delay");
    absl::StatusOr<RestartStrategyConfig> r =
        RestartStrategyConfig::FromConfiguration(Config(values));
    ASSERT_FALSE(r.ok()) << c.key;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(std::string(r.status().message()), c.key));
  }
}

TEST(RestartStrategyConfigTest, KeysOfOtherTypesAreNotValidated) {
  absl::StatusOr<RestartStrategyConfig> r = RestartStrategyConfig::FromConfiguration(
      Config({{"restart-strategy.type", "fixed-delay"},
              {"restart-strategy.exponential-delay.backoff-multiplier", "0.5"}}));
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST(RestartStrategyConfigTest, MultiplierOfOneKeepsTheWaitConstant) {
  FakeClock clock;
  RestartStrategyConfig c = Exponential();
  c.backoff_multiplier = 1;
  ASSERT_TRUE(c.Validate().ok());
  auto s = CreateRestartStrategy(c, clock.Fn(), Fixed(Pick::kHigh));
  for (int i = 0; i < 3; ++i) {
    RestartStrategy::Decision d = s->OnFailure();
    EXPECT_EQ(d.delay_ms, 1000);
    clock.now += d.delay_ms + 1;
  }
}

}  // namespace
}  // namespace sluice::jobmanager
