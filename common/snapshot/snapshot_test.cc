#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/snapshot/crc32.h"
#include "common/snapshot/key_groups_format.h"
#include "common/snapshot/metadata.h"
#include "common/snapshot/storage.h"

namespace sluice::snapshot {
namespace {

namespace fs = std::filesystem;

::testing::AssertionResult Contains(std::string_view text, std::string_view part) {
  if (text.find(part) != std::string_view::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

::testing::AssertionResult Contains(absl::string_view text, std::string_view part) {
  return Contains(std::string_view(text.data(), text.size()), part);
}

std::string ReadRaw(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteRaw(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

//! Names in `dir` as the file system has them (temporary files included), sorted.
std::vector<std::string> RawList(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

//! A storage rooted in a fresh folder (mkdtemp), removed with everything in it afterwards.
class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sluice-snapshot-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    root_ = dir_ / "root";
    absl::StatusOr<std::unique_ptr<SnapshotStorage>> storage = OpenStorage(root_.string());
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = *std::move(storage);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path dir_;
  fs::path root_;
  std::unique_ptr<SnapshotStorage> storage_;
};

// ----- File storage -----

TEST_F(SnapshotTest, WriteThenReadRoundTrip) {
  const std::string bytes("state\0with\xffnul", 15);
  absl::StatusOr<proto::StateFile> file = storage_->WriteFile("chk-1/op-0-keyed", bytes);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->path(), "chk-1/op-0-keyed");
  EXPECT_EQ(file->size(), bytes.size());
  EXPECT_EQ(file->crc32(), Crc32(bytes));
  EXPECT_EQ(ReadRaw(root_ / "chk-1" / "op-0-keyed"), bytes);

  absl::StatusOr<std::string> read = storage_->ReadFile("chk-1/op-0-keyed", &*file);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, bytes);
}

TEST_F(SnapshotTest, EmptyFileRoundTrip) {
  absl::StatusOr<proto::StateFile> file = storage_->WriteFile("empty", "");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->size(), 0u);
  EXPECT_EQ(file->crc32(), 0u);
  absl::StatusOr<std::string> read = storage_->ReadFile("empty", &*file);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "");
}

TEST_F(SnapshotTest, Crc32IsZlibs) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);  // The CRC-32 check value.
  EXPECT_EQ(Crc32Extend(Crc32("1234"), "56789"), 0xCBF43926u);
  EXPECT_EQ(Crc32Extend(Crc32("123456789"), std::string_view()), 0xCBF43926u);
  absl::StatusOr<proto::StateFile> file = storage_->WriteFile("check", "123456789");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->crc32(), 0xCBF43926u);
}

TEST_F(SnapshotTest, WriteLeavesNoTemporaryFiles) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(storage_->WriteFile("chk-2/a", "v" + std::to_string(i)).ok());
    ASSERT_TRUE(storage_->WriteFile("chk-2/b", "w").ok());
  }
  EXPECT_EQ(RawList(root_ / "chk-2"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(RawList(root_), (std::vector<std::string>{"chk-2"}));
}

TEST_F(SnapshotTest, WriteReplacesAtomically) {
  ASSERT_TRUE(storage_->WriteFile("x", "old contents").ok());
  // A reader that opened the old file keeps reading the old file: the new one is renamed over it,
  // never truncated in place.
  std::ifstream reader(root_ / "x", std::ios::binary);
  ASSERT_TRUE(storage_->WriteFile("x", "new").ok());
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(reader), {}), "old contents");
  EXPECT_EQ(ReadRaw(root_ / "x"), "new");
  EXPECT_EQ(RawList(root_), (std::vector<std::string>{"x"}));
}

TEST_F(SnapshotTest, FailedWriteRemovesItsTemporaryFile) {
  // The rename fails: the target is a non-empty folder.
  ASSERT_TRUE(storage_->WriteFile("busy/inner", "1").ok());
  absl::StatusOr<proto::StateFile> file = storage_->WriteFile("busy", "2");
  EXPECT_FALSE(file.ok());
  EXPECT_EQ(RawList(root_), (std::vector<std::string>{"busy"}));
  EXPECT_EQ(ReadRaw(root_ / "busy" / "inner"), "1");
}

TEST_F(SnapshotTest, RemoveEmptyFoldersKeepsEveryFileAndTheFoldersAboveThem) {
  ASSERT_TRUE(storage_->WriteFile("chk-1/op/state", "x").ok());
  fs::create_directories(root_ / "shared");
  fs::create_directories(root_ / "chk-2" / "op" / "deeper");
  storage_->RemoveEmptyFolders();
  EXPECT_EQ(RawList(root_), std::vector<std::string>{"chk-1"});
  EXPECT_EQ(*storage_->ReadFile("chk-1/op/state"), "x");
  ASSERT_TRUE(storage_->Delete("chk-1").ok());
  storage_->RemoveEmptyFolders();
  EXPECT_FALSE(fs::exists(root_));                        // nothing retained: the root goes too
  EXPECT_TRUE(storage_->WriteFile("chk-3/f", "y").ok());  // and comes back on the next write
}

