#include "jobmanager/restart_strategy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace sluice::jobmanager {
namespace {

constexpr char kType[] = "restart-strategy.type";
constexpr char kFixedAttempts[] = "restart-strategy.fixed-delay.attempts";
constexpr char kFixedDelay[] = "restart-strategy.fixed-delay.delay";
constexpr char kInitialBackoff[] = "restart-strategy.exponential-delay.initial-backoff";
constexpr char kMaxBackoff[] = "restart-strategy.exponential-delay.max-backoff";
constexpr char kMultiplier[] = "restart-strategy.exponential-delay.backoff-multiplier";
constexpr char kResetThreshold[] = "restart-strategy.exponential-delay.reset-backoff-threshold";
constexpr char kJitter[] = "restart-strategy.exponential-delay.jitter-factor";
constexpr char kAttemptsBeforeReset[] =
    "restart-strategy.exponential-delay.attempts-before-reset-backoff";
constexpr char kMaxFailures[] = "restart-strategy.failure-rate.max-failures-per-interval";
constexpr char kFailureInterval[] = "restart-strategy.failure-rate.failure-rate-interval";
constexpr char kFailureDelay[] = "restart-strategy.failure-rate.delay";
constexpr char kCheckpointInterval[] = "execution.checkpointing.interval";

// Keeps the exponential backoff far from int64 overflow; any wait beyond it is capped anyway.
constexpr double kBackoffCeilingMs = static_cast<double>(int64_t{1} << 61);

std::string Ms(int64_t ms) { return absl::FormatDuration(absl::Milliseconds(ms)); }

absl::Status Invalid(const char* key, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", what));
}

absl::StatusOr<RestartStrategyType> ParseType(const std::string& name, bool checkpointing) {
  if (name.empty()) {
    return checkpointing ? RestartStrategyType::kExponentialDelay : RestartStrategyType::kNone;
  }
  for (RestartStrategyType t :
       {RestartStrategyType::kNone, RestartStrategyType::kFixedDelay,
        RestartStrategyType::kExponentialDelay, RestartStrategyType::kFailureRate}) {
    if (name == RestartStrategyTypeName(t)) return t;
  }
  return Invalid(kType, absl::StrCat("unknown restart strategy '", name, "'"));
}

class NoRestart final : public RestartStrategy {
 public:
  bool NotifyFailure() override { return true; }
  bool CanRestart() const override { return false; }
  int64_t BackoffMs() const override { return 0; }
  std::string Describe() const override { return "none"; }
};

// Restarts `attempts` times, each after the same delay.
class FixedDelay final : public RestartStrategy {
 public:
  FixedDelay(int attempts, int64_t delay_ms) : attempts_(attempts), delay_ms_(delay_ms) {}

  bool NotifyFailure() override {
    ++failures_;
    return true;
  }
  bool CanRestart() const override { return failures_ <= attempts_; }
  int64_t BackoffMs() const override { return delay_ms_; }
  std::string Describe() const override {
    return absl::StrCat("fixed-delay (", attempts_, " attempts, delay ", Ms(delay_ms_), ")");
  }

 private:
  const int64_t attempts_;
  const int64_t delay_ms_;
  int64_t failures_ = 0;
};

// The wait grows by `multiplier` per restart up to `max`, with random jitter. Failures before the
// scheduled restart time join that restart; a failure `reset threshold` after it starts over at
// the initial wait. More than `attempts before reset` restarts without a reset fail the job.
class ExponentialDelay final : public RestartStrategy {
 public:
  ExponentialDelay(const RestartStrategyConfig& c, RestartClock clock, UniformRandom random)
      : c_(c), clock_(std::move(clock)), random_(std::move(random)) {}

