// Restoring a job from a snapshot (a retained checkpoint or a savepoint): reading and checking the
// snapshot against the job graph, handing each new subtask its share of the state (keyed state by
// key group, split operator state round-robin, union operator state to everyone), and finding the
// newest snapshot of a job by name. Pure functions over protos and snapshot storage; the JobMaster
// and the Dispatcher call them.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/snapshot/storage.h"
#include "jobmanager/checkpoint/savepoint_writer.h"
#include "jobmanager/execution_plan.h"
#include "sluice_proto/checkpoint.pb.h"
#include "sluice_proto/graph.pb.h"

namespace sluice::jobmanager {

//! The uid state of `node` is stored under: its uid, or "node-<id>" when it has none.
std::string OperatorUid(const proto::JobNode& node);

//! A snapshot folder given by a user: "file:///abs", "/abs". Returns its absolute path.
absl::StatusOr<std::string> SnapshotFolder(const std::string& uri);

//! Reads `<folder>/_metadata`. NotFound when there is no snapshot there, DataLoss when it is
//! damaged, FailedPrecondition for another format version; every message names the folder.
absl::StatusOr<proto::CheckpointMetadata> ReadSnapshot(const std::string& folder);

//! The folder the file paths of `snapshot`, read from `folder`, are relative to: the folder itself
//! for a savepoint, the job folder above `chk-<n>` for a retained checkpoint.
std::string SnapshotBaseDir(const std::string& folder, const proto::CheckpointMetadata& snapshot);

//! Checks that `snapshot` fits `graph` and adapts the graph: every operator with state in the
//! snapshot must exist in the graph by uid (unless `allow_non_restored_state`), and a keyed
//! operator keeps the snapshot's max parallelism — adopted when the graph's value was derived from
//! the parallelism, an error when the job set another one explicitly, or when the parallelism is
//! above it. InvalidArgument naming the uids.
absl::Status MatchSnapshot(const proto::CheckpointMetadata& snapshot, bool allow_non_restored_state,
                           proto::JobGraph& graph);

//! What subtask `subtask` of `vertex` restores: its operators' state out of `snapshot` at the
//! vertex's (possibly new) parallelism.
proto::TaskRestore RestoreFor(const proto::CheckpointMetadata& snapshot,
                              const std::string& base_dir, const proto::JobGraph& graph,
                              const TaskVertex& vertex, int subtask);

//! Writing a savepoint folder is the checkpoint coordinator's (jobmanager/checkpoint/).
using checkpoint::WriteSavepoint;

//! The newest savepoint under `savepoints_dir` or retained checkpoint under `checkpoints_dir` of a
//! job named `job_name` (by snapshot time), or nullopt. Of each job folder only its newest
//! checkpoint counts (an older one would replay what the newest committed): FailedPrecondition
//! naming it when it is damaged while an older one of the same job is readable.
absl::StatusOr<std::optional<std::string>> FindLatestSnapshot(const std::string& job_name,
                                                              const std::string& checkpoints_dir,
                                                              const std::string& savepoints_dir);

}  // namespace sluice::jobmanager