TEST_F(SnapshotTest, UnsafePathsAreRejected) {
  for (std::string_view bad :
       std::initializer_list<std::string_view>{"../x", "/abs", "a//b", "a/./b", "", "a/", ".", "..",
                                               "a/..", "./a", std::string_view("a\0b", 3)}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(IsSafeRelativePath(bad));
    EXPECT_EQ(storage_->WriteFile(bad, "x").status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(storage_->ReadFile(bad).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(storage_->Delete(bad).code(), absl::StatusCode::kInvalidArgument);
    if (!bad.empty()) {  // "" lists the root
      EXPECT_EQ(storage_->List(bad).status().code(), absl::StatusCode::kInvalidArgument);
    }
    EXPECT_FALSE(storage_->Exists(bad));
    proto::StateFile file;
    file.set_path(std::string(bad));
    EXPECT_EQ(storage_->DownloadFile(file, (dir_ / "out").string()).code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(Contains(storage_->WriteFile("../escape", "x").status().message(), "'../escape'"));
  EXPECT_FALSE(fs::exists(dir_ / "escape"));
  EXPECT_TRUE(fs::exists(dir_ / "root"));  // Delete("") did not remove the root.
}

TEST_F(SnapshotTest, SafePathsAreAccepted) {
  for (std::string_view good :
       {"a", "chk-7/_metadata", "shared/0a1b.sst", ".hidden", "a..b", "a/...", "x.y/z"}) {
    EXPECT_TRUE(IsSafeRelativePath(good)) << good;
  }
}

TEST_F(SnapshotTest, OpenStorageAcceptsFileUrisAndAbsolutePaths) {
  const fs::path nested = dir_ / "a" / "b";
  absl::StatusOr<std::unique_ptr<SnapshotStorage>> by_uri =
      OpenStorage("file://" + nested.string() + "/");
  ASSERT_TRUE(by_uri.ok()) << by_uri.status();
  EXPECT_EQ((*by_uri)->root(), nested.string());
  EXPECT_TRUE(fs::is_directory(nested));

  absl::StatusOr<std::unique_ptr<SnapshotStorage>> by_path = OpenStorage(nested.string());
  ASSERT_TRUE(by_path.ok()) << by_path.status();
  ASSERT_TRUE((*by_uri)->WriteFile("f", "shared").ok());
  EXPECT_EQ((*by_path)->ReadFile("f").value(), "shared");

  absl::StatusOr<std::unique_ptr<SnapshotStorage>> dotted =
      OpenStorage((dir_ / "a" / "." / "c" / ".." / "b").string());
  ASSERT_TRUE(dotted.ok()) << dotted.status();
  EXPECT_EQ((*dotted)->root(), nested.string());
}

TEST_F(SnapshotTest, OpenStorageRejectsOtherSchemesAndRelativePaths) {
  for (const std::string bad : {"s3://B/checkpoints", "hdfs://nn/x", "relative/path",
                                "file://relative", "file://host/abs", ""}) {
    absl::StatusOr<std::unique_ptr<SnapshotStorage>> storage = OpenStorage(bad);
    EXPECT_EQ(storage.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(Contains(storage.status().message(), "'" + bad + "'"));
  }
}

TEST_F(SnapshotTest, OpenStorageOnAFileFails) {
  WriteRaw(dir_ / "plain", "x");
  EXPECT_EQ(OpenStorage((dir_ / "plain").string()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SnapshotTest, ListDeleteExists) {
  for (const char* path : {"chk-3/y", "chk-3/x", "chk-3/sub/z", "shared/s1"}) {
    ASSERT_TRUE(storage_->WriteFile(path, path).ok()) << path;
  }
  EXPECT_EQ(storage_->List("chk-3").value(), (std::vector<std::string>{"sub", "x", "y"}));
  EXPECT_TRUE(storage_->List("missing").value().empty());
  EXPECT_EQ(storage_->List("").value(), (std::vector<std::string>{"chk-3", "shared"}));  // root
  EXPECT_EQ(storage_->List("chk-3/x").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(storage_->Exists("chk-3"));
  EXPECT_TRUE(storage_->Exists("chk-3/sub/z"));
  EXPECT_FALSE(storage_->Exists("chk-3/w"));

  EXPECT_TRUE(storage_->Delete("chk-3/x").ok());
  EXPECT_FALSE(storage_->Exists("chk-3/x"));
  EXPECT_TRUE(storage_->Delete("chk-3").ok());  // Recursive.
  EXPECT_FALSE(storage_->Exists("chk-3"));
  EXPECT_TRUE(storage_->Delete("chk-3").ok());  // Missing is fine.
  EXPECT_TRUE(storage_->Delete("never/was").ok());
  EXPECT_TRUE(storage_->Exists("shared/s1"));
}

TEST_F(SnapshotTest, ListHidesTemporaryFiles) {
  ASSERT_TRUE(storage_->WriteFile("chk-4/a", "a").ok());
  WriteRaw(root_ / "chk-4" / ".b.tmp-0123456789ab", "half written");
  EXPECT_EQ(storage_->List("chk-4").value(), (std::vector<std::string>{"a"}));
}

TEST_F(SnapshotTest, ReadMissingFileIsNotFound) {
  absl::StatusOr<std::string> read = storage_->ReadFile("chk-1/nothing");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(read.status().message(), (root_ / "chk-1" / "nothing").string()));
}

TEST_F(SnapshotTest, ReadVerifiesSizeAndCrc) {
  absl::StatusOr<proto::StateFile> file = storage_->WriteFile("chk-5/f", "0123456789");
  ASSERT_TRUE(file.ok());
  proto::StateFile wrong_size = *file;
  wrong_size.set_size(11);
  absl::Status status = storage_->ReadFile("chk-5/f", &wrong_size).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status.message(), (root_ / "chk-5" / "f").string()));
  EXPECT_TRUE(Contains(status.message(), "10"));
  EXPECT_TRUE(Contains(status.message(), "11"));

  proto::StateFile wrong_crc = *file;
  wrong_crc.set_crc32(0x12345678);
  status = storage_->ReadFile("chk-5/f", &wrong_crc).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status.message(), "0x12345678"));
  EXPECT_TRUE(Contains(status.message(), absl::StrFormat("0x%08x", file->crc32())));
}

TEST_F(SnapshotTest, UploadAndDownloadRoundTrip) {
  std::string big(3 * 1024 * 1024 + 17, '\0');  // Several copy chunks.
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + i / 7);
  WriteRaw(dir_ / "local.sst", big);

  absl::StatusOr<proto::StateFile> file =
      storage_->UploadFile((dir_ / "local.sst").string(), "shared/000012.sst");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->path(), "shared/000012.sst");
  EXPECT_EQ(file->size(), big.size());
  EXPECT_EQ(file->crc32(), Crc32(big));
  EXPECT_EQ(RawList(root_ / "shared"), (std::vector<std::string>{"000012.sst"}));

  const fs::path restored = dir_ / "restore" / "db" / "000012.sst";
  ASSERT_TRUE(storage_->DownloadFile(*file, restored.string()).ok());
  EXPECT_EQ(ReadRaw(restored), big);
  EXPECT_EQ(RawList(restored.parent_path()), (std::vector<std::string>{"000012.sst"}));
}

TEST_F(SnapshotTest, UploadOfMissingLocalFileIsNotFound) {
  absl::StatusOr<proto::StateFile> file =
      storage_->UploadFile((dir_ / "absent").string(), "shared/x");
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(file.status().message(), (dir_ / "absent").string()));
  EXPECT_FALSE(storage_->Exists("shared/x"));
}

