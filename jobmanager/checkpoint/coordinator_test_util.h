// The CheckpointCoordinator's test fixture, shared by its test files: a job of two vertices on a
// temporary checkpoint folder, a fake clock, and a recorder of the callbacks.
#pragma once

#include <spdlog/sinks/ringbuffer_sink.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/log.h"
#include "common/snapshot/metadata.h"
#include "gtest/gtest.h"
#include "jobmanager/checkpoint/coordinator.h"

namespace sluice::jobmanager::checkpoint {
namespace {

namespace fs = std::filesystem;

inline ::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

// What the coordinator told its owner. Callbacks run on the coordinator's thread.
class Recorder {
 public:
  CheckpointCallbacks Callbacks() {
    CheckpointCallbacks c;
    c.trigger = [this](int64_t id, int64_t, const TriggerOptions&) {
      absl::MutexLock lock(&mu_);
      triggered_.push_back(id);
    };
    c.notify_complete = [this](int64_t id, const proto::CheckpointMetadata&) {
      absl::MutexLock lock(&mu_);
      completed_.push_back(id);
    };
    c.notify_aborted = [this](int64_t id, std::string reason) {
      absl::MutexLock lock(&mu_);
      aborted_.emplace_back(id, std::move(reason));
    };
    c.fail_job = [this](std::string reason) {
      absl::MutexLock lock(&mu_);
      failures_.push_back(std::move(reason));
    };
    return c;
  }
  std::vector<int64_t> triggered() {
    absl::MutexLock lock(&mu_);
    return triggered_;
  }
  std::vector<int64_t> completed() {
    absl::MutexLock lock(&mu_);
    return completed_;
  }
  std::vector<std::pair<int64_t, std::string>> aborted() {
    absl::MutexLock lock(&mu_);
    return aborted_;
  }
  std::vector<std::string> failures() {
    absl::MutexLock lock(&mu_);
    return failures_;
  }

 private:
  absl::Mutex mu_;
  std::vector<int64_t> triggered_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> completed_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<int64_t, std::string>> aborted_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
};

using Ids = std::vector<int64_t>;

constexpr TaskKey kSource0{1, 0};
constexpr TaskKey kSource1{1, 1};
constexpr TaskKey kApply0{2, 0};
constexpr TaskKey kApply1{2, 1};

// A job of two vertices: "source" (node 1, operator state) and "apply" (node 2, RocksDB keyed
// state), both with parallelism 2. Time is a fake clock the tests move, then call Tick().
class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::temp_directory_path() / "sluice-chk-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    job_dir_ = dir_ / "job-1";
    absl::StatusOr<std::unique_ptr<snapshot::SnapshotStorage>> storage =
        snapshot::OpenStorage(job_dir_.string());
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = *std::move(storage);
  }

  void TearDown() override {
    coordinator_.reset();
    fs::remove_all(dir_);
  }

  //! A new coordinator on the job's storage (replacing the previous one), tasks set.
  CheckpointCoordinator& Make(CheckpointConfig config = {}) {
    coordinator_.reset();
    CheckpointJobInfo job{"job-1", "Test Job", "abc123", "rocksdb"};
    absl::StatusOr<std::unique_ptr<CheckpointCoordinator>> c = CheckpointCoordinator::Create(
        config, job, storage_.get(), events_.Callbacks(), [this] { return now_.load(); });
    EXPECT_TRUE(c.ok()) << c.status();
    coordinator_ = *std::move(c);
    coordinator_->SetTasks({kSource0, kSource1, kApply0, kApply1},
                           {{"source", 1, 2, 128}, {"apply", 2, 2, 128}});
    return *coordinator_;
  }

  proto::StateFile Write(const std::string& path, const std::string& bytes) {
    absl::StatusOr<proto::StateFile> f = storage_->WriteFile(path, bytes);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *f : proto::StateFile();
  }

