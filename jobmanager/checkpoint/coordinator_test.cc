#include "jobmanager/checkpoint/coordinator.h"

#include <spdlog/sinks/ringbuffer_sink.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "jobmanager/checkpoint/coordinator_test_util.h"

namespace sluice::jobmanager::checkpoint {
namespace {

TEST_F(CoordinatorTest, CompletesAfterAllAcknowledgementsAndWritesMetadata) {
  CheckpointCoordinator& c = Make();
  absl::StatusOr<int64_t> id = TriggerNow();
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 1);
  EXPECT_EQ(events_.triggered(), Ids{1});

  Ack(kApply1, 1);
  Ack(kSource1, 1);
  Ack(kApply0, 1, {"shared/a.sst"});
  c.Drain();
  CoordinatorStats stats = Stats();
  ASSERT_EQ(stats.in_progress.size(), 1u);
  EXPECT_EQ(stats.in_progress[0].acknowledged, 3);
  EXPECT_EQ(stats.in_progress[0].total_subtasks, 4);
  EXPECT_TRUE(events_.completed().empty());
  EXPECT_FALSE(Exists("chk-1/_metadata"));

  now_ += 250;
  Ack(kSource0, 1);
  c.Drain();
  EXPECT_EQ(events_.completed(), Ids{1});
  ASSERT_TRUE(Exists("chk-1/_metadata"));

  absl::StatusOr<proto::CheckpointMetadata> md =
      snapshot::ReadMetadata(*storage_, "chk-1/_metadata");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_EQ(md->format_version(), snapshot::kMetadataFormatVersion);
  EXPECT_EQ(md->job_id(), "job-1");
  EXPECT_EQ(md->job_name(), "Test Job");
  EXPECT_EQ(md->checkpoint_id(), 1);
  EXPECT_EQ(md->kind(), "checkpoint");
  EXPECT_EQ(md->timestamp_ms(), 1'000'000);
  EXPECT_EQ(md->package_sha256(), "abc123");
  EXPECT_EQ(md->state_backend(), "rocksdb");
  ASSERT_EQ(md->operators_size(), 2);
  const proto::OperatorSnapshot& source = md->operators(0);
  EXPECT_EQ(source.uid(), "source");
  EXPECT_EQ(source.node_id(), 1u);
  EXPECT_EQ(source.parallelism(), 2);
  EXPECT_EQ(source.max_parallelism(), 128);
  ASSERT_EQ(source.subtasks_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(source.subtasks(i).subtask_index(), i);
    EXPECT_EQ(source.subtasks(i).operator_state(0).items(0), absl::StrCat("split-", i));
  }
  const proto::OperatorSnapshot& apply = md->operators(1);
  EXPECT_EQ(apply.uid(), "apply");
  ASSERT_EQ(apply.subtasks_size(), 2);
  EXPECT_EQ(apply.subtasks(0).subtask_index(), 0);
  EXPECT_EQ(apply.subtasks(0).keyed(0).rocksdb().shared_files(0).file().path(), "shared/a.sst");
  EXPECT_EQ(apply.subtasks(1).subtask_index(), 1);

  std::optional<proto::CheckpointMetadata> latest = c.LatestCompleted();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->SerializeAsString(), md->SerializeAsString());

  stats = Stats();
  EXPECT_TRUE(stats.in_progress.empty());
  EXPECT_EQ(stats.completed_count, 1);
  ASSERT_EQ(stats.completed.size(), 1u);
  EXPECT_EQ(stats.completed[0].id, 1);
  EXPECT_EQ(stats.completed[0].kind, "checkpoint");
  EXPECT_EQ(stats.completed[0].path, (job_dir_ / "chk-1").string());
  EXPECT_EQ(stats.completed[0].duration_ms, 250);
  // Two MANIFEST files of 8 bytes, one shared file "sst:shared/a.sst" of 16.
  EXPECT_EQ(stats.completed[0].size_bytes, 8u + 8u + 16u);
  ASSERT_EQ(stats.history.size(), 1u);
  EXPECT_EQ(stats.history[0].status, CheckpointStatus::kCompleted);
  EXPECT_EQ(stats.history[0].acknowledged, 4);
  EXPECT_EQ(stats.history[0].subtasks.at(kSource1).sync_duration_ms(), 2);
}

TEST_F(CoordinatorTest, StateSizeCountsASharedFileOncePerCheckpoint) {
  CheckpointCoordinator& c = Make();
  ASSERT_EQ(*TriggerNow(), 1);
  Ack(kSource0, 1);
  Ack(kSource1, 1);
  Ack(kApply0, 1, {"shared/s.sst"});
  Ack(kApply1, 1, {"shared/s.sst"});
  c.Drain();
  EXPECT_EQ(Stats().completed.at(0).size_bytes, 8u + 8u + 16u);
}