TEST_F(SnapshotTest, DownloadDetectsCorruptionAndLeavesNoFile) {
  absl::StatusOr<proto::StateFile> file = storage_->WriteFile("chk-6/state", "precious bytes");
  ASSERT_TRUE(file.ok());
  WriteRaw(root_ / "chk-6" / "state", "precious bytez");  // Same size, flipped content.
  const fs::path local = dir_ / "dl" / "state";
  absl::Status status = storage_->DownloadFile(*file, local.string());
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_TRUE(Contains(status.message(), "crc32"));
  EXPECT_FALSE(fs::exists(local));
  EXPECT_TRUE(RawList(local.parent_path()).empty());

  WriteRaw(root_ / "chk-6" / "state", "precious");  // Truncated.
  status = storage_->DownloadFile(*file, local.string());
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_TRUE(Contains(status.message(), "size"));
  EXPECT_FALSE(fs::exists(local));
}

TEST_F(SnapshotTest, VerifyChecksExistenceTypeSizeAndCrc) {
  absl::StatusOr<proto::StateFile> file = storage_->WriteFile("chk-3/state", "precious bytes");
  ASSERT_TRUE(file.ok());
  EXPECT_TRUE(storage_->Verify(*file, /*checksum=*/true).ok());
  EXPECT_TRUE(storage_->Verify(*file, /*checksum=*/false).ok());

  WriteRaw(root_ / "chk-3" / "state", "precious bytez");  // Same size, flipped content.
  EXPECT_TRUE(storage_->Verify(*file, /*checksum=*/false).ok()) << "a size check cannot see it";
  absl::Status s = storage_->Verify(*file, /*checksum=*/true);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(Contains(s.message(), "crc32"));
  EXPECT_TRUE(Contains(s.message(), "chk-3/state"));

  WriteRaw(root_ / "chk-3" / "state", "precious");
  s = storage_->Verify(*file, /*checksum=*/false);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(Contains(s.message(), "size"));

  fs::remove(root_ / "chk-3" / "state");
  s = storage_->Verify(*file, /*checksum=*/false);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(Contains(s.message(), "missing"));
}

