// What a daemon's process uses now (resident and virtual memory, CPU time, threads) and what the
// machine has (cores, memory), read from /proc. The native counterpart of Flink's JVM metrics.
#pragma once

#include "sluice_proto/metrics.pb.h"

namespace sluice {

//! This process's figures; fields that cannot be read stay 0.
proto::ProcessStats ReadProcessStats();

}  // namespace sluice
