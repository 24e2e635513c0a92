// S3 snapshot storage (common/snapshot/s3_storage.cc) against a real S3-compatible server that
// checks signatures: OpenStack Swift with its s3api middleware (tests/s3_server.h). Files written,
// uploaded in parallel parts, read, downloaded, verified, listed as folders and deleted; a wrong
// secret key, a missing bucket, a damaged object and a server that stops and comes back.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/snapshot/crc32.h"
#include "common/snapshot/s3_client.h"
#include "common/snapshot/storage.h"
#include "gtest/gtest.h"
#include "tests/s3_server.h"

namespace sluice::snapshot {
namespace {

namespace fs = std::filesystem;
using sluice::testing::S3Server;

class S3StorageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new S3Server();
    std::string error;
    if (!server_->Start(&error) || !server_->CreateBucket("snapshots", &error)) {
      start_error_ = new std::string(error);
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    dir_ = fs::temp_directory_path() /
           absl::StrCat("s3-storage-test-", ::getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static S3Options Options() {
    S3Options o;
    o.endpoint = server_->endpoint();
    o.region = server_->region();
    o.access_key = server_->access_key();
    o.secret_key = server_->secret_key();
    o.path_style = true;
    o.part_size = 5 << 20;  // S3's smallest part: a 12 MiB file goes up in three
    o.max_retries = 2;
    o.initial_backoff = std::chrono::milliseconds(50);
    return o;
  }

  std::unique_ptr<SnapshotStorage> Open(const std::string& prefix, S3Options o = Options()) {
    auto s = OpenS3Storage(absl::StrCat("s3://snapshots/", prefix), o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  std::string WriteLocal(const std::string& name, size_t size) {
    std::string bytes(size, '\0');
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  static S3Server* server_;
  static std::string* start_error_;
  fs::path dir_;
};

S3Server* S3StorageTest::server_ = nullptr;
std::string* S3StorageTest::start_error_ = nullptr;

TEST_F(S3StorageTest, WritesReadsAndVerifiesFiles) {
  auto storage = Open("job-a");
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->root(), "s3://snapshots/job-a");
  absl::StatusOr<proto::StateFile> written = storage->WriteFile("chk-1/_metadata", "metadata!");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->size(), 9u);
  absl::StatusOr<std::string> read = storage->ReadFile("chk-1/_metadata", &*written);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, "metadata!");
  EXPECT_TRUE(storage->Verify(*written, /*checksum=*/true).ok());
  EXPECT_TRUE(storage->Verify(*written, /*checksum=*/false).ok());

  proto::StateFile wrong = *written;
  wrong.set_crc32(written->crc32() ^ 1);
  EXPECT_EQ(storage->ReadFile("chk-1/_metadata", &wrong).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(storage->Verify(wrong, /*checksum=*/true).code(), absl::StatusCode::kDataLoss);
  wrong.set_size(written->size() + 1);
  absl::Status size = storage->Verify(wrong, /*checksum=*/false);
  EXPECT_EQ(size.code(), absl::StatusCode::kDataLoss) << size;
  EXPECT_NE(size.message().find("s3://snapshots/job-a/chk-1/_metadata"), std::string::npos) << size;

  // A range: the whole object is read and checked, then cut (a restore's key groups).
  absl::StatusOr<std::string> part = storage->ReadFileRange(*written, 2, 4);
  ASSERT_TRUE(part.ok()) << part.status();
  EXPECT_EQ(*part, "tada");
  EXPECT_EQ(storage->ReadFileRange(*written, 8, 2).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(storage->ReadFileRange(wrong, 2, 4).status().code(), absl::StatusCode::kDataLoss);

  absl::Status missing = storage->ReadFile("chk-9/_metadata").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_EQ(missing.message(), "s3://snapshots/job-a/chk-9/_metadata is missing");
  EXPECT_EQ(storage->WriteFile("../escape", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(S3StorageTest, LargeFilesGoUpInParallelPartsAndComeBackWhole) {
  auto storage = Open("job-b");
  ASSERT_NE(storage, nullptr);
  const std::string local = WriteLocal("big.sst", (12 << 20) + 12345);
  absl::StatusOr<proto::StateFile> up = storage->UploadFile(local, "shared/big.sst");
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->size(), (12u << 20) + 12345u);
  // The crc32 combined from the parts is the whole file's.
  std::ifstream in(local, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(up->crc32(), Crc32(bytes));

  const std::string back = (dir_ / "back.sst").string();
  ASSERT_TRUE(storage->DownloadFile(*up, back).ok());
  std::ifstream got(back, std::ios::binary);
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), std::istreambuf_iterator<char>(got)));
  EXPECT_TRUE(storage->Verify(*up, /*checksum=*/true).ok());

  const std::string small = WriteLocal("small.sst", 1000);
  absl::StatusOr<proto::StateFile> one = storage->UploadFile(small, "shared/small.sst");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->size(), 1000u);
}

TEST_F(S3StorageTest, FoldersAreListedAndDeletedWithEverythingInThem) {
  auto storage = Open("deep/job-c");
  ASSERT_NE(storage, nullptr);
  for (const char* path : {"chk-1/_metadata", "chk-1/op/state", "chk-2/_metadata", "shared/x"}) {
    ASSERT_TRUE(storage->WriteFile(path, path).ok());
  }
  auto top = storage->List("");
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(*top, (std::vector<std::string>{"chk-1", "chk-2", "shared"}));
  auto chk1 = storage->List("chk-1");
  ASSERT_TRUE(chk1.ok());
  EXPECT_EQ(*chk1, (std::vector<std::string>{"_metadata", "op"}));
  EXPECT_TRUE(storage->Exists("chk-1"));
  EXPECT_TRUE(storage->Exists("chk-1/_metadata"));
  EXPECT_FALSE(storage->Exists("chk-3"));

  ASSERT_TRUE(storage->Delete("chk-1").ok());
  EXPECT_FALSE(storage->Exists("chk-1"));
  EXPECT_FALSE(storage->Exists("chk-1/op/state"));
  EXPECT_TRUE(storage->Delete("chk-1").ok()) << "deleting what is gone is fine";
  top = storage->List("");
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(*top, (std::vector<std::string>{"chk-2", "shared"}));
  EXPECT_EQ(*storage->List("nothing-here"), std::vector<std::string>{});

  // A sibling prefix that merely starts with the same letters is not inside the root.
  auto sibling = Open("deep/job-c2");
  ASSERT_TRUE(sibling->WriteFile("chk-1/_metadata", "other").ok());
  EXPECT_EQ(*storage->List(""), (std::vector<std::string>{"chk-2", "shared"}));
}

TEST_F(S3StorageTest, ManyObjectsAreListedAcrossPages) {
  S3Options o = Options();
  o.list_page_size = 7;  // as 1,000 would, with fewer objects to write
  auto storage = Open("many", o);
  ASSERT_NE(storage, nullptr);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(storage->WriteFile(absl::StrCat("shared/f", 100 + i), "x").ok());
  }
  ASSERT_TRUE(storage->WriteFile("shared/sub/deeper", "x").ok());
  auto listed = storage->List("shared");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 41u);
  EXPECT_EQ(listed->front(), "f100");
  EXPECT_EQ(listed->back(), "sub");
  ASSERT_TRUE(storage->Delete("shared").ok());
  EXPECT_EQ(storage->List("shared")->size(), 0u);
}

TEST_F(S3StorageTest, AWrongSecretKeyIsAClearError) {
  S3Options o = Options();
  o.secret_key = "not-the-secret";
  auto storage = Open("job-d", o);
  ASSERT_NE(storage, nullptr);
  absl::Status s = storage->WriteFile("chk-1/_metadata", "x").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_NE(s.message().find("SignatureDoesNotMatch"), std::string::npos) << s;
  EXPECT_NE(s.message().find("s3.secret-key"), std::string::npos) << s;
  EXPECT_NE(s.message().find("s3://snapshots/job-d/chk-1/_metadata"), std::string::npos) << s;
}

TEST_F(S3StorageTest, AMissingBucketIsNamed) {
  S3Client client(Options());
  absl::Status s = client.CheckBucket("no-such-bucket");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_NE(s.message().find("bucket 'no-such-bucket' does not exist"), std::string::npos) << s;
  EXPECT_TRUE(client.CheckBucket("snapshots").ok());
  auto storage = OpenS3Storage("s3://no-such-bucket/x", Options());
  ASSERT_TRUE(storage.ok());
  EXPECT_EQ((*storage)->List("").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(S3StorageTest, RequestsRetryWhileTheServerIsDownAndFailWhenItStaysDown) {
  auto storage = Open("job-e");
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->WriteFile("before", "1").ok());
  server_->Stop();
  absl::Status down = storage->WriteFile("during", "2").status();
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable) << down;
  EXPECT_NE(down.message().find(server_->endpoint()), std::string::npos) << down;
  EXPECT_NE(down.message().find("attempts"), std::string::npos) << down;

  // Back while a request is retrying: it succeeds.
  S3Options patient = Options();
  patient.max_retries = 40;
  patient.initial_backoff = std::chrono::milliseconds(100);
  patient.max_backoff = std::chrono::milliseconds(500);
  auto waiting = Open("job-e", patient);
  absl::StatusOr<proto::StateFile> after = absl::UnknownError("not run");
  std::thread writer([&] { after = waiting->WriteFile("after", "3"); });
  // From this thread: the server dies with the thread that starts it.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::string error;
  EXPECT_TRUE(server_->Restart(&error)) << error;
  writer.join();
  EXPECT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*storage->ReadFile("before"), "1") << "the server kept its objects";
}

}  // namespace
}  // namespace sluice::snapshot