// Regression (fault probe, gap 5): a savepoint's state file replaced by a symbolic link to an
// intact copy was accepted; reads followed it anywhere on the machine.
TEST_F(SnapshotTest, SymbolicLinksAreRefusedByVerifyAndReads) {
  absl::StatusOr<proto::StateFile> file = storage_->WriteFile("chk-4/state", "precious bytes");
  ASSERT_TRUE(file.ok());
  WriteRaw(dir_ / "elsewhere", "precious bytes");
  fs::remove(root_ / "chk-4" / "state");
  fs::create_symlink(dir_ / "elsewhere", root_ / "chk-4" / "state");
  absl::Status s = storage_->Verify(*file, /*checksum=*/true);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(Contains(s.message(), "symbolic link"));
  absl::StatusOr<std::string> read = storage_->ReadFile("chk-4/state", &*file);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kDataLoss) << read.status();
  absl::Status dl = storage_->DownloadFile(*file, (dir_ / "dl").string());
  EXPECT_EQ(dl.code(), absl::StatusCode::kDataLoss) << dl;
}

TEST_F(SnapshotTest, VerifySnapshotFilesNamesTheFirstDamagedFileAndCountsTheRest) {
  proto::CheckpointMetadata md;
  auto add = [&](const std::string& path, const std::string& bytes) {
    absl::StatusOr<proto::StateFile> f = storage_->WriteFile(path, bytes);
    EXPECT_TRUE(f.ok());
    proto::OperatorSubtaskState* st = md.add_operators()->add_subtasks();
    *st->add_keyed()->mutable_key_groups()->mutable_file() = *f;
    // A shared file named twice is checked once.
    proto::RocksDbFile* shared = st->add_keyed()->mutable_rocksdb()->add_shared_files();
    *shared->mutable_file() = *f;
  };
  add("chk-5/a", "aaaa");
  add("chk-5/b", "bbbb");
  add("chk-5/c", "cccc");
  EXPECT_EQ(SnapshotFiles(md).size(), 3u);
  EXPECT_TRUE(VerifySnapshotFiles(*storage_, md, true).ok());
  WriteRaw(root_ / "chk-5" / "b", "bbbx");
  EXPECT_TRUE(VerifySnapshotFiles(*storage_, md, false).ok());
  absl::Status s = VerifySnapshotFiles(*storage_, md, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(Contains(s.message(), "chk-5/b"));
  EXPECT_TRUE(IsDamage(s));
  fs::remove(root_ / "chk-5" / "c");
  s = VerifySnapshotFiles(*storage_, md, true);
  EXPECT_TRUE(Contains(s.message(), "chk-5/b")) << s;
  EXPECT_TRUE(Contains(s.message(), "1 more damaged file")) << s;
}

TEST_F(SnapshotTest, ConcurrentWritersShareNewFolders) {
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20 && results[t].ok(); ++i) {
        const std::string path = absl::StrCat("chk-", i, "/task-", t);
        results[t] = storage_->WriteFile(path, path).status();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(storage_->List("chk-19").value().size(), 8u);
  EXPECT_EQ(storage_->ReadFile("chk-7/task-3").value(), "chk-7/task-3");
}

// ----- Metadata -----

proto::CheckpointMetadata SampleMetadata() {
  proto::CheckpointMetadata metadata;
  metadata.set_job_id("0123456789abcdef0123456789abcdef");
  metadata.set_job_name("word count");
  metadata.set_checkpoint_id(42);
  metadata.set_kind("checkpoint");
  metadata.set_timestamp_ms(1'700'000'000'000);
  metadata.set_state_backend("hashmap");
  proto::OperatorSnapshot* op = metadata.add_operators();
  op->set_node_id(3);
  op->set_uid("counter");
  op->set_parallelism(2);
  op->set_max_parallelism(128);
  proto::OperatorSubtaskState* subtask = op->add_subtasks();
  subtask->set_subtask_index(1);
  proto::KeyGroupsStateHandle* keyed = subtask->add_keyed()->mutable_key_groups();
  keyed->mutable_range()->set_start(64);
  keyed->mutable_range()->set_end(127);
  keyed->mutable_file()->set_path("chk-42/counter-1-keyed");
  keyed->mutable_file()->set_size(1234);
  proto::OperatorStateList* list = subtask->add_operator_state();
  list->set_name("offsets");
  list->add_items(std::string("\0\1\2", 3));
  return metadata;
}

class MetadataTest : public SnapshotTest {
 protected:
  void SetUp() override {
    SnapshotTest::SetUp();
    path_ = MetadataPath(42);
    ASSERT_TRUE(WriteMetadata(*storage_, path_, SampleMetadata()).ok());
    bytes_ = ReadRaw(root_ / path_);
  }

  absl::Status ReadAfterReplacingFile(std::string_view bytes) {
    WriteRaw(root_ / path_, bytes);
    return ReadMetadata(*storage_, path_).status();
  }

  std::string path_;
  std::string bytes_;  // The file as written.
};

TEST(MetadataNamesTest, FolderAndFileNames) {
  EXPECT_EQ(CheckpointFolder(7), "chk-7");
  EXPECT_EQ(CheckpointFolder(1234567890123), "chk-1234567890123");
  EXPECT_STREQ(kMetadataFileName, "_metadata");
  EXPECT_EQ(MetadataPath(7), "chk-7/_metadata");
  EXPECT_STREQ(kSharedFolder, "shared");
}

TEST_F(MetadataTest, RoundTrip) {
  absl::StatusOr<proto::CheckpointMetadata> read = ReadMetadata(*storage_, path_);
  ASSERT_TRUE(read.ok()) << read.status();
  proto::CheckpointMetadata expected = SampleMetadata();
  expected.set_format_version(kMetadataFormatVersion);
  EXPECT_EQ(read->DebugString(), expected.DebugString());
  EXPECT_EQ(RawList(root_ / "chk-42"), (std::vector<std::string>{"_metadata"}));
}

TEST_F(MetadataTest, HeaderLayout) {
  ASSERT_GE(bytes_.size(), 24u);
  EXPECT_EQ(bytes_.substr(0, 8), "SLUICEMD");
  EXPECT_EQ(bytes_.substr(8, 4), std::string("\1\0\0\0", 4));
  const std::string payload = bytes_.substr(24);
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = length << 8 | static_cast<uint8_t>(bytes_[12 + i]);
  EXPECT_EQ(length, payload.size());
  uint32_t crc = 0;
  for (int i = 3; i >= 0; --i) crc = crc << 8 | static_cast<uint8_t>(bytes_[20 + i]);
  EXPECT_EQ(crc, Crc32(payload));
}

TEST_F(MetadataTest, MissingFileIsNotFound) {
  absl::Status status = ReadMetadata(*storage_, "chk-9/_metadata").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "no checkpoint metadata at " + (root_ / "chk-9/_metadata").string());
}

