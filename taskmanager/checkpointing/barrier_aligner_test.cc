// Barrier alignment with several channels: blocking, completion, end of partition, supersede,
// cancel markers, coordinator aborts and stale barriers.
#include "taskmanager/checkpointing/barrier_aligner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::taskmanager {
namespace {

//! Records what the aligner asks for.
class Recorder final : public BarrierAligner::Actions {
 public:
  void Block(int channel) override { log.push_back("block " + std::to_string(channel)); }
  void UnblockAll() override { log.push_back("unblock"); }
  void Snapshot(const network::CheckpointEvent& b, int64_t alignment_ns) override {
    EXPECT_GE(alignment_ns, 0);
    log.push_back("snapshot " + std::to_string(b.checkpoint_id));
  }
  void Abort(const network::CheckpointEvent& b, const std::string& reason) override {
    log.push_back("abort " + std::to_string(b.checkpoint_id) + ": " + reason);
  }
  std::vector<std::string> log;
};

network::CheckpointEvent B(int64_t id) { return {id, 0}; }

using Log = std::vector<std::string>;

TEST(BarrierAlignerTest, SingleChannelSnapshotsAtOnce) {
  Recorder r;
  BarrierAligner a(1, &r);
  a.OnBarrier(0, B(1));
  EXPECT_EQ(r.log, (Log{"snapshot 1"}));
  EXPECT_FALSE(a.aligning());
}

TEST(BarrierAlignerTest, BlocksArrivedChannelsUntilAllHaveTheBarrier) {
  Recorder r;
  BarrierAligner a(3, &r);
  a.OnBarrier(1, B(5));
  a.OnBarrier(0, B(5));
  EXPECT_TRUE(a.aligning());
  EXPECT_EQ(a.pending_checkpoint(), 5);
  a.OnBarrier(2, B(5));
  EXPECT_EQ(r.log, (Log{"block 1", "block 0", "unblock", "snapshot 5"}));
  EXPECT_FALSE(a.aligning());
}

TEST(BarrierAlignerTest, EndedChannelsCountAsAligned) {
  Recorder r;
  BarrierAligner a(3, &r);
  a.OnEndOfPartition(2);
  a.OnBarrier(0, B(1));
  a.OnEndOfPartition(1);  // completes the alignment
  EXPECT_EQ(r.log, (Log{"block 0", "unblock", "snapshot 1"}));
  r.log.clear();
  a.OnBarrier(0, B(2));  // the only live channel
  EXPECT_EQ(r.log, (Log{"snapshot 2"}));
}

TEST(BarrierAlignerTest, NewerBarrierSupersedesPendingAlignment) {
  Recorder r;
  BarrierAligner a(2, &r);
  a.OnBarrier(0, B(1));
  a.OnBarrier(0, B(2));
  a.OnBarrier(1, B(1));  // stale now
  a.OnBarrier(1, B(2));
  EXPECT_EQ(r.log, (Log{"block 0", "unblock", "abort 1: superseded by checkpoint 2", "block 0",
                        "unblock", "snapshot 2"}));
}

TEST(BarrierAlignerTest, CancelMarkerAbortsAndLaterBarriersOfItAreIgnored) {
  Recorder r;
  BarrierAligner a(2, &r);
  a.OnBarrier(0, B(3));
  a.OnCancelMarker(1, B(3));
  a.OnBarrier(1, B(3));
  EXPECT_EQ(r.log, (Log{"block 0", "unblock", "abort 3: cancelled upstream"}));
  EXPECT_FALSE(a.aligning());
  // A cancel marker for a checkpoint not seen yet is passed on once, then its barriers ignored.
  r.log.clear();
  a.OnCancelMarker(0, B(4));
  a.OnBarrier(0, B(4));
  a.OnBarrier(1, B(4));
  EXPECT_EQ(r.log, (Log{"abort 4: cancelled upstream"}));
}

TEST(BarrierAlignerTest, CoordinatorAbortDropsPendingAlignment) {
  Recorder r;
  BarrierAligner a(2, &r);
  a.OnBarrier(1, B(7));
  a.AbortPending(6, "other");  // not the pending one
  EXPECT_TRUE(a.aligning());
  a.AbortPending(7, "expired");
  EXPECT_EQ(r.log, (Log{"block 1", "unblock", "abort 7: expired"}));
  EXPECT_FALSE(a.aligning());
  r.log.clear();
  a.OnBarrier(0, B(7));  // late barrier of the aborted checkpoint
  EXPECT_TRUE(r.log.empty());
}

}  // namespace
}  // namespace sluice::taskmanager