TEST_F(CoordinatorTest, CheckpointExpiresAfterTimeoutAndItsFilesGo) {
  CheckpointConfig config;
  config.timeout_ms = 1000;
  config.tolerable_failures = 5;
  CheckpointCoordinator& c = Make(config);
  ASSERT_EQ(*TriggerNow(), 1);
  Ack(kApply0, 1, {"shared/new.sst"});
  c.Drain();
  ASSERT_TRUE(Exists("chk-1/apply-0/MANIFEST-000001"));

  Advance(999);
  EXPECT_EQ(Stats().in_progress.size(), 1u);
  Advance(1);
  c.Drain();
  CoordinatorStats stats = Stats();
  EXPECT_TRUE(stats.in_progress.empty());
  EXPECT_EQ(stats.failed_count, 1);
  EXPECT_EQ(stats.consecutive_failures, 1);
  ASSERT_EQ(stats.history.size(), 1u);
  EXPECT_EQ(stats.history[0].status, CheckpointStatus::kFailed);
  EXPECT_EQ(stats.history[0].failure_reason, "expired after 1s");
  EXPECT_EQ(events_.aborted(),
            (std::vector<std::pair<int64_t, std::string>>{{1, "expired after 1s"}}));
  EXPECT_FALSE(Exists("chk-1"));
  EXPECT_FALSE(Exists("shared/new.sst"));
  EXPECT_TRUE(events_.failures().empty());
}

TEST_F(CoordinatorTest, PeriodicTriggerWaitsForTheIntervalAndTheMinPause) {
  CheckpointConfig config;
  config.interval_ms = 1000;
  config.min_pause_ms = 5000;
  CheckpointCoordinator& c = Make(config);
  c.Start();
  Advance(999);
  EXPECT_TRUE(events_.triggered().empty());
  Advance(1);
  EXPECT_EQ(events_.triggered(), Ids{1});

  now_ += 500;
  AckAll(1);  // ends at +1500
  ASSERT_EQ(events_.completed(), Ids{1});
  Advance(500);  // +2000: the interval is due, the pause is not over
  EXPECT_EQ(events_.triggered(), Ids{1});
  Advance(4499);  // +6499
  EXPECT_EQ(events_.triggered(), Ids{1});
  Advance(1);  // +6500: 5 s after the end of checkpoint 1
  EXPECT_EQ(events_.triggered(), (Ids{1, 2}));
  Advance(999);
  EXPECT_EQ(events_.triggered(), (Ids{1, 2}));
}

TEST_F(CoordinatorTest, MinPauseCountsFromAFailedCheckpointToo) {
  CheckpointConfig config;
  config.interval_ms = 100;
  config.min_pause_ms = 1000;
  config.tolerable_failures = 10;
  CheckpointCoordinator& c = Make(config);
  c.Start();
  Advance(100);
  ASSERT_EQ(events_.triggered(), Ids{1});
  c.Decline(kSource0, 1, "busy");
  c.Drain();
  Advance(999);
  EXPECT_EQ(events_.triggered(), Ids{1});
  Advance(1);
  EXPECT_EQ(events_.triggered(), (Ids{1, 2}));
}

TEST_F(CoordinatorTest, NoNewCheckpointWhileMaxConcurrentAreInProgress) {
  CheckpointConfig config;
  config.interval_ms = 1000;
  config.max_concurrent = 2;
  CheckpointCoordinator& c = Make(config);
  c.Start();
  Advance(1000);
  Advance(1000);
  EXPECT_EQ(events_.triggered(), (Ids{1, 2}));
  Advance(1000);
  Advance(1000);
  EXPECT_EQ(events_.triggered(), (Ids{1, 2}));
  absl::StatusOr<int64_t> now = TriggerNow();
  EXPECT_EQ(now.status().code(), absl::StatusCode::kResourceExhausted);

  // The due trigger happens as soon as a checkpoint ends.
  AckAll(1);
  EXPECT_EQ(events_.completed(), Ids{1});
  EXPECT_EQ(events_.triggered(), (Ids{1, 2, 3}));
  CoordinatorStats stats = Stats();
  ASSERT_EQ(stats.in_progress.size(), 2u);
  EXPECT_EQ(stats.in_progress[0].id, 2);
  EXPECT_EQ(stats.in_progress[1].id, 3);
}

TEST_F(CoordinatorTest, TriggerNowRespectsMaxConcurrentOfOne) {
  Make();
  ASSERT_EQ(*TriggerNow(), 1);
  EXPECT_EQ(TriggerNow().status().code(), absl::StatusCode::kResourceExhausted);
  AckAll(1);
  EXPECT_EQ(*TriggerNow(), 2);
}