TEST_F(MetadataTest, FlippedPayloadByteIsDataLoss) {
  std::string bytes = bytes_;
  bytes[bytes.size() - 3] ^= 0x20;
  absl::Status status = ReadAfterReplacingFile(bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status.message(), (root_ / path_).string()));
  EXPECT_TRUE(Contains(status.message(), "crc32"));
}

TEST_F(MetadataTest, TruncatedFileIsDataLoss) {
  absl::Status status = ReadAfterReplacingFile(bytes_.substr(0, bytes_.size() - 1));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status.message(), "truncated"));
  status = ReadAfterReplacingFile(bytes_.substr(0, 10));
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status.message(), "truncated"));
  EXPECT_EQ(ReadAfterReplacingFile("").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ReadAfterReplacingFile(bytes_ + "x").code(), absl::StatusCode::kDataLoss);
}

TEST_F(MetadataTest, BadMagicIsDataLoss) {
  std::string bytes = bytes_;
  bytes[0] = 'X';
  absl::Status status = ReadAfterReplacingFile(bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status.message(), "magic"));
  EXPECT_EQ(ReadAfterReplacingFile("{\"json\": true}").code(), absl::StatusCode::kDataLoss);
}

TEST_F(MetadataTest, OtherFormatVersionIsFailedPrecondition) {
  std::string bytes = bytes_;
  bytes[8] = 2;
  absl::Status status = ReadAfterReplacingFile(bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(status.message(), "written by format version 2; this build reads 1"));
  // A newer format may change the rest of the header: the version is checked first.
  EXPECT_EQ(ReadAfterReplacingFile(bytes.substr(0, 12)).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(MetadataTest, UnparsablePayloadIsDataLoss) {
  const std::string payload = "\xff\xff\xff\xff";  // A truncated varint tag.
  std::string bytes = bytes_.substr(0, 12);
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(i == 0 ? payload.size() : 0));
  const uint32_t crc = Crc32(payload);
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(crc >> (8 * i)));
  bytes += payload;
  absl::Status status = ReadAfterReplacingFile(bytes);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status.message(), "not a CheckpointMetadata"));
}

