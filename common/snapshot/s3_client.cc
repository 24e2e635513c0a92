// S3Client over libcurl. Signing is libcurl's (CURLOPT_AWS_SIGV4); we send the payload as
// UNSIGNED-PAYLOAD (the header is signed, the body's integrity is the snapshot's own crc32, checked
// on every read) and build query strings already in SigV4's canonical form (sorted, encoded), so
// that what curl signs is what the server recomputes.
#include "common/snapshot/s3_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <tinyxml2.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/config/config.h"
#include "common/snapshot/crc32.h"

namespace sluice::snapshot {

struct S3Client::Request {
  std::string method = "GET";
  std::string bucket;
  std::string key;
  std::string query;  // canonical: sorted, encoded
  std::string_view body;
  //! Streams the response body; empty: collected into Response::body.
  std::function<absl::Status(std::string_view)> sink;
  std::function<absl::Status()> restart;
};

struct S3Client::Response {
  long status = 0;
  std::string body;
  std::string etag;
  int64_t content_length = -1;
};

namespace {

absl::string_view AbslView(std::string_view text) { return {text.data(), text.size()}; }

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string FirstNonEmpty(std::initializer_list<std::string> values) {
  for (const std::string& v : values) {
    if (!v.empty()) return v;
  }
  return "";
}

//! SigV4's URI encoding: everything but unreserved characters, and '/' unless `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

//! A canonical query string out of parameters given in sorted order; a parameter whose value is
//! nullopt is left out.
std::string Query(
    std::initializer_list<std::pair<std::string_view, std::optional<std::string_view>>> params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (!v) continue;
    absl::StrAppend(&q, q.empty() ? "" : "&", UriEncode(k, false), "=", UriEncode(*v, false));
  }
  return q;
}

std::once_flag curl_init_once;

std::mutex default_mu;
std::optional<S3Options> default_options;

constexpr absl::string_view kS3ErrorCodeUrl = "sluice/s3-error-code";

//! The S3 error code an answer carried ("NoSuchKey", ...), or "".
std::string S3ErrorCode(const absl::Status& s) {
  const auto code = s.GetPayload(kS3ErrorCodeUrl);  // absl::optional here
  return code ? std::string(*code) : "";
}

bool Retryable(long status) { return status == 429 || status >= 500; }

//! The text of the first element named `name` anywhere under `parent`.
std::string Text(const tinyxml2::XMLElement* parent, const char* name) {
  if (parent == nullptr) return "";
  const tinyxml2::XMLElement* e = parent->FirstChildElement(name);
  return e != nullptr && e->GetText() != nullptr ? e->GetText() : "";
}

//! An S3 error answer (status and XML body) as a Status naming what was asked.
absl::Status ErrorStatus(const std::string& what, long status, const std::string& body) {
  std::string code;
  std::string message;
  tinyxml2::XMLDocument doc;
  if (!body.empty() && doc.Parse(body.data(), body.size()) == tinyxml2::XML_SUCCESS) {
    const tinyxml2::XMLElement* root = doc.RootElement();
    if (root != nullptr && std::string_view(root->Name()) == "Error") {
      code = Text(root, "Code");
      message = Text(root, "Message");
    }
  }
  std::string text = absl::StrFormat("%s: HTTP %d", what, status);
  if (!code.empty()) absl::StrAppend(&text, " ", code);
  if (!message.empty()) absl::StrAppend(&text, ": ", message);
  absl::Status s;
  if (code == "NoSuchBucket") {
    s = absl::NotFoundError(absl::StrCat(text, " (the bucket does not exist)"));
  } else if (status == 404) {
    s = absl::NotFoundError(text);
  } else if (status == 401 || status == 403) {
    s = absl::PermissionDeniedError(
        absl::StrCat(text,
                     " (check s3.access-key and s3.secret-key, or AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY, and s3.region)"));
  } else if (Retryable(status)) {
    s = absl::UnavailableError(text);
  } else {
    s = absl::FailedPreconditionError(text);
  }
  if (!code.empty()) s.SetPayload(kS3ErrorCodeUrl, absl::Cord(code));
  return s;
}

}  // namespace

bool IsMissingBucket(const absl::Status& s) { return S3ErrorCode(s) == "NoSuchBucket"; }

// ---------------------------------------------------------------------------------------------
// Options

