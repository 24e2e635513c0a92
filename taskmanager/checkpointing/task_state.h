// TaskState: the state side of one task. At start it restores each operator of the chain from the
// deployment's TaskRestore (operator-state lists, keyed state per key group, or a RocksDB
// instance, and the timers of keyed operators) and hands keyed operators their backend and timer
// services; at a checkpoint it runs the synchronous part on the task thread (operators'
// SnapshotState, timer copies, RocksDB checkpoints) and returns the asynchronous part (writing
// files to snapshot storage) for the I/O pool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sluice/runtime.h"
#include "sluice_proto/cluster.pb.h"

namespace sluice::snapshot {
class SnapshotStorage;
}
namespace sluice::state {
class ProcessingTimeScheduler;
class RocksDbKeyedBackend;
class RocksDbSharedMemory;
}  // namespace sluice::state

namespace sluice::taskmanager {

//! Restoring failed because the snapshot is damaged (snapshot::IsDamage): a file missing,
//! truncated, of another checksum or a symbolic link. Retrying the same snapshot cannot heal it,
//! so the task reports it as such (TaskStateUpdate.snapshot_damaged).
class SnapshotDamagedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

//! The asynchronous part of one task's checkpoint: writes the files, returns the operators' state.
using AsyncSnapshot = std::function<absl::StatusOr<std::vector<proto::OperatorSubtaskState>>()>;

class TaskState {
 public:
  //! `local_dir`: this task's private working folder (RocksDB instances live below it).
  //! `scheduler` wakes processing-time timers (the task's mailbox loop); null: no such timers.
  TaskState(const proto::TaskDeployment& deployment, std::string local_dir,
            state::ProcessingTimeScheduler* scheduler = nullptr);
  //! The deployment is kept by reference: it must outlive the TaskState.
  TaskState(proto::TaskDeployment&&, std::string,
            state::ProcessingTimeScheduler* = nullptr) = delete;
  ~TaskState();

  //! The TaskManager's RocksDB memory for this task's RocksDB state (call before
  //! InitializeOperator); without it each instance has its own.
  void SetRocksDbMemory(std::shared_ptr<state::RocksDbSharedMemory> memory) {
    rocksdb_memory_ = std::move(memory);
  }
  //! Task thread, before Open. Throws SnapshotDamagedError when the snapshot is damaged,
  //! std::runtime_error when the state cannot be restored otherwise.
  void InitializeOperator(const NodeSpec& node, int max_parallelism, StreamOperator& op);
  //! Task thread: the synchronous part of checkpoint `id` for the chain's operators.
  AsyncSnapshot Snapshot(int64_t id, const std::vector<const NodeSpec*>& nodes,
                         const std::vector<StreamOperator*>& ops);
  //! Task thread: checkpoint `id` is complete (incremental RocksDB may reuse its files).
  void NotifyComplete(int64_t id);
  //! Task thread: the watermark of `node`'s operator advanced; fires its event-time timers.
  void AdvanceWatermark(const NodeSpec& node, int64_t watermark);

  //! Task thread: an estimate of the bytes the operators' heap keyed state holds.
  size_t HeapStateBytes() const;
  bool HasHeapState() const { return !heap_states_.empty(); }

  //! The name state of `node` goes by: its uid, or a stable id derived from the node id.
  static std::string OperatorUid(const NodeSpec& node);

 private:
  struct Operator;
  Operator& Find(const NodeSpec& node);

  const proto::TaskDeployment& deployment_;
  const std::string local_dir_;
  state::ProcessingTimeScheduler* scheduler_;
  std::shared_ptr<state::RocksDbSharedMemory> rocksdb_memory_;
  std::shared_ptr<snapshot::SnapshotStorage> storage_;          // checkpoints; null when off
  std::shared_ptr<snapshot::SnapshotStorage> restore_storage_;  // null without a restore
  std::vector<std::unique_ptr<Operator>> operators_;
  //! The heap state of the operators (they outlive it: the task ends them first).
  std::vector<const HeapStateSizer*> heap_states_;
};

}  // namespace sluice::taskmanager