TEST_F(CoordinatorTest, DeclinesFailTheJobOnceTolerableFailuresAreExceeded) {
  CheckpointConfig config;
  config.tolerable_failures = 2;
  CheckpointCoordinator& c = Make(config);
  for (int64_t id = 1; id <= 2; ++id) {
    ASSERT_EQ(*TriggerNow(), id);
    c.Decline(kApply1, id, "disk full");
    c.Drain();
  }
  EXPECT_TRUE(events_.failures().empty());
  EXPECT_EQ(Stats().consecutive_failures, 2);

  ASSERT_EQ(*TriggerNow(), 3);
  c.Decline(kApply1, 3, "disk full");
  c.Drain();
  EXPECT_EQ(events_.failures(),
            std::vector<std::string>{"exceeded checkpoint tolerable failure threshold: declined "
                                     "by vertex 2 subtask 1: disk full"});
  EXPECT_EQ(Stats().consecutive_failures, 0);
  EXPECT_EQ(Stats().failed_count, 3);
  EXPECT_EQ(events_.aborted().size(), 3u);
}

TEST_F(CoordinatorTest, CompletedCheckpointResetsTheFailureCount) {
  CheckpointConfig config;
  config.tolerable_failures = 1;
  CheckpointCoordinator& c = Make(config);
  ASSERT_EQ(*TriggerNow(), 1);
  c.Decline(kSource0, 1, "x");
  c.Drain();
  EXPECT_EQ(Stats().consecutive_failures, 1);
  Complete();
  EXPECT_EQ(Stats().consecutive_failures, 0);
  ASSERT_EQ(*TriggerNow(), 3);
  c.Decline(kSource0, 3, "x");
  c.Drain();
  EXPECT_TRUE(events_.failures().empty());
  ASSERT_EQ(*TriggerNow(), 4);
  c.Decline(kSource0, 4, "x");
  c.Drain();
  EXPECT_EQ(events_.failures().size(), 1u);
}

TEST_F(CoordinatorTest, DuplicateAndLateAcknowledgementsAreIgnored) {
  CheckpointConfig config;
  config.tolerable_failures = 10;
  CheckpointCoordinator& c = Make(config);
  ASSERT_EQ(*TriggerNow(), 1);
  Ack(kSource0, 1);
  Ack(kSource0, 1);
  c.Drain();
  EXPECT_EQ(Stats().in_progress.at(0).acknowledged, 1);
  Ack(kSource1, 1);
  Ack(kApply0, 1, {"shared/one.sst"});
  Ack(kApply1, 1);
  c.Drain();
  EXPECT_EQ(events_.completed(), Ids{1});

  // A duplicate for the completed checkpoint changes nothing and deletes nothing.
  Ack(kApply0, 1, {"shared/one.sst"});
  c.Drain();
  EXPECT_EQ(events_.completed(), Ids{1});
  EXPECT_TRUE(Exists("chk-1/_metadata"));
  EXPECT_TRUE(Exists("chk-1/apply-0/MANIFEST-000001"));
  EXPECT_TRUE(Exists("shared/one.sst"));

  // A late acknowledgement of an aborted checkpoint: its orphaned files go, referenced ones stay.
  ASSERT_EQ(*TriggerNow(), 2);
  c.Decline(kSource0, 2, "x");
  c.Drain();
  Ack(kApply0, 2, {"shared/one.sst", "shared/late.sst"});
  c.Drain();
  EXPECT_FALSE(Exists("chk-2"));
  EXPECT_FALSE(Exists("shared/late.sst"));
  EXPECT_TRUE(Exists("shared/one.sst"));
  EXPECT_EQ(events_.completed(), Ids{1});

  // An acknowledgement of a checkpoint never triggered is ignored.
  Ack(kApply0, 99, {"shared/future.sst"});
  c.Drain();
  EXPECT_TRUE(Exists("shared/future.sst"));
  EXPECT_EQ(Stats().completed_count, 1);
}

TEST_F(CoordinatorTest, IdsIncreaseAcrossSuspendResumeAndANewCoordinator) {
  CheckpointCoordinator& c = Make();
  c.Start();
  EXPECT_EQ(Complete(), 1);
  ASSERT_EQ(*TriggerNow(), 2);
  Ack(kApply0, 2, {"shared/pending.sst"});
  c.Drain();

  c.Suspend();
  c.Drain();
  EXPECT_EQ(events_.aborted(),
            (std::vector<std::pair<int64_t, std::string>>{{2, "job restarting"}}));
  EXPECT_TRUE(events_.failures().empty()) << "a restart is not a checkpoint failure";
  EXPECT_EQ(Stats().consecutive_failures, 0);
  EXPECT_FALSE(Exists("chk-2"));
  EXPECT_FALSE(Exists("shared/pending.sst"));
  EXPECT_EQ(TriggerNow().status().code(), absl::StatusCode::kFailedPrecondition);

  c.Resume();
  EXPECT_EQ(Complete(), 3);

  // A new coordinator (JobManager restart) continues after the highest id on storage.
  CheckpointCoordinator& next = Make();
  std::optional<proto::CheckpointMetadata> latest = next.LatestCompleted();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->checkpoint_id(), 3);
  EXPECT_EQ(Complete(), 4);
  EXPECT_FALSE(Exists("chk-3")) << "checkpoint 3 was adopted, and is dropped by retention";

  next.RestoreFrom(10);
  EXPECT_EQ(*TriggerNow(), 11);
}