absl::StatusOr<S3Options> S3OptionsFromConfig(const config::Configuration& config) {
  S3Options o;
  o.endpoint = FirstNonEmpty(
      {config.GetString("s3.endpoint"), Env("AWS_ENDPOINT_URL_S3"), Env("AWS_ENDPOINT_URL")});
  while (absl::EndsWith(o.endpoint, "/")) o.endpoint.pop_back();
  if (!o.endpoint.empty() && !absl::StartsWith(o.endpoint, "http://") &&
      !absl::StartsWith(o.endpoint, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("s3.endpoint must start with http:// or https://, not '", o.endpoint, "'"));
  }
  o.region = FirstNonEmpty(
      {config.GetString("s3.region"), Env("AWS_REGION"), Env("AWS_DEFAULT_REGION"), "us-east-1"});
  o.access_key = FirstNonEmpty({config.GetString("s3.access-key"), Env("AWS_ACCESS_KEY_ID")});
  o.secret_key = FirstNonEmpty({config.GetString("s3.secret-key"), Env("AWS_SECRET_ACCESS_KEY")});
  o.session_token = Env("AWS_SESSION_TOKEN");
  o.path_style = config.GetBool("s3.path.style.access");
  o.part_size = static_cast<uint64_t>(config.GetMemoryBytes("s3.upload.min.part.size"));
  o.max_concurrent_uploads = static_cast<int>(config.GetInt("s3.upload.max.concurrent.uploads"));
  o.max_retries = static_cast<int>(config.GetInt("s3.max-retries"));
  return o;
}

void SetDefaultS3Options(S3Options options) {
  std::lock_guard<std::mutex> lock(default_mu);
  default_options = std::move(options);
}

S3Options DefaultS3Options() {
  {
    std::lock_guard<std::mutex> lock(default_mu);
    if (default_options) return *default_options;
  }
  absl::StatusOr<S3Options> o = S3OptionsFromConfig(config::Configuration());
  return o.ok() ? *o : S3Options{};
}

absl::StatusOr<S3Uri> ParseS3Uri(std::string_view uri) {
  constexpr std::string_view kScheme = "s3://";
  if (!uri.starts_with(kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat("'", AbslView(uri), "' is not an s3:// URI"));
  }
  std::string_view rest = uri.substr(kScheme.size());
  const size_t slash = rest.find('/');
  S3Uri out;
  out.bucket = std::string(rest.substr(0, slash));
  std::string_view prefix = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  while (prefix.ends_with('/')) prefix.remove_suffix(1);
  out.prefix = std::string(prefix);
  // S3's bucket naming rules, loosely: 3 to 63 of [a-z0-9.-].
  const bool name_ok =
      out.bucket.size() >= 3 && out.bucket.size() <= 63 &&
      std::all_of(out.bucket.begin(), out.bucket.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
      });
  if (!name_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", AbslView(uri),
                     "' does not name a bucket: use s3://bucket/prefix with a bucket name of 3 "
                     "to 63 lowercase letters, digits, '.' and '-'"));
  }
  for (absl::string_view part : absl::StrSplit(AbslView(out.prefix), '/')) {
    if (!out.prefix.empty() && (part.empty() || part == "." || part == "..")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", AbslView(uri), "': the prefix must not contain empty, '.' or '..' folder names"));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Handles

//! Idle curl handles; a handle keeps its connections to the server between requests.
class S3Client::HandlePool {
 public:
  ~HandlePool() {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }
  CURL* Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        curl_easy_reset(h);
        return h;
      }
    }
    return curl_easy_init();
  }
  void Release(CURL* h) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(h);
  }

 private:
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

