// S3Client: the few S3 operations snapshot storage needs (put, multipart upload, get, head,
// delete, list), over libcurl with its built-in AWS Signature Version 4. Works against AWS S3 and
// S3-compatible servers (path-style or virtual-host addressing). Requests that fail for a reason
// that may pass (no connection, a timeout, 5xx, 429) are retried with exponential backoff and
// jitter; the others fail at once with the server's error code and message. Thread-safe: each
// request takes a curl handle from a pool, which keeps connections open between requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::config {
class Configuration;
}

namespace sluice::snapshot {

struct S3Options {
  //! "http(s)://host[:port]"; empty: https://s3.<region>.amazonaws.com.
  std::string endpoint;
  std::string region = "us-east-1";
  std::string access_key;
  std::string secret_key;
  //! Temporary credentials' token (x-amz-security-token); usually empty.
  std::string session_token;
  //! https://endpoint/bucket/key instead of https://bucket.endpoint/key.
  bool path_style = false;
  //! Files larger than this are uploaded in parts of this size (S3's minimum part is 5 MiB).
  uint64_t part_size = 16ULL << 20;
  //! Parts of one file uploaded at once.
  int max_concurrent_uploads = 4;
  //! Attempts after the first of a request that failed for a reason that may pass.
  int max_retries = 5;
  //! Keys asked for per listing request (S3 answers at most 1,000).
  int list_page_size = 1000;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds connect_timeout{5000};
  //! A request that moves no byte for this long is abandoned (and retried).
  std::chrono::milliseconds stall_timeout{30000};
};

//! S3 options from Flink's keys (s3.endpoint, s3.region, s3.access-key, s3.secret-key,
//! s3.path.style.access, s3.upload.min.part.size, s3.upload.max.concurrent.uploads,
//! s3.max-retries); a key left empty falls back to the usual environment variables
//! (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID,
//! AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). InvalidArgument naming the key for a bad value.
absl::StatusOr<S3Options> S3OptionsFromConfig(const config::Configuration& config);

//! The options `OpenStorage("s3://...")` uses in this process; until set, those of an empty
//! configuration (the environment variables only). Daemons set them from their configuration.
void SetDefaultS3Options(S3Options options);
S3Options DefaultS3Options();

//! Whether `s` is S3's answer that the bucket does not exist (NotFound, as a missing object is).
bool IsMissingBucket(const absl::Status& s);

//! "s3://bucket/some/prefix" → bucket and prefix (no leading or trailing '/'; may be empty).
struct S3Uri {
  std::string bucket;
  std::string prefix;
};
absl::StatusOr<S3Uri> ParseS3Uri(std::string_view uri);

class S3Client {
 public:
  explicit S3Client(S3Options options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Options& options() const { return options_; }

  //! NotFound naming the bucket when it does not exist; PermissionDenied for bad credentials.
  absl::Status CheckBucket(const std::string& bucket);
  //! Creates a bucket; OK when this account already owns it.
  absl::Status CreateBucket(const std::string& bucket);
  absl::Status Put(const std::string& bucket, const std::string& key, std::string_view bytes);
  //! Uploads a local file (in parallel parts when larger than the part size); returns the
  //! file's size and crc32 as read while uploading.
  struct Uploaded {
    uint64_t size = 0;
    uint32_t crc32 = 0;
  };
  absl::StatusOr<Uploaded> PutFile(const std::string& bucket, const std::string& key,
                                   const std::string& local_path);
  //! Streams an object to `sink`. `restart` is called before a retry re-sends it from the start.
  absl::Status Get(const std::string& bucket, const std::string& key,
                   const std::function<absl::Status(std::string_view)>& sink,
                   const std::function<absl::Status()>& restart);
  //! The object's size; NotFound when there is none.
  absl::StatusOr<uint64_t> Head(const std::string& bucket, const std::string& key);
  //! OK when it does not exist.
  absl::Status Delete(const std::string& bucket, const std::string& key);

  struct Listing {
    std::vector<std::string> keys;      // full keys
    std::vector<std::string> prefixes;  // full common prefixes, ending in '/'
  };
  //! Objects under `prefix`; with `delimited`, keys below the next '/' are folded into common
  //! prefixes. `max_keys` > 0 stops after about that many entries.
  absl::StatusOr<Listing> List(const std::string& bucket, const std::string& prefix, bool delimited,
                               int max_keys = 0);

  struct Request;
  struct Response;

 private:
  absl::StatusOr<Response> Send(Request& request);
  absl::StatusOr<Response> SendOnce(Request& request);
  std::string Url(const std::string& bucket, const std::string& key,
                  const std::string& query) const;
  absl::StatusOr<Uploaded> PutMultipart(const std::string& bucket, const std::string& key,
                                        const std::string& local_path, int fd, uint64_t size);

  class HandlePool;
  const S3Options options_;
  std::unique_ptr<HandlePool> pool_;
};

}  // namespace sluice::snapshot