TEST_F(CoordinatorTest, IdsSkipFoldersWithoutMetadata) {
  Write("chk-20/leftover", "x");
  Write("chk-007/leftover", "x");  // not a name the coordinator writes: ignored
  CheckpointCoordinator& c = Make();
  EXPECT_FALSE(c.LatestCompleted().has_value());
  EXPECT_EQ(*TriggerNow(), 21);
}

TEST_F(CoordinatorTest, RetainsOneCompletedCheckpoint) {
  Make();
  Complete();
  EXPECT_TRUE(Exists("chk-1/_metadata"));
  Complete();
  EXPECT_FALSE(Exists("chk-1"));
  EXPECT_TRUE(Exists("chk-2/_metadata"));
  EXPECT_EQ(RetainedIds(), Ids{2});
}

TEST_F(CoordinatorTest, RetainsTwoCompletedCheckpoints) {
  CheckpointConfig config;
  config.num_retained = 2;
  Make(config);
  Complete();
  Complete();
  EXPECT_TRUE(Exists("chk-1/_metadata"));
  Complete();
  EXPECT_FALSE(Exists("chk-1"));
  EXPECT_TRUE(Exists("chk-2/_metadata"));
  EXPECT_TRUE(Exists("chk-3/_metadata"));
  EXPECT_EQ(RetainedIds(), (Ids{3, 2}));
}

TEST_F(CoordinatorTest, TheTriggerCarriesWhatTheCheckpointIsFor) {
  std::vector<TriggerOptions> told;
  CheckpointCallbacks callbacks = events_.Callbacks();
  callbacks.trigger = [&told](int64_t, int64_t, const TriggerOptions& o) { told.push_back(o); };
  CheckpointJobInfo job{"job-1", "Test Job", "abc123", "rocksdb"};
  absl::StatusOr<std::unique_ptr<CheckpointCoordinator>> c = CheckpointCoordinator::Create(
      {}, job, storage_.get(), callbacks, [this] { return now_.load(); });
  ASSERT_TRUE(c.ok()) << c.status();
  coordinator_ = *std::move(c);
  coordinator_->SetTasks({kSource0}, {{"source", 1, 1, 128}});
  TriggerOptions stop;
  stop.stop = true;
  stop.drain = true;
  ASSERT_TRUE(TriggerNow(stop).ok());
  coordinator_->Drain();
  ASSERT_EQ(told.size(), 1u);
  EXPECT_TRUE(told[0].stop);
  EXPECT_TRUE(told[0].drain);
  EXPECT_TRUE(told[0].savepoint_dir.empty());
}

TEST_F(CoordinatorTest, TheCompletionCallbackCarriesTheMetadataItWrote) {
  std::optional<proto::CheckpointMetadata> told;
  CheckpointCallbacks callbacks = events_.Callbacks();
  callbacks.notify_complete = [&told](int64_t, const proto::CheckpointMetadata& md) { told = md; };
  CheckpointJobInfo job{"job-1", "Test Job", "abc123", "rocksdb"};
  absl::StatusOr<std::unique_ptr<CheckpointCoordinator>> c = CheckpointCoordinator::Create(
      {}, job, storage_.get(), callbacks, [this] { return now_.load(); });
  ASSERT_TRUE(c.ok()) << c.status();
  coordinator_ = *std::move(c);
  coordinator_->SetTasks({kSource0, kSource1, kApply0, kApply1},
                         {{"source", 1, 2, 128}, {"apply", 2, 2, 128}});
  const int64_t id = Complete();
  coordinator_->Drain();
  ASSERT_TRUE(told.has_value());
  std::optional<proto::CheckpointMetadata> retained = coordinator_->CompletedMetadata(id);
  ASSERT_TRUE(retained.has_value());
  EXPECT_EQ(told->SerializeAsString(), retained->SerializeAsString());
  EXPECT_EQ(told->operators_size(), 2);
}