TEST_F(MetadataTest, NoDamageGoesUnnoticed) {
  // Every truncation and every single flipped byte is reported, never a crash or a wrong result.
  for (size_t size = 0; size < bytes_.size(); ++size) {
    EXPECT_FALSE(ReadAfterReplacingFile(bytes_.substr(0, size)).ok()) << size;
  }
  for (size_t i = 0; i < bytes_.size(); ++i) {
    std::string bytes = bytes_;
    bytes[i] ^= 0x01;
    absl::Status status = ReadAfterReplacingFile(bytes);
    EXPECT_TRUE(status.code() == absl::StatusCode::kDataLoss ||
                status.code() == absl::StatusCode::kFailedPrecondition)
        << i << ": " << status;
  }
}

// ----- Key-groups format -----

proto::KeyGroupRange Range(int start, int end) {
  proto::KeyGroupRange range;
  range.set_start(start);
  range.set_end(end);
  return range;
}

using Entry = std::tuple<int, std::string, std::string, std::string, std::string>;

absl::StatusOr<std::vector<Entry>> ReadEntries(std::string_view file,
                                               const proto::KeyGroupsStateHandle& handle,
                                               proto::KeyGroupRange wanted) {
  std::vector<Entry> entries;
  absl::Status status =
      ForEachEntry(file, handle, wanted,
                   [&](int key_group, const std::string& state, std::string_view key,
                       std::string_view user_key, std::string_view value) {
                     entries.emplace_back(key_group, state, key, user_key, value);
                   });
  if (!status.ok()) return status;
  return entries;
}

class KeyGroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KeyGroupsFileBuilder builder(Range(10, 13));
    builder.Add(12, "count", "k12", "", "v1");
    builder.Add(10, "window-contents", "k10", "uk", std::string("\0v", 2));
    builder.Add(13, "count", "", "", "");
    builder.Add(10, "count", "k10", "", "v3");
    EXPECT_EQ(builder.entries(), 4u);
    handle_.mutable_file()->set_path("chk-1/op-0-keyed");
    file_ = builder.Finish(&handle_);
    EXPECT_EQ(builder.entries(), 0u);
  }

  proto::KeyGroupsStateHandle handle_;
  std::string file_;
};

TEST_F(KeyGroupsTest, RoundTripWithEntriesAddedOutOfOrder) {
  EXPECT_EQ(handle_.range().start(), 10);
  EXPECT_EQ(handle_.range().end(), 13);
  EXPECT_EQ(handle_.file().path(), "chk-1/op-0-keyed");  // Finish leaves `file` alone.
  ASSERT_EQ(handle_.offsets_size(), 4);
  EXPECT_EQ(handle_.offsets(0), 0u);
  EXPECT_EQ(handle_.offsets(1), handle_.offsets(2));  // Key group 11 is empty.
  EXPECT_EQ(std::vector<std::string>(handle_.state_names().begin(), handle_.state_names().end()),
            (std::vector<std::string>{"count", "window-contents"}));

  absl::StatusOr<std::vector<Entry>> entries = ReadEntries(file_, handle_, Range(0, 1000));
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(*entries, (std::vector<Entry>{
                          {10, "window-contents", "k10", "uk", std::string("\0v", 2)},
                          {10, "count", "k10", "", "v3"},
                          {12, "count", "k12", "", "v1"},
                          {13, "count", "", "", ""},
                      }));
}

TEST_F(KeyGroupsTest, VisitsOnlyTheIntersectionWithTheWantedRange) {
  auto key_groups = [&](proto::KeyGroupRange wanted) {
    std::vector<int> seen;
    absl::StatusOr<std::vector<Entry>> entries = ReadEntries(file_, handle_, wanted);
    EXPECT_TRUE(entries.ok()) << entries.status();
    for (const Entry& entry : entries.value_or(std::vector<Entry>{})) {
      seen.push_back(std::get<0>(entry));
    }
    return seen;
  };
  EXPECT_EQ(key_groups(Range(11, 20)), (std::vector<int>{12, 13}));
  EXPECT_EQ(key_groups(Range(12, 12)), (std::vector<int>{12}));
  EXPECT_EQ(key_groups(Range(0, 10)), (std::vector<int>{10, 10}));
  EXPECT_TRUE(key_groups(Range(0, 9)).empty());
  EXPECT_TRUE(key_groups(Range(14, 127)).empty());
  EXPECT_TRUE(key_groups(Range(0, -1)).empty());
}

