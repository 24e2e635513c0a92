// BarrierAligner: aligned checkpoint barriers for a task with one or more input channels (Flink's
// SingleCheckpointBarrierHandler in aligned mode). The first barrier of a checkpoint starts an
// alignment: channels whose barrier arrived are blocked, the others keep flowing; when every
// channel has delivered the barrier or has ended, the task snapshots and the channels are
// unblocked. A newer barrier supersedes a pending alignment (the older checkpoint is aborted), a
// cancel marker aborts it, and barriers of checkpoints already done or aborted are ignored.
// Task thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "taskmanager/network/buffer.h"

namespace sluice::taskmanager {

class BarrierAligner {
 public:
  //! What the aligner asks the task to do.
  class Actions {
   public:
    virtual ~Actions() = default;
    virtual void Block(int channel) = 0;
    virtual void UnblockAll() = 0;
    //! Every channel delivered the barrier: snapshot now and forward the barrier.
    virtual void Snapshot(const network::CheckpointEvent& barrier, int64_t alignment_ns) = 0;
    //! The checkpoint is abandoned here: forward a cancel marker and decline it.
    virtual void Abort(const network::CheckpointEvent& barrier, const std::string& reason) = 0;
  };

  BarrierAligner(int channels, Actions* actions);

  void OnBarrier(int channel, const network::CheckpointEvent& barrier);
  void OnCancelMarker(int channel, const network::CheckpointEvent& marker);
  void OnEndOfPartition(int channel);
  //! The coordinator aborted `checkpoint_id` (e.g. expired): drop a pending alignment for it.
  void AbortPending(int64_t checkpoint_id, const std::string& reason);

  bool aligning() const { return pending_.checkpoint_id != 0; }
  int64_t pending_checkpoint() const { return pending_.checkpoint_id; }

 private:
  void Start(const network::CheckpointEvent& barrier);
  void MaybeComplete();
  void Reset();

  const int channels_;
  Actions* actions_;
  std::vector<bool> arrived_;
  std::vector<bool> ended_;
  int arrived_count_ = 0;
  bool blocked_ = false;  // some channel is blocked
  int ended_count_ = 0;
  network::CheckpointEvent pending_{};
  int64_t started_ns_ = 0;
  int64_t last_done_ = 0;  // highest checkpoint id snapshotted or aborted here
};

}  // namespace sluice::taskmanager