S3Client::S3Client(S3Options options)
    : options_(std::move(options)), pool_(std::make_unique<HandlePool>()) {
  std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

S3Client::~S3Client() = default;

std::string S3Client::Url(const std::string& bucket, const std::string& key,
                          const std::string& query) const {
  std::string endpoint = options_.endpoint;
  if (endpoint.empty()) endpoint = absl::StrCat("https://s3.", options_.region, ".amazonaws.com");
  std::string url;
  if (options_.path_style) {
    url = absl::StrCat(endpoint, "/", bucket, "/", UriEncode(key, true));
  } else {
    const size_t scheme_end = endpoint.find("://") + 3;
    url = absl::StrCat(endpoint.substr(0, scheme_end), bucket, ".", endpoint.substr(scheme_end),
                       "/", UriEncode(key, true));
  }
  if (!query.empty()) absl::StrAppend(&url, "?", query);
  return url;
}

namespace {

struct Transfer {
  S3Client::Request* request;
  S3Client::Response* response;
  CURL* handle;
  size_t sent = 0;
  absl::Status sink_status;
  bool status_known = false;
  bool error_answer = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view chunk(data, size * n);
  if (!t->status_known) {
    long status = 0;
    curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
    t->status_known = true;
    t->error_answer = status < 200 || status >= 300;
  }
  if (t->request->sink && !t->error_answer) {
    t->sink_status = t->request->sink(chunk);
    if (!t->sink_status.ok()) return 0;  // aborts the transfer
  } else {
    t->response->body.append(chunk);
  }
  return chunk.size();
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    const std::string name = absl::AsciiStrToLower(AbslView(line.substr(0, colon)));
    if (name == "etag") {
      t->response->etag = std::string(absl::StripAsciiWhitespace(AbslView(line.substr(colon + 1))));
    }
  }
  return line.size();
}

size_t OnRead(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view body = t->request->body;
  const size_t len = std::min(size * n, body.size() - t->sent);
  std::copy_n(body.data() + t->sent, len, buf);
  t->sent += len;
  return len;
}

int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->request->body.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->sent = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

}  // namespace

absl::StatusOr<S3Client::Response> S3Client::SendOnce(Request& request) {
  CURL* h = pool_->Acquire();
  if (h == nullptr) return absl::ResourceExhaustedError("S3: curl_easy_init failed");
  Response response;
  Transfer t{.request = &request,
             .response = &response,
             .handle = h,
             .sent = 0,
             .sink_status = {},
             .status_known = false,
             .error_answer = false};
  const std::string url = Url(request.bucket, request.key, request.query);
  const std::string sigv4 = absl::StrCat("aws:amz:", options_.region, ":s3");
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  if (!options_.session_token.empty()) {
    const std::string token = absl::StrCat("x-amz-security-token: ", options_.session_token);
    headers = curl_slist_append(headers, token.c_str());
  }
  // Blank headers ("Expect:" to skip curl's wait for "100 Continue") would be signed by curl
  // 7.88 but not sent; the server then computes another signature. So none are used.
  // curl would send a form's type with a POST body; S3 keeps the type of a multipart upload's
  // object from its first request.
  if (request.method == "POST") {
    headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(h, CURLOPT_USERNAME, options_.access_key.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, options_.secret_key.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(std::max<int64_t>(1, options_.stall_timeout.count() / 1000)));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, OnSeek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
  } else if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  curl_off_t length = -1;
  curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  response.content_length = length;
  curl_slist_free_all(headers);
  pool_->Release(h);

  const std::string what = absl::StrCat(request.method, " s3://", request.bucket, "/", request.key,
                                        request.query.empty() ? "" : "?", request.query);
  if (!t.sink_status.ok()) return t.sink_status;
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        what, " at ", options_.endpoint.empty() ? std::string("AWS") : options_.endpoint, ": ",
        curl_easy_strerror(rc)));
  }
  if (response.status < 200 || response.status >= 300) {
    return ErrorStatus(what, response.status, response.body);
  }
  return response;
}