TEST_F(CoordinatorTest, SharedFileLivesWhileARetainedCheckpointReferencesIt) {
  Make();
  Complete({"shared/a.sst", "shared/b.sst"});
  Complete({"shared/b.sst", "shared/c.sst"});
  EXPECT_FALSE(Exists("chk-1"));
  EXPECT_FALSE(Exists("shared/a.sst")) << "only checkpoint 1 used it";
  EXPECT_TRUE(Exists("shared/b.sst")) << "checkpoint 2 uses it too";
  EXPECT_TRUE(Exists("shared/c.sst"));

  Complete({"shared/c.sst", "shared/d.sst"});
  EXPECT_FALSE(Exists("chk-2"));
  EXPECT_FALSE(Exists("shared/b.sst")) << "checkpoint 3 no longer uses it";
  EXPECT_TRUE(Exists("shared/c.sst"));
  EXPECT_TRUE(Exists("shared/d.sst"));
}

TEST_F(CoordinatorTest, SharedFileOfADroppedCheckpointWaitsForCheckpointsInProgress) {
  CheckpointConfig config;
  config.max_concurrent = 2;
  config.tolerable_failures = 10;
  CheckpointCoordinator& c = Make(config);
  Complete({"shared/a.sst"});
  ASSERT_EQ(*TriggerNow(), 2);
  ASSERT_EQ(*TriggerNow(), 3);  // based on checkpoint 1, like checkpoint 2
  AckAll(2, {"shared/b.sst"});
  EXPECT_FALSE(Exists("chk-1"));
  EXPECT_TRUE(Exists("shared/a.sst")) << "checkpoint 3, still in progress, may name it";

  AckAll(3, {"shared/a.sst"});
  EXPECT_TRUE(Exists("shared/a.sst"));
  EXPECT_FALSE(Exists("shared/b.sst")) << "dropped with checkpoint 2, nothing in progress";
  Complete({"shared/c.sst"});
  EXPECT_FALSE(Exists("shared/a.sst"));

  // A deferred file nobody names in the end goes when the checkpoints in progress end.
  ASSERT_EQ(*TriggerNow(), 5);
  Ack(kApply0, 5, {"shared/c.sst", "shared/d.sst"});
  c.Drain();
  ASSERT_EQ(*TriggerNow(), 6);
  c.Decline(kApply1, 5, "x");  // c.sst stays (checkpoint 4), d.sst waits for checkpoint 6
  c.Drain();
  EXPECT_TRUE(Exists("shared/d.sst"));
  c.Decline(kApply1, 6, "x");
  c.Drain();
  EXPECT_FALSE(Exists("shared/d.sst"));
  EXPECT_TRUE(Exists("shared/c.sst"));
}

TEST_F(CoordinatorTest, SharedFilesOfAnAbortedCheckpointThatNobodyReferencesAreDeleted) {
  CheckpointConfig config;
  config.tolerable_failures = 1;
  CheckpointCoordinator& c = Make(config);
  Complete({"shared/old.sst"});
  ASSERT_EQ(*TriggerNow(), 2);
  Ack(kApply0, 2, {"shared/old.sst", "shared/new.sst"});
  c.Decline(kApply1, 2, "out of disk");
  c.Drain();
  EXPECT_FALSE(Exists("chk-2"));
  EXPECT_FALSE(Exists("shared/new.sst"));
  EXPECT_TRUE(Exists("shared/old.sst")) << "completed checkpoint 1 references it";
  EXPECT_TRUE(Exists("chk-1/_metadata"));
}

TEST_F(CoordinatorTest, FailedMetadataWriteFailsTheCheckpoint) {
  Make();
  Complete();
  // A folder where the metadata file should go makes the write fail.
  ASSERT_EQ(*TriggerNow(), 2);
  fs::create_directories(job_dir_ / "chk-2" / "_metadata" / "blocker");
  AckAll(2);
  EXPECT_EQ(events_.completed(), Ids{1});
  ASSERT_EQ(events_.failures().size(), 1u);
  EXPECT_TRUE(Contains(events_.failures()[0], "writing the metadata failed"));
  EXPECT_FALSE(Exists("chk-2"));
  EXPECT_EQ(RetainedIds(), Ids{1});
}