TEST(KeyGroupsBuilderTest, RejectsKeyGroupsOutsideTheRange) {
  KeyGroupsFileBuilder builder(Range(4, 7));
  EXPECT_THROW(builder.Add(3, "s", "k", "", "v"), std::out_of_range);
  EXPECT_THROW(builder.Add(8, "s", "k", "", "v"), std::out_of_range);
  EXPECT_EQ(builder.entries(), 0u);
  EXPECT_THROW(KeyGroupsFileBuilder(Range(-1, 3)), std::invalid_argument);
}

TEST(KeyGroupsBuilderTest, EmptyBuilderAndEmptyRange) {
  KeyGroupsFileBuilder builder(Range(0, 3));
  proto::KeyGroupsStateHandle handle;
  EXPECT_EQ(builder.Finish(&handle), "");
  EXPECT_EQ(handle.offsets_size(), 4);
  EXPECT_TRUE(ReadEntries("", handle, Range(0, 3)).value().empty());

  KeyGroupsFileBuilder none(Range(0, -1));
  EXPECT_THROW(none.Add(0, "s", "k", "", "v"), std::out_of_range);
  proto::KeyGroupsStateHandle empty;
  EXPECT_EQ(none.Finish(&empty), "");
  EXPECT_EQ(empty.offsets_size(), 0);
  EXPECT_TRUE(ReadEntries("", empty, Range(0, 127)).value().empty());
}

TEST_F(KeyGroupsTest, BadOffsetsAreDataLoss) {
  auto expect_data_loss = [&](const proto::KeyGroupsStateHandle& handle, std::string_view what) {
    absl::Status status = ReadEntries(file_, handle, Range(0, 100)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << what;
    EXPECT_TRUE(Contains(status.message(), what));
    EXPECT_TRUE(Contains(status.message(), "chk-1/op-0-keyed"));
  };
  proto::KeyGroupsStateHandle handle = handle_;
  handle.add_offsets(file_.size());
  expect_data_loss(handle, "5 offsets for the 4 key groups of [10, 13]");

  handle = handle_;
  handle.set_offsets(3, file_.size() + 1);
  expect_data_loss(handle, "past the end");

  handle = handle_;
  handle.set_offsets(1, handle.offsets(3));
  expect_data_loss(handle, "before key group 11");

  handle = handle_;
  handle.mutable_range()->set_start(-5);
  expect_data_loss(handle, "negative key group range");
}

TEST_F(KeyGroupsTest, TruncatedEntryIsDataLoss) {
  // Cut into key group 13's entry (the last one): its value length runs past the end.
  const std::string cut = file_.substr(0, file_.size() - 1);
  absl::Status status = ReadEntries(cut, handle_, Range(13, 13)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status.message(), "key group 13"));
  EXPECT_TRUE(Contains(status.message(), "value runs past"));

  // An entry length pointing far beyond the file (0xffffffff) is caught, not read.
  std::string huge = file_;
  const size_t key_length_at = handle_.offsets(2) + 2;  // Key group 12: after the state index.
  for (int i = 0; i < 4; ++i) huge[key_length_at + i] = '\xff';
  status = ReadEntries(huge, handle_, Range(12, 12)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status.message(), "key runs past"));
}