  bool NotifyFailure() override {
    const int64_t now = clock_();
    if (next_restart_at_ && now <= *next_restart_at_) return false;
    if (!next_restart_at_ || now - *next_restart_at_ >= c_.reset_backoff_threshold_ms) {
      attempt_ = 0;
    }
    next_restart_at_ = now + ActualBackoffMs();
    ++attempt_;
    return true;
  }
  bool CanRestart() const override { return attempt_ <= c_.attempts_before_reset_backoff; }
  int64_t BackoffMs() const override {
    if (!next_restart_at_) return 0;
    return std::max<int64_t>(0, *next_restart_at_ - clock_());
  }
  std::string Describe() const override {
    std::string attempts = c_.attempts_before_reset_backoff == INT32_MAX
                               ? "unlimited"
                               : absl::StrCat(c_.attempts_before_reset_backoff);
    return absl::StrFormat(
        "exponential-delay (initial %s, max %s, multiplier %g, reset after %s, jitter %g, "
        "attempts before reset %s)",
        Ms(c_.initial_backoff_ms), Ms(c_.max_backoff_ms), c_.backoff_multiplier,
        Ms(c_.reset_backoff_threshold_ms), c_.jitter_factor, attempts);
  }

 private:
  // initial * multiplier^attempt, plus jitter, within [initial, max].
  int64_t ActualBackoffMs() const {
    const double grown = static_cast<double>(c_.initial_backoff_ms) *
                         std::pow(c_.backoff_multiplier, static_cast<double>(attempt_));
    const auto current = static_cast<int64_t>(std::min(grown, kBackoffCeilingMs));
    const int64_t with_jitter = current + JitterMs(current);
    return std::max(c_.initial_backoff_ms, std::min(with_jitter, c_.max_backoff_ms));
  }

  // A random offset in [-current * jitter, current * jitter].
  int64_t JitterMs(int64_t current) const {
    if (c_.jitter_factor == 0) return 0;
    const auto offset = static_cast<int64_t>(static_cast<double>(current) * c_.jitter_factor);
    return random_(-offset, offset);
  }

  const RestartStrategyConfig c_;
  const RestartClock clock_;
  const UniformRandom random_;
  int attempt_ = 0;
  std::optional<int64_t> next_restart_at_;
};

// Restarts while at most `max` failures fall within any `interval`.
class FailureRate final : public RestartStrategy {
 public:
  FailureRate(int max_failures, int64_t interval_ms, int64_t delay_ms, RestartClock clock)
      : max_failures_(static_cast<size_t>(max_failures)),
        interval_ms_(interval_ms),
        delay_ms_(delay_ms),
        clock_(std::move(clock)) {}

  // Keeps the times of the last max + 1 failures.
  bool NotifyFailure() override {
    if (failure_times_.size() > max_failures_) failure_times_.pop_front();
    failure_times_.push_back(clock_());
    return true;
  }
  bool CanRestart() const override {
    if (failure_times_.size() <= max_failures_) return true;
    return clock_() - failure_times_.front() > interval_ms_;
  }
  int64_t BackoffMs() const override { return delay_ms_; }
  std::string Describe() const override {
    return absl::StrCat("failure-rate (at most ", max_failures_, " failures per ", Ms(interval_ms_),
                        ", delay ", Ms(delay_ms_), ")");
  }

 private:
  const size_t max_failures_;
  const int64_t interval_ms_;
  const int64_t delay_ms_;
  const RestartClock clock_;
  std::deque<int64_t> failure_times_;
};

UniformRandom DefaultRandom() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(*engine);
  };
}

}  // namespace

const char* RestartStrategyTypeName(RestartStrategyType type) {
  switch (type) {
    case RestartStrategyType::kNone:
      return "none";
    case RestartStrategyType::kFixedDelay:
      return "fixed-delay";
    case RestartStrategyType::kExponentialDelay:
      return "exponential-delay";
    case RestartStrategyType::kFailureRate:
      return "failure-rate";
  }
  return "unknown";
}

absl::StatusOr<RestartStrategyConfig> RestartStrategyConfig::FromConfiguration(
    const config::Configuration& c) {
  RestartStrategyConfig r;
  absl::StatusOr<RestartStrategyType> type =
      ParseType(c.GetString(kType), c.GetDurationMs(kCheckpointInterval) > 0);
  if (!type.ok()) return type.status();
  r.type = *type;
  r.fixed_delay_attempts = static_cast<int>(c.GetInt(kFixedAttempts));
  r.fixed_delay_ms = c.GetDurationMs(kFixedDelay);
  r.initial_backoff_ms = c.GetDurationMs(kInitialBackoff);
  r.max_backoff_ms = c.GetDurationMs(kMaxBackoff);
  r.backoff_multiplier = c.GetDouble(kMultiplier);
  r.reset_backoff_threshold_ms = c.GetDurationMs(kResetThreshold);
  r.jitter_factor = c.GetDouble(kJitter);
  r.attempts_before_reset_backoff = static_cast<int>(c.GetInt(kAttemptsBeforeReset));
  r.max_failures_per_interval = static_cast<int>(c.GetInt(kMaxFailures));
  r.failure_rate_interval_ms = c.GetDurationMs(kFailureInterval);
  r.failure_rate_delay_ms = c.GetDurationMs(kFailureDelay);
  if (absl::Status s = r.Validate(); !s.ok()) return s;
  return r;
}