// Regression (fault probe, defect 1): with a damaged newest `_metadata` a restart restored the
// checkpoint before it (or none), and the file sink committed again what the newest had committed.
TEST_F(CoordinatorTest, DamagedNewestMetadataIsRewrittenFromTheCoordinatorsCopy) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(32);
  std::shared_ptr<spdlog::logger> logger = log::Get("checkpoint");
  logger->sinks().push_back(sink);

  CheckpointConfig config;
  config.num_retained = 3;
  Make(config);
  Complete();
  Complete();
  std::ofstream(job_dir_ / "chk-2" / "_metadata", std::ios::trunc) << "garbage";

  for (bool accept_duplicates : {false, true}) {
    absl::StatusOr<std::optional<proto::CheckpointMetadata>> recovered =
        RecoverLatest(accept_duplicates);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    ASSERT_TRUE(recovered->has_value());
    EXPECT_EQ((*recovered)->checkpoint_id(), 2) << "the newest, never an older one";
    EXPECT_EQ(RetainedIds(), (Ids{2, 1}));
  }
  absl::StatusOr<proto::CheckpointMetadata> repaired =
      snapshot::ReadMetadata(*storage_, "chk-2/_metadata");
  ASSERT_TRUE(repaired.ok()) << repaired.status();
  EXPECT_EQ(repaired->checkpoint_id(), 2);

  bool logged = false;
  for (const std::string& line : sink->last_formatted()) {
    logged |= Contains(line, "the metadata of checkpoint 2 is damaged") &&
              Contains(line, "rewrote it from the JobManager's copy") && Contains(line, "warn");
  }
  EXPECT_TRUE(logged) << "a WARN line says what was repaired";
  coordinator_.reset();
  logger->sinks().pop_back();
}

// Regression (fault probe, defect 1 and gap 6): a damaged state file of the newest checkpoint
// made the job fall back to an older one (duplicates) or restore the same one forever.
TEST_F(CoordinatorTest, DamagedNewestStateFileStopsRecoveryNamingTheFile) {
  CheckpointConfig config;
  config.num_retained = 3;
  Make(config);
  Complete();
  Complete();
  std::ofstream(job_dir_ / "chk-2" / "apply-1" / "MANIFEST-000001", std::ios::trunc) << "x";

  absl::StatusOr<std::optional<proto::CheckpointMetadata>> recovered = RecoverLatest(false);
  ASSERT_EQ(recovered.status().code(), absl::StatusCode::kFailedPrecondition) << recovered.status();
  EXPECT_TRUE(
      Contains(std::string(recovered.status().message()), "checkpoint 2 cannot be restored"));
  EXPECT_TRUE(Contains(std::string(recovered.status().message()), "chk-2/apply-1/MANIFEST-000001"));
  EXPECT_EQ(RetainedIds(), (Ids{2, 1})) << "nothing is dropped without accept-duplicates";
  // The same answer every time: no blind retry heals it.
  EXPECT_FALSE(RecoverLatest(false).ok());

  // Accepting duplicates, the newest intact older checkpoint is restored.
  recovered = RecoverLatest(true);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_TRUE(recovered->has_value());
  EXPECT_EQ((*recovered)->checkpoint_id(), 1);
  EXPECT_EQ(RetainedIds(), Ids{1});
  EXPECT_TRUE(Exists("chk-2")) << "a damaged checkpoint's files stay for inspection";

  // Never nothing once a checkpoint completed, whatever is accepted.
  fs::remove(job_dir_ / "chk-1" / "apply-0" / "MANIFEST-000001");
  recovered = RecoverLatest(true);
  ASSERT_EQ(recovered.status().code(), absl::StatusCode::kFailedPrecondition) << recovered.status();
  EXPECT_TRUE(
      Contains(std::string(recovered.status().message()), "checkpoint 1 cannot be restored"));
  EXPECT_TRUE(RetainedIds().empty());
  EXPECT_FALSE(RecoverLatest(true).ok());
}

TEST_F(CoordinatorTest, RecoverLatestIsNothingBeforeTheFirstCheckpoint) {
  Make();
  absl::StatusOr<std::optional<proto::CheckpointMetadata>> recovered = RecoverLatest(false);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_FALSE(recovered->has_value());
}

TEST_F(CoordinatorTest, DropDamagedForgetsACheckpointButKeepsItsFiles) {
  CheckpointConfig config;
  config.num_retained = 2;
  CheckpointCoordinator& c = Make(config);
  Complete();
  Complete();
  c.DropDamaged(2);
  EXPECT_EQ(RetainedIds(), Ids{1});
  EXPECT_TRUE(Exists("chk-2/_metadata"));
  EXPECT_FALSE(c.CompletedMetadata(2).has_value());
  EXPECT_EQ(c.CompletedMetadata(1)->checkpoint_id(), 1);
}

// Make damage less likely: a checkpoint is complete only once what it names can be restored.
TEST_F(CoordinatorTest, CompletionVerifiesTheFilesTheAcknowledgementsName) {
  CheckpointCoordinator& c = Make();
  Complete();
  ASSERT_EQ(*TriggerNow(), 2);
  Ack(kSource0, 2);
  Ack(kSource1, 2);
  Ack(kApply0, 2);
  std::vector<proto::OperatorSubtaskState> states = StatesOf(kApply1, 2, {});
  fs::remove(job_dir_ / "chk-2" / "apply-1" / "MANIFEST-000001");  // lost after its upload
  c.Acknowledge(kApply1, 2, states, {});
  c.Drain();
  EXPECT_EQ(events_.completed(), Ids{1});
  ASSERT_EQ(events_.failures().size(), 1u);
  EXPECT_TRUE(Contains(events_.failures()[0], "a state file it names is damaged"));
  EXPECT_TRUE(Contains(events_.failures()[0], "chk-2/apply-1/MANIFEST-000001"));
  EXPECT_EQ(RetainedIds(), Ids{1});
}

