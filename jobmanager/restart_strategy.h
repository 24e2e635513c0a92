// Restart strategies (Flink's RestartBackoffTimeStrategy): after a job failure they decide whether
// the job restarts and how long to wait first. none, fixed-delay, exponential-delay and
// failure-rate, with Flink's semantics and its `restart-strategy.*` keys.
//
// A strategy is owned by the JobMaster of one job and used on its executor only (not
// thread-safe). The clock and the randomness of the jitter are injected, so tests are
// deterministic.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/config/config.h"

namespace sluice::jobmanager {

//! Milliseconds from a fixed origin (wall clock by default).
using RestartClock = std::function<int64_t()>;
//! A uniformly distributed integer in [lo, hi] (both inclusive), lo <= hi.
using UniformRandom = std::function<int64_t(int64_t lo, int64_t hi)>;

enum class RestartStrategyType { kNone, kFixedDelay, kExponentialDelay, kFailureRate };

//! The name used by `restart-strategy.type`: "none", "fixed-delay", ...
const char* RestartStrategyTypeName(RestartStrategyType type);

//! Typed `restart-strategy.*` settings. Only the fields of `type` are used and validated.
struct RestartStrategyConfig {
  RestartStrategyType type = RestartStrategyType::kNone;

  //! fixed-delay: restarts before the job fails (default 1).
  int fixed_delay_attempts = 1;
  //! fixed-delay: wait before each restart (default 1 s).
  int64_t fixed_delay_ms = 1000;

  //! exponential-delay: wait before the first restart, >= 1 (default 1 s).
  int64_t initial_backoff_ms = 1000;
  //! exponential-delay: longest wait, >= initial_backoff_ms (default 1 min).
  int64_t max_backoff_ms = 60'000;
  //! exponential-delay: growth of the wait per restart, >= 1 (default 1.5).
  double backoff_multiplier = 1.5;
  //! exponential-delay: a failure this long after the last restart time resets the wait
  //! (default 1 h).
  int64_t reset_backoff_threshold_ms = 3'600'000;
  //! exponential-delay: the wait varies randomly by up to this share, in [0, 1] (default 0.1).
  double jitter_factor = 0.1;
  //! exponential-delay: restarts allowed before the wait resets; one more fails the job, >= 1
  //! (default INT32_MAX: unlimited).
  int attempts_before_reset_backoff = INT32_MAX;

  //! failure-rate: failures within the interval that still restart the job, >= 1 (default 1).
  int max_failures_per_interval = 1;
  //! failure-rate: the sliding interval failures are counted in, >= 1 (default 1 min).
  int64_t failure_rate_interval_ms = 60'000;
  //! failure-rate: wait before each restart (default 1 s).
  int64_t failure_rate_delay_ms = 1000;

  //! Reads the `restart-strategy.*` keys; an empty type means exponential-delay when
  //! checkpointing is on (`execution.checkpointing.interval` > 0), else none. Validated.
  static absl::StatusOr<RestartStrategyConfig> FromConfiguration(const config::Configuration& c);

  //! InvalidArgument naming the offending key when the fields of `type` do not fit together.
  absl::Status Validate() const;
};

//! Decides about restarts after failures. Call NotifyFailure() on each failure, then
//! CanRestart(); when true, restart after BackoffMs().
class RestartStrategy {
 public:
  virtual ~RestartStrategy() = default;

  //! Records a failure now. Returns false when the failure was merged into a restart that is
  //! already scheduled (exponential-delay merges the failures before its next restart time): the
  //! caller then schedules no new restart.
  virtual bool NotifyFailure() = 0;
  //! Whether the job may restart after the failures recorded so far.
  virtual bool CanRestart() const = 0;
  //! How long to wait, from now, before the restart.
  virtual int64_t BackoffMs() const = 0;
  //! For logs, e.g. "fixed-delay (3 attempts, delay 10s)".
  virtual std::string Describe() const = 0;

  //! The outcome of one failure.
  struct Decision {
    bool restart = false;  //!< false: the job fails for good
    int64_t delay_ms = 0;  //!< wait before the restart
    bool merged = false;   //!< the failure joined an already scheduled restart
  };
  //! NotifyFailure(), CanRestart() and BackoffMs() in one call: what a job master does.
  Decision OnFailure();
};

//! Builds the strategy of a validated config. Empty `clock` / `random` use the wall clock and a
//! seeded std::mt19937_64.
std::unique_ptr<RestartStrategy> CreateRestartStrategy(const RestartStrategyConfig& config,
                                                       RestartClock clock = {},
                                                       UniformRandom random = {});

//! FromConfiguration() then CreateRestartStrategy().
absl::StatusOr<std::unique_ptr<RestartStrategy>> CreateRestartStrategy(
    const config::Configuration& config, RestartClock clock = {}, UniformRandom random = {});

}  // namespace sluice::jobmanager