  //! The state `task` acknowledges for checkpoint `id`: a split for a source subtask; for an
  //! apply subtask a RocksDB snapshot with one private file and the given shared files (written
  //! to storage, each "sst:<path>").
  std::vector<proto::OperatorSubtaskState> StatesOf(TaskKey task, int64_t id,
                                                    const std::vector<std::string>& shared) {
    proto::OperatorSubtaskState s;
    s.set_subtask_index(task.subtask_index);
    if (task.vertex_id == 1) {
      s.set_node_id(1);
      s.set_uid("source");
      proto::OperatorStateList* list = s.add_operator_state();
      list->set_name("splits");
      list->add_items(absl::StrCat("split-", task.subtask_index));
      return {s};
    }
    s.set_node_id(2);
    s.set_uid("apply");
    proto::RocksDbStateHandle* rocks = s.add_keyed()->mutable_rocksdb();
    rocks->set_incremental(true);
    proto::RocksDbFile* manifest = rocks->add_private_files();
    manifest->set_local_name("MANIFEST-000001");
    *manifest->mutable_file() = Write(
        absl::StrCat("chk-", id, "/apply-", task.subtask_index, "/MANIFEST-000001"), "manifest");
    for (const std::string& path : shared) {
      proto::RocksDbFile* sst = rocks->add_shared_files();
      sst->set_local_name(fs::path(path).filename().string());
      *sst->mutable_file() = Write(path, "sst:" + path);
    }
    return {s};
  }

  void Ack(TaskKey task, int64_t id, const std::vector<std::string>& shared = {}) {
    proto::SubtaskCheckpointStats stats;
    stats.set_sync_duration_ms(task.subtask_index + 1);
    coordinator_->Acknowledge(task, id, StatesOf(task, id, shared), stats);
  }

  //! Every subtask acknowledges `id` (apply subtask 0 names `shared`), then waits for it.
  void AckAll(int64_t id, const std::vector<std::string>& shared = {}) {
    Ack(kSource0, id);
    Ack(kSource1, id);
    Ack(kApply0, id, shared);
    Ack(kApply1, id);
    coordinator_->Drain();
  }

  //! Triggers a snapshot and waits for its id (`done` runs when it ended).
  absl::StatusOr<int64_t> TriggerNow(TriggerOptions options = {}, SnapshotCallback done = {}) {
    std::promise<absl::StatusOr<int64_t>> triggered;
    std::future<absl::StatusOr<int64_t>> id = triggered.get_future();
    coordinator_->TriggerSnapshot(
        std::move(options),
        [&triggered](absl::StatusOr<int64_t> r) { triggered.set_value(std::move(r)); },
        std::move(done));
    return id.get();
  }

  //! The figures once everything posted so far ran.
  CoordinatorStats Stats() {
    coordinator_->Drain();
    return coordinator_->Stats();
  }

  //! What a restart restores, waited for.
  absl::StatusOr<std::optional<proto::CheckpointMetadata>> RecoverLatest(bool accept_duplicates) {
    std::promise<absl::StatusOr<std::optional<proto::CheckpointMetadata>>> done;
    auto result = done.get_future();
    coordinator_->RecoverLatest(
        accept_duplicates, [&done](absl::StatusOr<std::optional<proto::CheckpointMetadata>> r) {
          done.set_value(std::move(r));
        });
    return result.get();
  }

  //! Triggers a checkpoint and completes it.
  int64_t Complete(const std::vector<std::string>& shared = {}) {
    absl::StatusOr<int64_t> id = TriggerNow();
    EXPECT_TRUE(id.ok()) << id.status();
    AckAll(*id, shared);
    return *id;
  }

  bool Exists(const std::string& path) const { return fs::exists(job_dir_ / path); }

  Ids RetainedIds() {
    Ids ids;
    for (const CompletedCheckpointInfo& c : Stats().completed) ids.push_back(c.id);
    return ids;
  }

  void Advance(int64_t ms) {
    now_ += ms;
    coordinator_->Tick();
  }

  fs::path dir_;
  fs::path job_dir_;
  std::unique_ptr<snapshot::SnapshotStorage> storage_;
  std::atomic<int64_t> now_{1'000'000};
  Recorder events_;
  std::unique_ptr<CheckpointCoordinator> coordinator_;
};

}  // namespace
}  // namespace sluice::jobmanager::checkpoint