// Regression (fault probe, defect 2): a trigger that never reached a frozen TaskManager left its
// checkpoint in progress until the 10-minute timeout; nothing was committed meanwhile.
TEST_F(CoordinatorTest, TriggerFailureAbortsTheCheckpointAtOnceWithoutCountingIt) {
  CheckpointConfig config;
  config.interval_ms = 1000;
  CheckpointCoordinator& c = Make(config);
  c.Start();
  Advance(1000);
  ASSERT_EQ(events_.triggered(), Ids{1});
  Ack(kSource0, 1);
  c.TriggerFailed(kApply1, 1, "DEADLINE_EXCEEDED");
  c.Drain();
  ASSERT_EQ(events_.aborted().size(), 1u);
  EXPECT_EQ(events_.aborted()[0].first, 1);
  EXPECT_TRUE(Contains(events_.aborted()[0].second, "trigger failed: DEADLINE_EXCEEDED"));
  EXPECT_TRUE(events_.failures().empty()) << "not a failed checkpoint (tolerable 0)";
  EXPECT_EQ(Stats().consecutive_failures, 0);
  // A failed trigger of a task that already acknowledged, or of an ended checkpoint, is ignored.
  Advance(1000);
  ASSERT_EQ(events_.triggered(), (Ids{1, 2}));
  Ack(kApply0, 2);
  c.TriggerFailed(kApply0, 2, "late");
  c.TriggerFailed(kApply0, 1, "late");
  c.Drain();
  EXPECT_EQ(events_.aborted().size(), 1u);
  Ack(kSource0, 2);
  Ack(kSource1, 2);
  Ack(kApply1, 2);
  c.Drain();
  EXPECT_EQ(events_.completed(), Ids{2});
}