TEST_F(KeyGroupsTest, BadStateIndexIsDataLoss) {
  std::string bad = file_;
  bad[handle_.offsets(2)] = 7;  // Key group 12's first entry: state index 7 of 2.
  absl::Status status = ReadEntries(bad, handle_, Range(10, 13)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(Contains(status.message(), "state index 7, but the file has 2 states"));
  EXPECT_TRUE(
      Contains(status.message(), absl::StrCat("key group 12, entry at byte ", handle_.offsets(2))));
}

TEST_F(KeyGroupsTest, NothingIsVisitedWhenALaterKeyGroupIsDamaged) {
  std::string bad = file_;
  bad[handle_.offsets(3)] = 9;  // Key group 13.
  int visited = 0;
  absl::Status status = ForEachEntry(bad, handle_, Range(10, 13),
                                     [&](int, const std::string&, std::string_view,
                                         std::string_view, std::string_view) { ++visited; });
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(visited, 0);
}

TEST_F(KeyGroupsTest, NoInputCrashes) {
  // Every truncation and flipped byte gives OK or DataLoss; under ASan this also shows that
  // nothing is read out of bounds.
  for (size_t size = 0; size <= file_.size(); ++size) {
    absl::Status status = ReadEntries(file_.substr(0, size), handle_, Range(10, 13)).status();
    EXPECT_TRUE(status.ok() || status.code() == absl::StatusCode::kDataLoss) << status;
  }
  for (size_t i = 0; i < file_.size(); ++i) {
    for (char flip : {'\x01', '\x80', '\xff'}) {
      std::string bytes = file_;
      bytes[i] ^= flip;
      absl::Status status = ReadEntries(bytes, handle_, Range(10, 13)).status();
      EXPECT_TRUE(status.ok() || status.code() == absl::StatusCode::kDataLoss) << status;
    }
  }
}

// ----- Reading only the wanted key groups -----

//! A key-groups file of [0, 7], two entries per key group, stored in a real file storage.
class ReadKeyGroupsTest : public SnapshotTest {
 protected:
  void SetUp() override {
    SnapshotTest::SetUp();
    KeyGroupsFileBuilder builder(Range(0, 7));
    for (int kg = 0; kg <= 7; ++kg) {
      builder.Add(kg, "a", absl::StrCat("k", kg), "", std::string(100 + kg, 'v'));
      builder.Add(kg, "b", absl::StrCat("j", kg), "u", "w");
    }
    bytes_ = builder.Finish(&handle_);
    absl::StatusOr<proto::StateFile> file = storage_->WriteFile("chk-1/op-keyed", bytes_);
    ASSERT_TRUE(file.ok()) << file.status();
    *handle_.mutable_file() = *file;
  }
  //! The entries of `wanted` through ReadKeyGroups, and how many bytes it read.
  absl::StatusOr<std::vector<Entry>> Read(proto::KeyGroupRange wanted, size_t* read = nullptr) {
    proto::KeyGroupsStateHandle part;
    absl::StatusOr<std::string> bytes = ReadKeyGroups(*storage_, handle_, wanted, &part);
    if (!bytes.ok()) return bytes.status();
    if (read != nullptr) *read = bytes->size();
    return ReadEntries(*bytes, part, wanted);
  }
  //! Flips a byte of the stored file at `at`, keeping its size.
  void Damage(uint64_t at) {
    std::string bad = bytes_;
    bad[at] ^= 0x20;
    std::ofstream(root_ / "chk-1/op-keyed", std::ios::binary | std::ios::trunc) << bad;
  }

  proto::KeyGroupsStateHandle handle_;
  std::string bytes_;
};

TEST_F(ReadKeyGroupsTest, OnlyTheWantedKeyGroupsAreReadAndTheyAreTheWholeFilesEntries) {
  ASSERT_EQ(handle_.crc32s_size(), 8);
  const std::vector<std::pair<int, int>> ranges = {{0, 7}, {0, 2}, {3, 5}, {5, 7}, {4, 4}, {6, 20}};
  for (const auto& [start, end] : ranges) {
    size_t read = 0;
    absl::StatusOr<std::vector<Entry>> got = Read(Range(start, end), &read);
    ASSERT_TRUE(got.ok()) << got.status();
    absl::StatusOr<std::vector<Entry>> want = ReadEntries(bytes_, handle_, Range(start, end));
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(*got, *want) << start << ".." << end;
    const int last = std::min(end, 7);
    const uint64_t to = last == 7 ? bytes_.size() : handle_.offsets(last + 1);
    EXPECT_EQ(read, to - handle_.offsets(start)) << start << ".." << end;
  }
}

TEST_F(ReadKeyGroupsTest, ADamagedWantedKeyGroupIsDataLossNamingItAndOthersAreNotRead) {
  Damage(handle_.offsets(4) + 12);  // in key group 4's first key
  absl::Status status = Read(Range(3, 5)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_TRUE(Contains(status.message(), "key group 4")) << status;
  EXPECT_TRUE(Contains(status.message(), "op-keyed")) << status;
  // Key groups 0..2 are read and checked without it.
  absl::StatusOr<std::vector<Entry>> first = Read(Range(0, 2));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->size(), 6u);
  // The whole file is checked against its crc32.
  EXPECT_EQ(Read(Range(0, 7)).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ReadKeyGroupsTest, AFileOfAnotherSizeIsDataLoss) {
  std::ofstream(root_ / "chk-1/op-keyed", std::ios::binary | std::ios::app) << "x";
  absl::Status status = Read(Range(3, 5)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_TRUE(Contains(status.message(), "size")) << status;
}

TEST_F(ReadKeyGroupsTest, AHandleWithoutChecksumsIsReadWholeAndCheckedByItsCrc) {
  handle_.clear_crc32s();  // as written before the checksums
  size_t read = 0;
  absl::StatusOr<std::vector<Entry>> got = Read(Range(3, 5), &read);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 6u);
  EXPECT_EQ(read, bytes_.size());
  Damage(handle_.offsets(0) + 12);  // outside the wanted key groups: the file's crc32 sees it
  EXPECT_EQ(Read(Range(3, 5)).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ReadKeyGroupsTest, ChecksumsThatDoNotFitTheOffsetsAreDataLoss) {
  handle_.mutable_crc32s()->RemoveLast();
  absl::Status status = Read(Range(3, 5)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_TRUE(Contains(status.message(), "7 checksums for 8 key groups")) << status;
}

}  // namespace
}  // namespace sluice::snapshot