namespace sluice::snapshot {
namespace {

TEST(S3UriTest, BadUrisAreRefused) {
  for (const char* bad : {"s3://", "s3://UPPER/x", "s3://ab/x", "s3://bucket//x",
                          "s3://bucket/a//b", "s3://bucket/a/../b"}) {
    EXPECT_EQ(OpenS3Storage(bad, S3Options{}).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  auto parsed = ParseS3Uri("s3://bucket/a/b/");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->bucket, "bucket");
  EXPECT_EQ(parsed->prefix, "a/b");
}

// Flink's s3.* keys, and the AWS environment variables where a key is left empty.
TEST(S3OptionsTest, KeysWinOverTheEnvironmentWhichFillsTheRest) {
  ::setenv("AWS_ACCESS_KEY_ID", "env-key", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "env-secret", 1);
  ::setenv("AWS_REGION", "eu-west-3", 1);
  ::setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9/", 1);
  absl::StatusOr<S3Options> from_env = S3OptionsFromConfig(config::Configuration());
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ(from_env->access_key, "env-key");
  EXPECT_EQ(from_env->secret_key, "env-secret");
  EXPECT_EQ(from_env->region, "eu-west-3");
  EXPECT_EQ(from_env->endpoint, "http://127.0.0.1:9");
  EXPECT_FALSE(from_env->path_style);
  EXPECT_EQ(from_env->part_size, 16u << 20);

  auto config =
      config::Configuration::Load("", {"s3.access-key=k", "s3.secret-key=s", "s3.region=ap-south-1",
                                       "s3.endpoint=https://s3.example.com",
                                       "s3.path.style.access=true", "s3.upload.min.part.size=8mb",
                                       "s3.upload.max.concurrent.uploads=7", "s3.max-retries=2"});
  ASSERT_TRUE(config.ok()) << config.status();
  absl::StatusOr<S3Options> keys = S3OptionsFromConfig(*config);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->access_key, "k");
  EXPECT_EQ(keys->secret_key, "s");
  EXPECT_EQ(keys->region, "ap-south-1");
  EXPECT_EQ(keys->endpoint, "https://s3.example.com");
  EXPECT_TRUE(keys->path_style);
  EXPECT_EQ(keys->part_size, 8u << 20);
  EXPECT_EQ(keys->max_concurrent_uploads, 7);
  EXPECT_EQ(keys->max_retries, 2);
  // The spelling of Flink's S3 file systems (s3.* mirrored to fs.s3a.*) names the region too.
  auto alias = config::Configuration::Load("", {"s3.endpoint.region=sa-east-1"});
  ASSERT_TRUE(alias.ok()) << alias.status();
  EXPECT_EQ(S3OptionsFromConfig(*alias)->region, "sa-east-1");
  for (const char* name :
       {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL"}) {
    ::unsetenv(name);
  }
}

TEST(S3OptionsTest, BadValuesNameTheKey) {
  auto endpoint = config::Configuration::Load("", {"s3.endpoint=ftp://host"});
  ASSERT_TRUE(endpoint.ok());
  absl::StatusOr<S3Options> bad = S3OptionsFromConfig(*endpoint);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("s3.endpoint"), std::string::npos) << bad.status();
  // Parts below S3's minimum of 5 MiB are refused where the configuration is read.
  auto small = config::Configuration::Load("", {"s3.upload.min.part.size=1mb"});
  EXPECT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("s3.upload.min.part.size"), std::string::npos)
      << small.status();
}

}  // namespace
}  // namespace sluice::snapshot