TEST_F(CoordinatorTest, StopAbortsPendingCheckpointsAndEndsCallbacks) {
  CheckpointConfig config;
  config.interval_ms = 1000;
  CheckpointCoordinator& c = Make(config);
  c.Start();
  Advance(1000);
  ASSERT_EQ(events_.triggered(), Ids{1});
  Ack(kApply0, 1, {"shared/s.sst"});
  c.Stop();
  EXPECT_EQ(events_.aborted(),
            (std::vector<std::pair<int64_t, std::string>>{{1, "checkpoint coordinator stopped"}}));
  EXPECT_FALSE(Exists("shared/s.sst"));

  // Late acknowledgements: the first one writes files, the others only delete them again, so the
  // test never writes into a folder the coordinator is deleting.
  Ack(kApply1, 1);
  Ack(kSource0, 1);
  Ack(kSource1, 1);
  Advance(5000);
  c.Drain();
  EXPECT_FALSE(Exists("chk-1"));
  EXPECT_EQ(events_.triggered(), Ids{1});
  EXPECT_TRUE(events_.completed().empty());
  EXPECT_TRUE(events_.failures().empty());
  EXPECT_EQ(TriggerNow().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CoordinatorTest, FinishedTasksAreNotAwaited) {
  CheckpointCoordinator& c = Make();
  ASSERT_EQ(*TriggerNow(), 1);
  Ack(kSource0, 1);
  Ack(kApply0, 1);
  Ack(kApply1, 1);
  c.TaskFinished(kSource1);
  c.Drain();
  EXPECT_EQ(events_.completed(), Ids{1}) << "the finished source no longer holds it up";

  ASSERT_EQ(*TriggerNow(), 2);
  EXPECT_EQ(Stats().in_progress.at(0).total_subtasks, 3);
  Ack(kSource0, 2);
  Ack(kApply0, 2);
  Ack(kApply1, 2);
  c.Drain();
  EXPECT_EQ(events_.completed(), (Ids{1, 2}));
  absl::StatusOr<proto::CheckpointMetadata> md =
      snapshot::ReadMetadata(*storage_, "chk-2/_metadata");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_EQ(md->operators(0).subtasks_size(), 1);

  // After a restart every subtask runs again.
  c.Suspend();
  c.Resume();
  ASSERT_EQ(*TriggerNow(), 3);
  EXPECT_EQ(Stats().in_progress.at(0).total_subtasks, 4);
  AckAll(3);
  EXPECT_EQ(events_.completed(), (Ids{1, 2, 3}));

  // A checkpoint whose subtasks all finish before acknowledging is aborted, not failed.
  ASSERT_EQ(*TriggerNow(), 4);
  for (TaskKey t : {kSource0, kSource1, kApply0, kApply1}) c.TaskFinished(t);
  c.Drain();
  EXPECT_EQ(events_.aborted().back(),
            std::make_pair(int64_t{4}, std::string("every subtask finished")));
  EXPECT_TRUE(events_.failures().empty());
  EXPECT_EQ(TriggerNow().status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CoordinatorTest, ScanStorageFindsCheckpointFolders) {
  Make();
  Complete();
  Write("chk-5/_metadata", "not metadata");
  Write("chk-x/file", "x");
  Write("shared/s.sst", "x");
  absl::StatusOr<std::vector<StoredCheckpoint>> found =
      CheckpointCoordinator::ScanStorage(*storage_);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].id, 1);
  EXPECT_TRUE((*found)[0].metadata.ok());
  EXPECT_EQ((*found)[1].id, 5);
  EXPECT_EQ((*found)[1].metadata.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(CoordinatorTest, ConfigIsValidated) {
  CheckpointConfig config;
  config.max_concurrent = 0;
  CheckpointJobInfo job{"job-1", "n", "", "hashmap"};
  absl::StatusOr<std::unique_ptr<CheckpointCoordinator>> c =
      CheckpointCoordinator::Create(config, job, storage_.get(), {});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(std::string(c.status().message()), "max_concurrent"));

  config::Configuration conf;
  ASSERT_TRUE(conf.Set("execution.checkpointing.interval", "30 s").ok());
  ASSERT_TRUE(conf.Set("state.checkpoints.num-retained", "3").ok());
  CheckpointConfig from = CheckpointConfig::FromConfiguration(conf);
  EXPECT_EQ(from.interval_ms, 30'000);
  EXPECT_EQ(from.timeout_ms, 600'000);
  EXPECT_EQ(from.num_retained, 3);
  EXPECT_TRUE(from.Validate().ok());
}

TEST(CheckpointStatusTest, LegalTransitions) {
  using S = CheckpointStatus;
  EXPECT_TRUE(IsLegalTransition(S::kInProgress, S::kFinalizing));
  EXPECT_TRUE(IsLegalTransition(S::kInProgress, S::kFailed));
  EXPECT_FALSE(IsLegalTransition(S::kInProgress, S::kCompleted));
  EXPECT_TRUE(IsLegalTransition(S::kFinalizing, S::kCompleted));
  EXPECT_TRUE(IsLegalTransition(S::kFinalizing, S::kFailed));
  for (S to : {S::kInProgress, S::kFinalizing, S::kCompleted, S::kFailed}) {
    EXPECT_FALSE(IsLegalTransition(S::kCompleted, to));
    EXPECT_FALSE(IsLegalTransition(S::kFailed, to));
  }
  EXPECT_EQ(CheckpointStatusName(S::kInProgress), "IN_PROGRESS");
}

// Real timers, real clock: the periodic trigger fires by itself. Only the order of events is
// checked, never how long they took.
TEST(CoordinatorTimerTest, PeriodicCheckpointsRunWithoutTicks) {
  std::string dir = (fs::temp_directory_path() / "sluice-chk-timer-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  auto storage = snapshot::OpenStorage(dir);
  ASSERT_TRUE(storage.ok());

  absl::Mutex mu;
  std::vector<int64_t> completed;
  std::unique_ptr<CheckpointCoordinator> c;
  CheckpointCallbacks callbacks;
  callbacks.trigger = [&c](int64_t id, int64_t, const TriggerOptions&) {
    c->Acknowledge({1, 0}, id, {}, {});  // posts: fine from a callback
  };
  callbacks.notify_complete = [&](int64_t id, const proto::CheckpointMetadata&) {
    absl::MutexLock lock(&mu);
    completed.push_back(id);
  };
  CheckpointConfig config;
  config.interval_ms = 5;
  absl::StatusOr<std::unique_ptr<CheckpointCoordinator>> created = CheckpointCoordinator::Create(
      config, {"job-t", "t", "", "hashmap"}, storage->get(), callbacks);
  ASSERT_TRUE(created.ok()) << created.status();
  c = *std::move(created);
  c->SetTasks({{1, 0}}, {{"op", 1, 1, 128}});
  c->Start();
  {
    absl::MutexLock lock(&mu);
    auto three = [&completed] { return completed.size() >= 3; };
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(&three), absl::Seconds(60)));
    EXPECT_EQ(completed[0], 1);
    EXPECT_EQ(completed[1], 2);
  }
  c->Stop();
  c.reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sluice::jobmanager::checkpoint
