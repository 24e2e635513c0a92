// Internal to jobmanager/checkpoint/: what the coordinator's files (coordinator.cc,
// coordinator_recovery.cc) share.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/log.h"

namespace sluice::jobmanager::checkpoint::internal {

inline auto Log() { return log::Get("checkpoint"); }

//! Missing, damaged or of another format: a checkpoint's `_metadata` that cannot be read, not a
//! storage outage.
bool IsUnreadable(const absl::Status& status);

}  // namespace sluice::jobmanager::checkpoint::internal
