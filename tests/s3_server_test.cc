// The S3 test server (tests/s3_server.h, scripts/s3.sh): real SigV4 checks, objects, multipart
// uploads, ListObjectsV2 and a stop and restart keeping the data. One server for the whole suite:
// Swift takes seconds to start.
#include "tests/s3_server.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

namespace sluice::testing {
namespace {

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

//! The text of every <tag>...</tag> in `xml`, in order.
std::vector<std::string> Tags(const std::string& xml, const std::string& tag) {
  // Found by hand: std::regex trips GCC 12's -Wmaybe-uninitialized in the ASan build.
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">";
  const std::string close = "</" + tag + ">";
  for (size_t at = xml.find(open); at != std::string::npos; at = xml.find(open, at)) {
    at += open.size();
    const size_t end = xml.find(close, at);
    if (end == std::string::npos) break;
    out.push_back(xml.substr(at, end - at));
    at = end + close.size();
  }
  return out;
}

class S3ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<S3Server>();
    std::string error;
    if (!server_->Start(&error)) {
      start_error_ = error;
      server_.reset();
    }
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the S3 server did not start: " << start_error_;
  }

  //! A bucket of its own for each test.
  std::string NewBucket(const std::string& name) {
    std::string error;
    EXPECT_TRUE(server_->CreateBucket(name, &error)) << error;
    return name;
  }

  static std::unique_ptr<S3Server> server_;
  static std::string start_error_;
};

std::unique_ptr<S3Server> S3ServerTest::server_;
std::string S3ServerTest::start_error_;

TEST_F(S3ServerTest, BucketIsCreated) {
  EXPECT_EQ(server_->region(), "us-east-1");
  EXPECT_EQ(server_->endpoint(), "http://127.0.0.1:" + std::to_string(server_->port()));
  const std::string bucket = NewBucket("created-bucket");
  EXPECT_EQ(server_->Request("HEAD", "/" + bucket).status, 200);
  const S3Server::Response list = server_->Request("GET", "/");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_NE(list.body.find("<Name>created-bucket</Name>"), std::string::npos) << list.body;
  EXPECT_EQ(server_->Request("HEAD", "/no-such-bucket").status, 404);
}

TEST_F(S3ServerTest, PutThenGetReturnsTheBytes) {
  const std::string bucket = NewBucket("put-get");
  const std::string data = RandomBytes(3 << 20, 1);
  const S3Server::Response put = server_->Request("PUT", "/" + bucket + "/dir/object.bin", data);
  ASSERT_EQ(put.status, 200) << put.error << put.body;
  // A single PUT's ETag is the quoted hex MD5 of the body, as on AWS.
  EXPECT_EQ(put.headers.at("etag").size(), 34u);
  const S3Server::Response get = server_->Request("GET", "/" + bucket + "/dir/object.bin");
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.body.size(), data.size());
  EXPECT_TRUE(get.body == data);
  EXPECT_EQ(get.headers.at("etag"), put.headers.at("etag"));
  EXPECT_EQ(server_->Request("GET", "/" + bucket + "/missing").status, 404);
}

TEST_F(S3ServerTest, WrongSecretKeyIsForbidden) {
  const std::string bucket = NewBucket("wrong-secret");
  ASSERT_EQ(server_->Request("PUT", "/" + bucket + "/k", "v").status, 200);
  const S3Server::Response r = server_->RequestAs(server_->access_key(), "not-the-secret", "GET",
                                                  "/" + bucket + "/k", "", {});
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(Tags(r.body, "Code"), std::vector<std::string>{"SignatureDoesNotMatch"}) << r.body;
  const S3Server::Response unknown =
      server_->RequestAs("nobody:none", "x", "GET", "/" + bucket + "/k", "", {});
  // Not InvalidAccessKeyId as on AWS: tempauth only says the credentials do not check out.
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(Tags(unknown.body, "Code"), std::vector<std::string>{"SignatureDoesNotMatch"})
      << unknown.body;
}

