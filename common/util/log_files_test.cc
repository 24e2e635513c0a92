#include "common/util/log_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sluice {
namespace {

namespace fs = std::filesystem;

class LogFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sluice-logfiles-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "log");
    fs::create_directories(root_ / "log" / "sub");
    std::ofstream(root_ / "log" / "jobmanager.log") << "line 1\nline 2\n";
    std::ofstream(root_ / "log" / ".hidden") << "hidden";
    std::ofstream(root_ / "log" / "sub" / "inner.log") << "inner";
    std::ofstream(root_ / "secret.txt") << "outside the log folder";
    fs::create_symlink(root_ / "secret.txt", root_ / "log" / "link.log");
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string dir() const { return (root_ / "log").string(); }
  fs::path root_;
};

TEST_F(LogFilesTest, ListsRegularFilesOnlyNotLinksHiddenFilesOrFolders) {
  auto files = ListLogFiles(dir());
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ((*files)[0].name, "jobmanager.log");
  EXPECT_EQ((*files)[0].size, 14u);
  EXPECT_GT((*files)[0].mtime_ms, 0);
  EXPECT_TRUE(ListLogFiles("")->empty());
}

TEST_F(LogFilesTest, ReadsAListedFileAndItsTail) {
  EXPECT_EQ(*ReadLogFile(dir(), "jobmanager.log", 1 << 20), "line 1\nline 2\n");
  EXPECT_EQ(*ReadLogFile(dir(), "jobmanager.log", 7), "line 2\n");
}

TEST_F(LogFilesTest, RefusesEveryNameThatCouldLeaveTheFolder) {
  for (const std::string& name :
       {std::string(".."), std::string("../secret.txt"), std::string("..%2fsecret.txt"),
        (root_ / "secret.txt").string(), std::string("sub/inner.log"), std::string(".hidden"),
        std::string("."), std::string(""), std::string("a\\b"), std::string("x\ny"),
        std::string("nul\0byte", 8)}) {
    auto r = ReadLogFile(dir(), name, 1 << 20);
    EXPECT_FALSE(r.ok()) << "'" << name << "' was read: " << *r;
  }
  // A symlink inside the folder that points out of it is not a log file.
  auto link = ReadLogFile(dir(), "link.log", 1 << 20);
  EXPECT_TRUE(absl::IsNotFound(link.status())) << link.status();
  EXPECT_TRUE(absl::IsNotFound(ReadLogFile(dir(), "sub", 1 << 20).status()));
  EXPECT_TRUE(absl::IsNotFound(ReadLogFile(dir(), "missing.log", 1 << 20).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ReadLogFile(dir(), "../secret.txt", 1 << 20).status()));
}

}  // namespace
}  // namespace sluice