absl::Status RestartStrategyConfig::Validate() const {
  switch (type) {
    case RestartStrategyType::kNone:
      return absl::OkStatus();
    case RestartStrategyType::kFixedDelay:
      if (fixed_delay_attempts < 0) return Invalid(kFixedAttempts, "must be at least 0");
      if (fixed_delay_ms < 0) return Invalid(kFixedDelay, "must be at least 0 ms");
      return absl::OkStatus();
    case RestartStrategyType::kExponentialDelay:
      if (initial_backoff_ms < 1) return Invalid(kInitialBackoff, "must be at least 1 ms");
      if (max_backoff_ms < initial_backoff_ms) {
        return Invalid(kMaxBackoff,
                       absl::StrCat("must not be less than ", kInitialBackoff, " (",
                                    Ms(max_backoff_ms), " < ", Ms(initial_backoff_ms), ")"));
      }
      if (!(backoff_multiplier >= 1)) {
        return Invalid(kMultiplier, absl::StrCat("must be at least 1, not ", backoff_multiplier));
      }
      if (reset_backoff_threshold_ms < 1) return Invalid(kResetThreshold, "must be at least 1 ms");
      if (!(jitter_factor >= 0 && jitter_factor <= 1)) {
        return Invalid(kJitter, absl::StrCat("must be within [0, 1], not ", jitter_factor));
      }
      if (attempts_before_reset_backoff < 1) {
        return Invalid(kAttemptsBeforeReset, "must be at least 1");
      }
      return absl::OkStatus();
    case RestartStrategyType::kFailureRate:
      if (max_failures_per_interval < 1) return Invalid(kMaxFailures, "must be at least 1");
      if (failure_rate_interval_ms < 1) return Invalid(kFailureInterval, "must be at least 1 ms");
      if (failure_rate_delay_ms < 0) return Invalid(kFailureDelay, "must be at least 0 ms");
      return absl::OkStatus();
  }
  return Invalid(kType, "unknown restart strategy");
}

RestartStrategy::Decision RestartStrategy::OnFailure() {
  Decision d;
  d.merged = !NotifyFailure();
  d.restart = CanRestart();
  if (d.restart) d.delay_ms = BackoffMs();
  return d;
}

std::unique_ptr<RestartStrategy> CreateRestartStrategy(const RestartStrategyConfig& config,
                                                       RestartClock clock, UniformRandom random) {
  if (!clock) clock = WallClockMs;
  if (!random) random = DefaultRandom();
  switch (config.type) {
    case RestartStrategyType::kNone:
      return std::make_unique<NoRestart>();
    case RestartStrategyType::kFixedDelay:
      return std::make_unique<FixedDelay>(config.fixed_delay_attempts, config.fixed_delay_ms);
    case RestartStrategyType::kExponentialDelay:
      return std::make_unique<ExponentialDelay>(config, std::move(clock), std::move(random));
    case RestartStrategyType::kFailureRate:
      return std::make_unique<FailureRate>(config.max_failures_per_interval,
                                           config.failure_rate_interval_ms,
                                           config.failure_rate_delay_ms, std::move(clock));
  }
  return std::make_unique<NoRestart>();
}

absl::StatusOr<std::unique_ptr<RestartStrategy>> CreateRestartStrategy(
    const config::Configuration& config, RestartClock clock, UniformRandom random) {
  absl::StatusOr<RestartStrategyConfig> c = RestartStrategyConfig::FromConfiguration(config);
  if (!c.ok()) return c.status();
  return CreateRestartStrategy(*c, std::move(clock), std::move(random));
}

}  // namespace sluice::jobmanager