absl::StatusOr<S3Client::Response> S3Client::Send(Request& request) {
  thread_local std::minstd_rand jitter(std::random_device{}());
  auto backoff = options_.initial_backoff;
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<Response> r = SendOnce(request);
    if (r.ok() || !absl::IsUnavailable(r.status()) || attempt >= options_.max_retries) {
      if (!r.ok() && attempt > 0) {
        return absl::Status(r.status().code(), absl::StrCat(r.status().message(), " (after ",
                                                            attempt + 1, " attempts)"));
      }
      return r;
    }
    const auto pause = std::chrono::milliseconds(
        std::uniform_int_distribution<int64_t>(backoff.count() / 2, backoff.count())(jitter));
    std::this_thread::sleep_for(pause);
    backoff = std::min(backoff * 2, options_.max_backoff);
    if (request.restart) {
      if (absl::Status s = request.restart(); !s.ok()) return s;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Operations

absl::Status S3Client::CheckBucket(const std::string& bucket) {
  Request r;
  r.bucket = bucket;
  r.query = Query({{"list-type", "2"}, {"max-keys", "1"}});
  absl::StatusOr<Response> got = Send(r);
  if (got.ok()) return absl::OkStatus();
  if (absl::IsNotFound(got.status())) {
    return absl::NotFoundError(
        absl::StrCat("bucket '", bucket, "' does not exist: ", got.status().message()));
  }
  return got.status();
}

absl::Status S3Client::CreateBucket(const std::string& bucket) {
  Request r;
  r.method = "PUT";
  r.bucket = bucket;
  absl::Status s = Send(r).status();
  return S3ErrorCode(s) == "BucketAlreadyOwnedByYou" ? absl::OkStatus() : s;
}

absl::Status S3Client::Put(const std::string& bucket, const std::string& key,
                           std::string_view bytes) {
  Request r;
  r.method = "PUT";
  r.bucket = bucket;
  r.key = key;
  r.body = bytes;
  return Send(r).status();
}

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

absl::Status ReadAt(int fd, char* buf, size_t n, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, buf + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot read ", path));
    if (got == 0) return absl::DataLossError(absl::StrCat(path, " shrank while it was uploaded"));
    done += static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<S3Client::Uploaded> S3Client::PutFile(const std::string& bucket,
                                                     const std::string& key,
                                                     const std::string& local_path) {
  Fd in{::open(local_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (in.fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", local_path));
  struct stat st;
  if (::fstat(in.fd, &st) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot stat ", local_path));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(local_path, " is not a regular file"));
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > options_.part_size) return PutMultipart(bucket, key, local_path, in.fd, size);
  std::string bytes(size, '\0');
  if (absl::Status s = ReadAt(in.fd, bytes.data(), size, 0, local_path); !s.ok()) return s;
  if (absl::Status s = Put(bucket, key, bytes); !s.ok()) return s;
  return Uploaded{size, Crc32(bytes)};
}

absl::StatusOr<S3Client::Uploaded> S3Client::PutMultipart(const std::string& bucket,
                                                          const std::string& key,
                                                          const std::string& local_path, int fd,
                                                          uint64_t size) {
  Request start;
  start.method = "POST";
  start.bucket = bucket;
  start.key = key;
  start.query = Query({{"uploads", ""}});
  absl::StatusOr<Response> started = Send(start);
  if (!started.ok()) return started.status();
  tinyxml2::XMLDocument doc;
  std::string upload_id;
  if (doc.Parse(started->body.data(), started->body.size()) == tinyxml2::XML_SUCCESS) {
    upload_id = Text(doc.RootElement(), "UploadId");
  }
  if (upload_id.empty()) {
    return absl::InternalError(absl::StrCat("S3: starting a multipart upload of s3://", bucket, "/",
                                            key, " returned no UploadId"));
  }

  const uint64_t part_size = options_.part_size;
  const size_t parts = static_cast<size_t>((size + part_size - 1) / part_size);
  std::vector<std::string> etags(parts);
  std::vector<uint32_t> crcs(parts);
  std::atomic<size_t> next{0};
  std::mutex error_mu;
  absl::Status error;
  auto failed = [&] {
    std::lock_guard<std::mutex> lock(error_mu);
    return !error.ok();
  };
  auto worker = [&] {
    std::string buf;
    for (size_t i = next++; i < parts && !failed(); i = next++) {
      const uint64_t offset = i * part_size;
      const size_t len = static_cast<size_t>(std::min(part_size, size - offset));
      buf.resize(len);
      absl::Status s = ReadAt(fd, buf.data(), len, offset, local_path);
      Request put;
      put.method = "PUT";
      put.bucket = bucket;
      put.key = key;
      const std::string number = std::to_string(i + 1);
      put.query = Query({{"partNumber", number}, {"uploadId", upload_id}});
      put.body = buf;
      if (s.ok()) {
        crcs[i] = Crc32(buf);
        absl::StatusOr<Response> r = Send(put);
        s = r.status();
        if (r.ok()) etags[i] = r->etag;
        if (r.ok() && r->etag.empty()) {
          s = absl::InternalError(absl::StrCat("S3: part ", number, " of s3://", bucket, "/", key,
                                               " was stored without an ETag"));
        }
      }
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (error.ok()) error = s;
      }
    }
  };
  const size_t threads = std::min<size_t>(parts, std::max(1, options_.max_concurrent_uploads));
  std::vector<std::thread> pool;
  for (size_t i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();

  if (error.ok()) {
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < parts; ++i) {
      absl::StrAppend(&xml, "<Part><PartNumber>", i + 1, "</PartNumber><ETag>", etags[i],
                      "</ETag></Part>");
    }
    xml += "</CompleteMultipartUpload>";
    Request complete;
    complete.method = "POST";
    complete.bucket = bucket;
    complete.key = key;
    complete.query = Query({{"uploadId", upload_id}});
    complete.body = xml;
    absl::StatusOr<Response> done = Send(complete);
    error = done.status();
    // S3 may answer 200 and still report an error in the body.
    tinyxml2::XMLDocument answer;
    if (done.ok() && answer.Parse(done->body.data(), done->body.size()) == tinyxml2::XML_SUCCESS &&
        answer.RootElement() != nullptr &&
        std::string_view(answer.RootElement()->Name()) == "Error") {
      error = ErrorStatus(absl::StrCat("completing the upload of s3://", bucket, "/", key), 200,
                          done->body);
    }
  }
  if (!error.ok()) {
    Request abort;
    abort.method = "DELETE";
    abort.bucket = bucket;
    abort.key = key;
    abort.query = Query({{"uploadId", upload_id}});
    (void)Send(abort);  // best effort: an abandoned upload only costs space
    return error;
  }
  uint32_t crc = 0;
  for (size_t i = 0; i < parts; ++i) {
    const uint64_t len = std::min(part_size, size - i * part_size);
    crc = static_cast<uint32_t>(crc32_combine(crc, crcs[i], static_cast<z_off_t>(len)));
  }
  return Uploaded{size, crc};
}

absl::Status S3Client::Get(const std::string& bucket, const std::string& key,
                           const std::function<absl::Status(std::string_view)>& sink,
                           const std::function<absl::Status()>& restart) {
  Request r;
  r.bucket = bucket;
  r.key = key;
  r.sink = sink;
  r.restart = restart;
  return Send(r).status();
}

absl::StatusOr<uint64_t> S3Client::Head(const std::string& bucket, const std::string& key) {
  Request r;
  r.method = "HEAD";
  r.bucket = bucket;
  r.key = key;
  absl::StatusOr<Response> got = Send(r);
  if (!got.ok()) return got.status();
  if (got->content_length < 0) {
    return absl::InternalError(
        absl::StrCat("S3: HEAD s3://", bucket, "/", key, " returned no Content-Length"));
  }
  return static_cast<uint64_t>(got->content_length);
}

absl::Status S3Client::Delete(const std::string& bucket, const std::string& key) {
  Request r;
  r.method = "DELETE";
  r.bucket = bucket;
  r.key = key;
  absl::Status s = Send(r).status();
  return absl::IsNotFound(s) && !IsMissingBucket(s) ? absl::OkStatus() : s;
}

absl::StatusOr<S3Client::Listing> S3Client::List(const std::string& bucket,
                                                 const std::string& prefix, bool delimited,
                                                 int max_keys) {
  Listing out;
  std::string token;
  while (true) {
    const int page = std::clamp(options_.list_page_size, 1, 1000);
    const std::string max = std::to_string(max_keys > 0 ? std::min(max_keys, page) : page);
    Request r;
    r.bucket = bucket;
    auto unless_empty = [](std::string_view v) {
      return v.empty() ? std::nullopt : std::optional<std::string_view>(v);
    };
    r.query = Query({{"continuation-token", unless_empty(token)},
                     {"delimiter", delimited ? std::optional<std::string_view>("/") : std::nullopt},
                     {"list-type", "2"},
                     {"max-keys", max},
                     {"prefix", unless_empty(prefix)}});
    absl::StatusOr<Response> got = Send(r);
    if (!got.ok()) return got.status();
    tinyxml2::XMLDocument doc;
    if (doc.Parse(got->body.data(), got->body.size()) != tinyxml2::XML_SUCCESS ||
        doc.RootElement() == nullptr) {
      return absl::InternalError(
          absl::StrCat("S3: listing s3://", bucket, "/", prefix, " returned no XML"));
    }
    const tinyxml2::XMLElement* root = doc.RootElement();
    for (auto* c = root->FirstChildElement("Contents"); c != nullptr;
         c = c->NextSiblingElement("Contents")) {
      out.keys.push_back(Text(c, "Key"));
    }
    for (auto* c = root->FirstChildElement("CommonPrefixes"); c != nullptr;
         c = c->NextSiblingElement("CommonPrefixes")) {
      out.prefixes.push_back(Text(c, "Prefix"));
    }
    token = Text(root, "NextContinuationToken");
    const bool truncated = Text(root, "IsTruncated") == "true";
    const size_t have = out.keys.size() + out.prefixes.size();
    if (!truncated || token.empty() || (max_keys > 0 && have >= static_cast<size_t>(max_keys))) {
      return out;
    }
  }
}

}  // namespace sluice::snapshot
