#include "taskmanager/local_state_dirs.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace sluice::taskmanager {
namespace {

namespace fs = std::filesystem;

class LocalStateDirsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sluice-local-dirs-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  //! What a TaskManager killed by SIGKILL leaves: its lock file (no longer locked) and folder.
  void LeaveDeadTaskManager(const std::string& id) {
    fs::create_directories(root_ / id / "attempt-1" / "rocksdb");
    std::ofstream(root_ / id / "attempt-1" / "rocksdb" / "000001.sst") << "sst";
    std::ofstream(root_ / (id + ".lock")) << "";
  }

  fs::path root_;
};

// Regression (fault probe, gap 10): the folders of TaskManagers killed with SIGKILL stayed under
// the state root forever when a replacement used the same root.
TEST_F(LocalStateDirsTest, ARestartedTaskManagerRemovesTheFoldersOfDeadOnes) {
  LeaveDeadTaskManager("tm-dead1");
  LeaveDeadTaskManager("tm-dead2");
  LocalStateDirs dirs("tm-new");
  absl::StatusOr<std::string> dir = dirs.Acquire(root_.string());
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, (root_ / "tm-new").string());
  EXPECT_TRUE(fs::is_directory(*dir));
  EXPECT_FALSE(fs::exists(root_ / "tm-dead1"));
  EXPECT_FALSE(fs::exists(root_ / "tm-dead2"));
  EXPECT_FALSE(fs::exists(root_ / "tm-dead1.lock"));
  EXPECT_TRUE(fs::exists(root_ / "tm-new.lock"));
}

TEST_F(LocalStateDirsTest, LiveTaskManagersAndUnknownFoldersAreLeftAlone) {
  // A live one: its lock file is locked (flock conflicts between open files, in one process too).
  fs::create_directories(root_ / "tm-live" / "work");
  const int fd = ::open((root_ / "tm-live.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  fs::create_directories(root_ / "not-a-taskmanager");
  LocalStateDirs dirs("tm-new");
  ASSERT_TRUE(dirs.Acquire(root_.string()).ok());
  EXPECT_TRUE(fs::exists(root_ / "tm-live" / "work"));
  EXPECT_TRUE(fs::exists(root_ / "not-a-taskmanager")) << "no lock file: not ours to judge";
  // Once it is gone, the next use removes it.
  ::close(fd);
  EXPECT_EQ(LocalStateDirs::RemoveOrphans(root_.string(), "tm-new"), 1);
  EXPECT_FALSE(fs::exists(root_ / "tm-live"));
  EXPECT_TRUE(fs::exists(root_ / "tm-new")) << "never our own";
}

TEST_F(LocalStateDirsTest, EveryUseSweepsAndACleanShutdownLeavesNothing) {
  {
    LocalStateDirs dirs("tm-a");
    ASSERT_TRUE(dirs.Acquire(root_.string()).ok());
    LeaveDeadTaskManager("tm-died-later");
    absl::StatusOr<std::string> again = dirs.Acquire(root_.string() + "/");
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, (root_ / "tm-a").string());
    EXPECT_FALSE(fs::exists(root_ / "tm-died-later"));
    std::ofstream(root_ / "tm-a" / "file") << "x";
  }
  EXPECT_TRUE(fs::is_empty(root_)) << "folder and lock file removed";
}

TEST_F(LocalStateDirsTest, AnEarlierProcessWithTheSameIdLeftItsFolderToClear) {
  LeaveDeadTaskManager("tm-fixed");
  LocalStateDirs dirs("tm-fixed");
  absl::StatusOr<std::string> dir = dirs.Acquire(root_.string());
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_TRUE(fs::is_empty(*dir));
  // A second live TaskManager with the same id is refused.
  LocalStateDirs twin("tm-fixed");
  absl::StatusOr<std::string> refused = twin.Acquire(root_.string());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
}

}  // namespace
}  // namespace sluice::taskmanager
