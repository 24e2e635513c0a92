#include "taskmanager/checkpointing/barrier_aligner.h"

#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace sluice::taskmanager {

BarrierAligner::BarrierAligner(int channels, Actions* actions)
    : channels_(channels),
      actions_(actions),
      arrived_(static_cast<size_t>(channels), false),
      ended_(static_cast<size_t>(channels), false) {}

void BarrierAligner::OnBarrier(int channel, const network::CheckpointEvent& barrier) {
  if (barrier.checkpoint_id <= last_done_) return;  // done, aborted or superseded here
  if (aligning() && barrier.checkpoint_id > pending_.checkpoint_id) {
    network::CheckpointEvent old = pending_;
    Reset();
    last_done_ = old.checkpoint_id;
    actions_->Abort(old, absl::StrCat("superseded by checkpoint ", barrier.checkpoint_id));
  }
  if (!aligning()) Start(barrier);
  auto c = static_cast<size_t>(channel);
  if (!arrived_[c]) {
    arrived_[c] = true;
    ++arrived_count_;
  }
  MaybeComplete();
  if (aligning()) {
    blocked_ = true;
    actions_->Block(channel);
  }
}

void BarrierAligner::OnCancelMarker(int channel, const network::CheckpointEvent& marker) {
  (void)channel;
  if (marker.checkpoint_id <= last_done_) return;
  if (aligning() && marker.checkpoint_id < pending_.checkpoint_id) return;
  if (aligning()) Reset();
  last_done_ = marker.checkpoint_id;
  actions_->Abort(marker, "cancelled upstream");
}

void BarrierAligner::OnEndOfPartition(int channel) {
  auto c = static_cast<size_t>(channel);
  if (ended_[c]) return;
  ended_[c] = true;
  ++ended_count_;
  if (aligning()) MaybeComplete();
}

void BarrierAligner::AbortPending(int64_t checkpoint_id, const std::string& reason) {
  if (!aligning() || pending_.checkpoint_id != checkpoint_id) {
    if (checkpoint_id > last_done_ && !aligning()) last_done_ = checkpoint_id;
    return;
  }
  network::CheckpointEvent old = pending_;
  Reset();
  last_done_ = old.checkpoint_id;
  actions_->Abort(old, reason);
}

void BarrierAligner::Start(const network::CheckpointEvent& barrier) {
  pending_ = barrier;
  started_ns_ = SteadyNowNs();
}

void BarrierAligner::MaybeComplete() {
  int covered = 0;
  for (int i = 0; i < channels_; ++i) {
    covered += arrived_[static_cast<size_t>(i)] || ended_[static_cast<size_t>(i)];
  }
  if (covered < channels_) return;
  network::CheckpointEvent done = pending_;
  int64_t alignment = SteadyNowNs() - started_ns_;
  Reset();
  last_done_ = done.checkpoint_id;
  actions_->Snapshot(done, alignment);
}

void BarrierAligner::Reset() {
  bool blocked = blocked_;
  blocked_ = false;
  arrived_.assign(arrived_.size(), false);
  arrived_count_ = 0;
  pending_ = {};
  started_ns_ = 0;
  if (blocked) actions_->UnblockAll();
}

}  // namespace sluice::taskmanager
