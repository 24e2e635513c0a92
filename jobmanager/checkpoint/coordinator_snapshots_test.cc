// The CheckpointCoordinator's snapshots on demand: savepoints copied while pinned, stop, and the
// pin of what a job restores.
#include <filesystem>
#include <future>
#include <string>

#include "absl/synchronization/notification.h"
#include "jobmanager/checkpoint/coordinator.h"
#include "jobmanager/checkpoint/coordinator_test_util.h"
#include "jobmanager/checkpoint/savepoint_writer.h"

namespace sluice::jobmanager::checkpoint {
namespace {
// The suite is named after the class it tests; the fixture lives in its own namespace so that it
// may carry that name.
namespace suite {

// Savepoints go through a writer the test can hold up (then the real one).
class CheckpointCoordinator : public CoordinatorTest {
 protected:
  void MakeWithWriter(CheckpointConfig config = {}) {
    coordinator_.reset();
    CheckpointJobInfo job{"job-1", "Test Job", "abc123", "rocksdb"};
    auto writer = [this](const proto::CheckpointMetadata& md, snapshot::SnapshotStorage& source,
                         const std::string& dir) -> absl::StatusOr<std::string> {
      copy_started_.Notify();
      release_copy_.WaitForNotification();
      if (!copy_error_.ok()) return copy_error_;
      return WriteSavepoint(md, source, dir);
    };
    auto c = checkpoint::CheckpointCoordinator::Create(
        config, job, storage_.get(), events_.Callbacks(), [this] { return now_.load(); }, writer);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = *std::move(c);
    coordinator_->SetTasks({kSource0, kSource1, kApply0, kApply1},
                           {{"source", 1, 2, 128}, {"apply", 2, 2, 128}});
  }

  TriggerOptions Savepoint(bool stop = false) {
    TriggerOptions o;
    o.savepoint_dir = (dir_ / "savepoints").string();
    o.stop = stop;
    return o;
  }

  //! A callback that hands the result to `result_`.
  SnapshotCallback Done() {
    return [this](SnapshotResult r) { result_.set_value(std::move(r)); };
  }
  SnapshotResult Result() { return result_.get_future().get(); }
  std::vector<int64_t> Pinned() { return Stats().pinned; }

  absl::Notification copy_started_;
  absl::Notification release_copy_;
  absl::Status copy_error_;
  std::promise<SnapshotResult> result_;
};

TEST_F(CheckpointCoordinator, ASavepointIsCopiedWhilePinnedAndCheckpointsGoOn) {
  MakeWithWriter();
  Complete({"shared/a.sst"});
  absl::StatusOr<int64_t> id = TriggerNow(Savepoint(), Done());
  ASSERT_EQ(*id, 2);
  AckAll(2, {"shared/a.sst"});
  copy_started_.WaitForNotification();
  EXPECT_EQ(events_.completed(), (Ids{1, 2})) << "a savepoint that does not stop commits at once";
  EXPECT_EQ(Pinned(), Ids{2});

  EXPECT_EQ(Complete({"shared/b.sst"}), 3) << "periodic checkpoints go on during the copy";
  EXPECT_EQ(RetainedIds(), (Ids{3, 2})) << "retention keeps the one being copied";
  EXPECT_TRUE(Exists("chk-2/_metadata"));
  EXPECT_TRUE(Exists("shared/a.sst"));

  release_copy_.Notify();
  SnapshotResult r = Result();
  EXPECT_EQ(r.checkpoint_id, 2);
  ASSERT_TRUE(r.path.ok()) << r.path.status();
  EXPECT_EQ(*r.path, (dir_ / "savepoints" / "savepoint-job-1-2").string());
  ASSERT_TRUE(r.metadata.has_value());
  EXPECT_EQ(r.metadata->kind(), "checkpoint");
  absl::StatusOr<std::unique_ptr<snapshot::SnapshotStorage>> sp = snapshot::OpenStorage(*r.path);
  ASSERT_TRUE(sp.ok());
  absl::StatusOr<proto::CheckpointMetadata> written =
      snapshot::ReadMetadata(**sp, snapshot::kMetadataFileName);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->kind(), "savepoint");
  EXPECT_TRUE(fs::exists(fs::path(*r.path) / "shared" / "a.sst"));

