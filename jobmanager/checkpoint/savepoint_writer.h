// WriteSavepoint: turns a completed checkpoint into a self-contained savepoint folder. The
// coordinator runs it on its savepoint executor while the checkpoint is pinned.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/snapshot/storage.h"
#include "sluice_proto/checkpoint.pb.h"

namespace sluice::jobmanager::checkpoint {

//! Copies every file `snapshot` names from `source` into `<dir>/savepoint-<job6>-<id>/` and writes
//! its `_metadata` (kind "savepoint") there. Returns the folder; on failure nothing is left there.
//! Blocking file I/O.
absl::StatusOr<std::string> WriteSavepoint(const proto::CheckpointMetadata& snapshot,
                                           snapshot::SnapshotStorage& source,
                                           const std::string& dir);

}  // namespace sluice::jobmanager::checkpoint
