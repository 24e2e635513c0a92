// The registry: every configuration key Sluice understands, declared once with its default,
// bounds and doc. Key names follow Flink so that Flink users find what they expect.

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/config.h"

namespace sluice::config {
namespace {

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;

std::vector<Option> MakeOptions() {
  using T = OptionType;
  return {
      // JobManager.
      {.key = "jobmanager.rpc.address",
       .type = T::kString,
       .default_value = "127.0.0.1",
       .doc = "Address TaskManagers and clients use to reach the JobManager."},
      {.key = "jobmanager.rpc.port",
       .type = T::kInt,
       .default_value = "6123",
       .doc = "Port of the JobManager RPC endpoint; 0 picks an ephemeral port.",
       .min = 0,
       .max = 65535},
      {.key = "jobmanager.bind-host",
       .type = T::kString,
       .default_value = "127.0.0.1",
       .doc = "Local address the JobManager RPC server binds to."},
      {.key = "jobmanager.address-file",
       .type = T::kString,
       .default_value = "",
       .doc = "If set, the JobManager writes the host:port it listens on into this file."},
      {.key = "blob.storage.directory",
       .type = T::kString,
       .default_value = "/tmp/sluice-blobs",
       .doc = "Directory where the JobManager stores uploaded job artifacts."},
      {.key = "jobmanager.graph-builder.timeout",
       .type = T::kDuration,
       .default_value = "60 s",
       .doc = "How long the JobManager waits for a job's graph builder to finish.",
       .min = 1},

      // TaskManager.
      {.key = "taskmanager.numberOfTaskSlots",
       .type = T::kInt,
       .default_value = "1",
       .doc = "Number of task slots a TaskManager offers.",
       .min = 1,
       .max = 1024},
      {.key = "taskmanager.host",
       .type = T::kString,
       .default_value = "127.0.0.1",
       .doc = "Address the TaskManager advertises to the JobManager and its peers."},
      {.key = "taskmanager.bind-host",
       .type = T::kString,
       .default_value = "127.0.0.1",
       .doc = "Local address the TaskManager's RPC and data servers bind to."},
      {.key = "taskmanager.rpc.port",
       .type = T::kInt,
       .default_value = "0",
       .doc = "Port of the TaskManager RPC endpoint; 0 picks an ephemeral port.",
       .min = 0,
       .max = 65535},
      {.key = "taskmanager.data.port",
       .type = T::kInt,
       .default_value = "0",
       .doc = "Port of the TaskManager data (shuffle) endpoint; 0 picks an ephemeral port.",
       .min = 0,
       .max = 65535},
      {.key = "taskmanager.resource-id",
       .type = T::kString,
       .default_value = "",
       .doc = "Stable id of this TaskManager; empty generates one at startup."},
      {.key = "taskmanager.cache.directory",
       .type = T::kString,
       .default_value = "/tmp/sluice-taskmanager",
       .doc = "Directory where the TaskManager caches downloaded job artifacts."},
      {.key = "taskmanager.registration.max-backoff",
       .type = T::kDuration,
       .default_value = "10 s",
       .doc = "Upper bound of the backoff between attempts to register at the JobManager.",
       .min = 1},

      // Cluster-wide.
      {.key = "heartbeat.interval",
       .type = T::kDuration,
       .default_value = "10 s",
       .doc = "How often heartbeats are sent between JobManager and TaskManagers.",
       .min = 1},
      {.key = "heartbeat.timeout",
       .type = T::kDuration,
       .default_value = "50 s",
       .doc = "Silence after which a heartbeat peer is considered dead.",
       .min = 1},
      {.key = "parallelism.default",
       .type = T::kInt,
       .default_value = "1",
       .doc = "Parallelism of operators that do not set their own.",
       .min = 1,
       .max = 32768},
      {.key = "execution.buffer-timeout",
       .type = T::kDuration,
       .default_value = "100 ms",
       .doc = "Longest time a partly filled network buffer waits before it is flushed.",
       .min = 0},
      {.key = "metrics.report.interval",
       .type = T::kDuration,
       .default_value = "1 s",
       .doc = "How often a TaskManager sends its subtasks' metrics (rates are per second over this "
              "interval) to the JobManager.",
       .min = 100,
       .max = 3600 * 1000},

      // Network stack.
      {.key = "taskmanager.memory.network.size",
       .type = T::kMemorySize,
       .default_value = "64mb",
       .doc = "Network memory of a TaskManager, carved into segments at start-up; all in-flight "
              "data lives in it.",
       .min = kKiB,
       .max = 64LL * 1024 * kMiB},
      {.key = "taskmanager.memory.segment-size",
       .type = T::kMemorySize,
       .default_value = "32kb",
       .doc = "Size of one network buffer.",
       .min = kKiB,
       .max = 16 * kMiB},
      {.key = "taskmanager.network.memory.buffers-per-channel",
       .type = T::kInt,
       .default_value = "2",
       .doc = "Exclusive buffers (credits) per input channel.",
       .min = 1,
       .max = 1024},
      {.key = "taskmanager.network.memory.floating-buffers-per-gate",
       .type = T::kInt,
       .default_value = "8",
       .doc = "Buffers shared by all channels of one input gate.",
       .min = 0,
       .max = 100000},

      // Logging.
      {.key = "log.level",
       .type = T::kString,
       .default_value = "info",
       .doc = "Minimum level of log lines written.",
       .allowed = {"trace", "debug", "info", "warn", "error", "off"}},
  };
}

}  // namespace

const std::vector<Option>& AllOptions() {
  // Never destroyed, so it stays valid in static destructors and detached threads.
  static const auto* const kOptions = new std::vector<Option>(MakeOptions());
  return *kOptions;
}

}  // namespace sluice::config