  // Unpinned once copied: retention drops it, and the shared file only it named.
  EXPECT_EQ(RetainedIds(), Ids{3});
  EXPECT_TRUE(Pinned().empty());
  EXPECT_FALSE(Exists("chk-2"));
  EXPECT_FALSE(Exists("shared/a.sst"));
  EXPECT_TRUE(Exists("shared/b.sst"));
}

TEST_F(CheckpointCoordinator,
       ASavepointWaitsForTheCheckpointInProgressAndGoesBeforeTheNextPeriodic) {
  CheckpointConfig config;
  config.interval_ms = 1000;
  MakeWithWriter(config);
  release_copy_.Notify();
  coordinator_->Start();
  Advance(1000);
  ASSERT_EQ(events_.triggered(), Ids{1});
  // The savepoint arrives while checkpoint 1 is in progress: it waits instead of failing.
  std::promise<absl::StatusOr<int64_t>> triggered;
  coordinator_->TriggerSnapshot(
      Savepoint(), [&triggered](absl::StatusOr<int64_t> id) { triggered.set_value(id); }, Done());
  Advance(1000);  // the next periodic checkpoint is due meanwhile
  EXPECT_EQ(events_.triggered(), Ids{1});
  AckAll(1);
  // Checkpoint 1 ended: the savepoint goes first, the periodic checkpoint waits for it.
  absl::StatusOr<int64_t> id = triggered.get_future().get();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 2);
  EXPECT_EQ(events_.triggered(), (Ids{1, 2}));
  AckAll(2);
  SnapshotResult r = Result();
  ASSERT_TRUE(r.path.ok()) << r.path.status();
  EXPECT_EQ(events_.triggered(), (Ids{1, 2, 3}));
}

TEST_F(CheckpointCoordinator, AWaitingSavepointFailsWhenTheCoordinatorStops) {
  MakeWithWriter();
  release_copy_.Notify();
  ASSERT_EQ(*TriggerNow(), 1);
  std::promise<absl::StatusOr<int64_t>> triggered;
  coordinator_->TriggerSnapshot(
      Savepoint(), [&triggered](absl::StatusOr<int64_t> id) { triggered.set_value(id); }, Done());
  coordinator_->Stop();
  absl::StatusOr<int64_t> id = triggered.get_future().get();
  EXPECT_EQ(id.status().code(), absl::StatusCode::kFailedPrecondition) << id.status();
}

TEST_F(CheckpointCoordinator, AStopIsAnnouncedOnlyOnceItsSavepointIsWrittenAndNothingFollowsIt) {
  CheckpointConfig config;
  config.interval_ms = 1000;
  MakeWithWriter(config);
  coordinator_->Start();
  ASSERT_EQ(*TriggerNow(Savepoint(/*stop=*/true), Done()), 1);
  Advance(5000);
  EXPECT_EQ(events_.triggered(), Ids{1}) << "no periodic checkpoint after a stop's barrier";
  EXPECT_EQ(TriggerNow().status().code(), absl::StatusCode::kFailedPrecondition);

  AckAll(1);
  copy_started_.WaitForNotification();
  EXPECT_TRUE(events_.completed().empty()) << "the subtasks finish once told: not before the copy";
  release_copy_.Notify();
  SnapshotResult r = Result();
  ASSERT_TRUE(r.path.ok()) << r.path.status();
  coordinator_->Drain();
  EXPECT_EQ(events_.completed(), Ids{1});
  Advance(5000);
  EXPECT_EQ(events_.triggered(), Ids{1});

  // A restart (the job fails over instead of finishing) triggers again.
  coordinator_->Suspend();
  coordinator_->Resume();
  Advance(1000);
  EXPECT_EQ(events_.triggered(), (Ids{1, 2}));
}

TEST_F(CheckpointCoordinator, AStopWhoseSavepointCannotBeWrittenIsNeverAnnounced) {
  MakeWithWriter();
  copy_error_ = absl::ResourceExhaustedError("disk full");
  release_copy_.Notify();
  ASSERT_EQ(*TriggerNow(Savepoint(/*stop=*/true), Done()), 1);
  AckAll(1);
  SnapshotResult r = Result();
  EXPECT_EQ(r.path.status().code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(r.metadata.has_value()) << "the checkpoint completed: the job can fail over to it";
  coordinator_->Drain();
  EXPECT_TRUE(events_.completed().empty());
  EXPECT_EQ(RetainedIds(), Ids{1});
  EXPECT_TRUE(Pinned().empty());
}

TEST_F(CheckpointCoordinator, AnAbortedSavepointSaysWhy) {
  MakeWithWriter();
  ASSERT_EQ(*TriggerNow(Savepoint(), Done()), 1);
  coordinator_->Decline(kApply0, 1, "state too large");
  SnapshotResult r = Result();
  EXPECT_EQ(r.checkpoint_id, 1);
  EXPECT_FALSE(r.metadata.has_value());
  EXPECT_EQ(r.path.status().code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(Contains(std::string(r.path.status().message()), "state too large"));
  EXPECT_FALSE(copy_started_.HasBeenNotified());
}

TEST_F(CheckpointCoordinator, StopDeliversTheOutcomeOfACopyUnderWay) {
  MakeWithWriter();
  ASSERT_EQ(*TriggerNow(Savepoint(), Done()), 1);
  AckAll(1);
  copy_started_.WaitForNotification();
  std::thread stopper([this] { coordinator_->Stop(); });
  release_copy_.Notify();
  stopper.join();
  std::future<SnapshotResult> f = result_.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "the callback ran before Stop returned";
  EXPECT_TRUE(f.get().path.ok());
}

TEST_F(CheckpointCoordinator, TheCheckpointARestartRestoresIsPinnedUntilTheFirstCheckpointAfter) {
  Make();
  Complete();
  coordinator_->Suspend();
  absl::StatusOr<std::optional<proto::CheckpointMetadata>> restore = RecoverLatest(false);
  ASSERT_TRUE(restore.ok() && restore->has_value()) << restore.status();
  EXPECT_EQ((*restore)->checkpoint_id(), 1);
  EXPECT_EQ(Pinned(), Ids{1});
  ASSERT_TRUE(RecoverLatest(false).ok());
  EXPECT_EQ(Pinned(), Ids{1}) << "chosen again (another restart): still pinned once";

  coordinator_->Resume();
  EXPECT_EQ(Complete(), 2);
  EXPECT_TRUE(Pinned().empty());
  EXPECT_EQ(RetainedIds(), Ids{2});
  EXPECT_FALSE(Exists("chk-1"));
}

TEST_F(CheckpointCoordinator, ARescalesCheckpointIsPinnedFromItsCompletion) {
  Make();
  TriggerOptions rescale;
  rescale.stop = true;
  rescale.restore_after = true;
  ASSERT_EQ(*TriggerNow(rescale, Done()), 1);
  AckAll(1);
  SnapshotResult r = Result();
  ASSERT_TRUE(r.path.ok()) << r.path.status();
  EXPECT_EQ(*r.path, (job_dir_ / "chk-1").string()) << "restored in place: no copy";
  ASSERT_TRUE(r.metadata.has_value());
  EXPECT_EQ(events_.completed(), Ids{1});
  EXPECT_EQ(Pinned(), Ids{1});

  // The redeployment at the new parallelism restores it; its first checkpoint ends the pin.
  coordinator_->Suspend();
  ASSERT_EQ((*RecoverLatest(false))->checkpoint_id(), 1);
  EXPECT_EQ(Pinned(), Ids{1});
  coordinator_->Resume();
  EXPECT_EQ(Complete(), 2);
  EXPECT_TRUE(Pinned().empty());
  EXPECT_FALSE(Exists("chk-1"));
}

TEST_F(CheckpointCoordinator, StatsNeverWaitForTheExecutor) {
  Make();
  ASSERT_EQ(*TriggerNow(), 1);
  coordinator_->Drain();
  now_ += 250;
  // Published at the trigger; the duration of a checkpoint in progress is as of now.
  CoordinatorStats stats = coordinator_->Stats();
  ASSERT_EQ(stats.in_progress.size(), 1u);
  EXPECT_EQ(stats.in_progress[0].duration_ms, 250);
  AckAll(1);
  EXPECT_EQ(coordinator_->Stats().completed.size(), 1u);
}

}  // namespace suite
}  // namespace
}  // namespace sluice::jobmanager::checkpoint