TEST_F(S3ServerTest, DataSurvivesStopAndRestart) {
  const std::string bucket = NewBucket("restart");
  const std::string data = RandomBytes(100000, 2);
  ASSERT_EQ(server_->Request("PUT", "/" + bucket + "/kept", data).status, 200);
  const int port = server_->port();
  server_->Stop();
  const S3Server::Response down = server_->Request("GET", "/" + bucket + "/kept");
  EXPECT_EQ(down.status, 0);
  EXPECT_EQ(down.error, curl_easy_strerror(CURLE_COULDNT_CONNECT));
  std::string error;
  ASSERT_TRUE(server_->Restart(&error)) << error;
  EXPECT_EQ(server_->port(), port);
  const S3Server::Response get = server_->Request("GET", "/" + bucket + "/kept");
  ASSERT_EQ(get.status, 200) << get.error << get.body;
  EXPECT_TRUE(get.body == data);
}

TEST_F(S3ServerTest, MultipartUploadConcatenatesTheParts) {
  const std::string bucket = NewBucket("multipart");
  const std::string key = "/" + bucket + "/big";
  const S3Server::Response init = server_->Request("POST", key + "?uploads");
  ASSERT_EQ(init.status, 200) << init.body;
  const std::vector<std::string> ids = Tags(init.body, "UploadId");
  ASSERT_EQ(ids.size(), 1u) << init.body;
  const std::string& id = ids[0];
  // Every part but the last must be 5 MiB or more (s3api's min_segment_size, as on AWS).
  const std::vector<std::string> parts = {RandomBytes((5 << 20) + 7, 3),
                                          RandomBytes((5 << 20) + 13, 4)};
  std::string complete = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    const S3Server::Response part =
        server_->Request("PUT", key + "?partNumber=" + n + "&uploadId=" + id, parts[i]);
    ASSERT_EQ(part.status, 200) << part.body;
    complete += "<Part><PartNumber>" + n + "</PartNumber><ETag>" + part.headers.at("etag") +
                "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";
  const S3Server::Response done = server_->Request("POST", key + "?uploadId=" + id, complete);
  ASSERT_EQ(done.status, 200) << done.body;
  ASSERT_TRUE(Tags(done.body, "Code").empty()) << done.body;
  // A multipart object's ETag is the MD5 of the parts' MD5s, then "-<parts>", as on AWS.
  const std::vector<std::string> etag = Tags(done.body, "ETag");
  ASSERT_EQ(etag.size(), 1u) << done.body;
  EXPECT_NE(etag[0].find("-2"), std::string::npos) << etag[0];
  const S3Server::Response get = server_->Request("GET", key);
  ASSERT_EQ(get.status, 200) << get.body;
  EXPECT_EQ(get.body.size(), parts[0].size() + parts[1].size());
  EXPECT_TRUE(get.body == parts[0] + parts[1]);
}

TEST_F(S3ServerTest, ListObjectsV2WithPrefixAndDelimiter) {
  const std::string bucket = NewBucket("listing");
  for (const char* key : {"logs/2024/a", "logs/2024/b", "logs/2025/c", "logs/top", "other/x"}) {
    ASSERT_EQ(server_->Request("PUT", "/" + bucket + "/" + key, key).status, 200);
  }
  const S3Server::Response r =
      server_->Request("GET", "/" + bucket + "?list-type=2&prefix=logs%2F&delimiter=%2F");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Tags(r.body, "Key"), std::vector<std::string>{"logs/top"}) << r.body;
  EXPECT_EQ(Tags(r.body, "Prefix"), (std::vector<std::string>{"logs/", "logs/2024/", "logs/2025/"}))
      << r.body;
  EXPECT_EQ(Tags(r.body, "KeyCount"), std::vector<std::string>{"3"}) << r.body;
  // Paging: one key at a time, continued by the token.
  const S3Server::Response page =
      server_->Request("GET", "/" + bucket + "?list-type=2&max-keys=1&prefix=logs%2F2024%2F");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(Tags(page.body, "Key"), std::vector<std::string>{"logs/2024/a"}) << page.body;
  EXPECT_EQ(Tags(page.body, "IsTruncated"), std::vector<std::string>{"true"}) << page.body;
  const std::vector<std::string> token = Tags(page.body, "NextContinuationToken");
  ASSERT_EQ(token.size(), 1u) << page.body;
  char* escaped = curl_easy_escape(nullptr, token[0].c_str(), static_cast<int>(token[0].size()));
  const S3Server::Response next =
      server_->Request("GET", "/" + bucket + "?continuation-token=" + escaped +
                                  "&list-type=2&max-keys=1&prefix=logs%2F2024%2F");
  curl_free(escaped);
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(Tags(next.body, "Key"), std::vector<std::string>{"logs/2024/b"}) << next.body;
}

}  // namespace
}  // namespace sluice::testing
