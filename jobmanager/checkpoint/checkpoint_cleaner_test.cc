#include "jobmanager/checkpoint/checkpoint_cleaner.h"

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::jobmanager::checkpoint {
namespace {

namespace fs = std::filesystem;

SharedFileUsers Nobody() { return {}; }

// The suite is named after the class it tests; the fixture lives in its own namespace so that it
// may carry that name.
namespace suite {

// A checkpoint folder on disk; the "I/O executor" is a queue the test runs by hand, so it sees
// that nothing is deleted by the caller's thread.
class CheckpointCleaner : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = (fs::temp_directory_path() / "sluice-cleaner-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    absl::StatusOr<std::unique_ptr<snapshot::SnapshotStorage>> storage =
        snapshot::OpenStorage(dir_.string());
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = *std::move(storage);
    cleaner_ = std::make_unique<checkpoint::CheckpointCleaner>(
        "job-1", storage_.get(), [this](std::function<void()> io) { queued_.push_back(io); });
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& path) { ASSERT_TRUE(storage_->WriteFile(path, "x").ok()); }
  bool Exists(const std::string& path) const { return fs::exists(dir_ / path); }
  //! Runs what was handed to the I/O executor.
  void RunIo() {
    std::vector<std::function<void()>> tasks;
    tasks.swap(queued_);
    for (auto& t : tasks) t();
  }

  fs::path dir_;
  std::unique_ptr<snapshot::SnapshotStorage> storage_;
  std::vector<std::function<void()>> queued_;
  std::unique_ptr<checkpoint::CheckpointCleaner> cleaner_;
};

TEST_F(CheckpointCleaner, DeletesACheckpointFolderOnTheIoExecutorOnly) {
  Write("chk-3/apply-0/MANIFEST");
  Write("chk-3/_metadata");
  cleaner_->DiscardCheckpoint(3);
  EXPECT_TRUE(Exists("chk-3/_metadata")) << "not on the caller's thread";
  ASSERT_EQ(queued_.size(), 1u);
  RunIo();
  EXPECT_FALSE(Exists("chk-3"));
}

TEST_F(CheckpointCleaner, KeepsSharedFilesSomebodyNames) {
  Write("shared/a.sst");
  Write("shared/b.sst");
  SharedFileUsers users;
  users.named = [](const std::string& path) { return path == "shared/a.sst"; };
  cleaner_->DiscardShared({"shared/a.sst", "shared/b.sst"}, users);
  RunIo();
  EXPECT_TRUE(Exists("shared/a.sst"));
  EXPECT_FALSE(Exists("shared/b.sst"));
}

TEST_F(CheckpointCleaner, DefersASharedFileWhileACheckpointInProgressMayStillNameIt) {
  Write("shared/a.sst");
  SharedFileUsers busy;
  busy.oldest_in_progress = 4;
  busy.newest_in_progress = 5;
  cleaner_->DiscardShared({"shared/a.sst"}, busy);
  EXPECT_EQ(cleaner_->deferred(), 1u);
  EXPECT_TRUE(queued_.empty());

  // Checkpoint 4 ended; 5, in progress at the release, still is.
  SharedFileUsers five;
  five.oldest_in_progress = 5;
  five.newest_in_progress = 6;
  cleaner_->CheckpointEnded(five);
  EXPECT_EQ(cleaner_->deferred(), 1u);

  cleaner_->CheckpointEnded(Nobody());
  EXPECT_EQ(cleaner_->deferred(), 0u);
  RunIo();
  EXPECT_FALSE(Exists("shared/a.sst"));
}

TEST_F(CheckpointCleaner, ADeferredFileThatACheckpointNamedMeanwhileStays) {
  Write("shared/a.sst");
  SharedFileUsers busy;
  busy.oldest_in_progress = 2;
  busy.newest_in_progress = 2;
  cleaner_->DiscardShared({"shared/a.sst"}, busy);
  SharedFileUsers named;  // checkpoint 2 completed naming it
  named.named = [](const std::string&) { return true; };
  cleaner_->CheckpointEnded(named);
  EXPECT_EQ(cleaner_->deferred(), 0u);
  RunIo();
  EXPECT_TRUE(Exists("shared/a.sst"));
}

TEST_F(CheckpointCleaner, NeverDeletesOutsideTheSharedFolder) {
  Write("chk-1/apply-0/000001.sst");
  cleaner_->DiscardShared({"chk-1/apply-0/000001.sst", "../outside"}, Nobody());
  RunIo();
  EXPECT_TRUE(Exists("chk-1/apply-0/000001.sst"));
}

}  // namespace suite
}  // namespace
}  // namespace sluice::jobmanager::checkpoint
