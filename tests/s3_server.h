// A real S3-compatible server for tests and benchmarks: OpenStack Swift (Debian's python3-swift)
// with its s3api middleware and tempauth on a free loopback port, run by scripts/s3.sh in a
// temporary directory. Signatures (SigV4) are checked for real, multipart uploads work, and the
// data survives Stop() and Restart() on the same port. The servers die with the test: the fixture
// runs s3.sh in the foreground under PR_SET_PDEATHSIG and s3.sh puts the same on every server, so
// even a SIGKILLed test leaves no swift process behind.
//
// Requests are signed by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:us-east-1:s3"). Two details matter
// with libcurl 7.88 and Swift 2.30:
//  - the access key `test:tester` holds a colon, so it goes in CURLOPT_USERNAME and the secret in
//    CURLOPT_PASSWORD (CURLOPT_USERPWD would split it at the colon);
//  - s3api rejects a SigV4 request without `x-amz-content-sha256` (InvalidRequest, "Missing
//    required header for this request: x-amz-content-sha256") and libcurl 7.88 does not add it,
//    so Request() sends the hex SHA-256 of the body. s3api also accepts UNSIGNED-PAYLOAD there;
//  - libcurl signs the query string as given, but SigV4 sorts it by name and writes "uploads" as
//    "uploads=": Request() sorts and completes it before libcurl sees it. Values must already be
//    encoded as SigV4 wants (RFC 3986, '/' as %2F), e.g. with curl_easy_escape();
//  - libcurl signs every header of CURLOPT_HTTPHEADER, even one that only removes a header
//    ("Expect:" is signed as an empty `expect` but not sent: SignatureDoesNotMatch). So no
//    header removals; Swift answers "Expect: 100-continue" itself.
#pragma once

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/child_process.h"
#include "tests/free_port.h"

#ifndef SLUICE_S3_SCRIPT
#error \
    "tests/s3_server.h needs SLUICE_S3_SCRIPT: link the sluice_s3_server target (tests/CMakeLists.txt)"
#endif

namespace sluice::testing {

class S3Server {
 public:
  //! What a request got back: status 0 and `error` set when there was no HTTP answer.
  struct Response {
    long status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string error;
  };

  S3Server() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;
  ~S3Server() {
    Stop();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  //! A fresh server in a temporary directory on a free port; false with `error` set on failure.
  //! PR_SET_PDEATHSIG follows the thread that forks: start from a thread that outlives the server.
  bool Start(std::string* error) {
    char tmpl[] = "/tmp/sluice-s3-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      *error = "mkdtemp failed";
      return false;
    }
    dir_ = tmpl;
    // The port can be taken between FreeLoopbackPort() and the proxy's bind: try a few.
    for (int tries = 0; tries < 3; ++tries) {
      port_ = FreeLoopbackPort();
      if (Launch(error)) return true;
    }
    return false;
  }

  //! Stops the servers (s3.sh stop: SIGTERM, SIGKILL after 5 s); the data stays for Restart().
  void Stop() {
    if (pid_ <= 0) return;
    const std::vector<std::string> argv = {"/bin/bash", SLUICE_S3_SCRIPT, "stop", dir_};
    const std::vector<char*> args = Argv(argv);
    const pid_t stopper = ::fork();
    if (stopper == 0) Exec(args, "/dev/null", "/dev/null");
    if (stopper > 0) ::waitpid(stopper, nullptr, 0);
    // The supervising s3.sh returns once its servers are gone; if not, killing it kills them.
    ReapOrKill(pid_, std::chrono::seconds(10));
    pid_ = -1;
  }

  //! Starts the stopped servers again on the same port and data.
  bool Restart(std::string* error) {
    if (pid_ > 0) {
      *error = "the server is running";
      return false;
    }
    return Launch(error);
  }

  //! Restarts the server accepting `secret` as the secret key of access_key() from now on
  //! (secret_key() stays the first one): a server that refuses the credentials a cluster has.
  bool ChangeServerSecret(const std::string& secret, std::string* error) {
    Stop();
    server_secret_ = secret;
    return Launch(error);
  }

  const std::string& endpoint() const { return endpoint_; }
  const std::string& access_key() const { return access_key_; }
  const std::string& secret_key() const { return secret_key_; }
  const std::string& region() const { return region_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

  //! A signed request as the server's user; `path` is "/bucket[/key][?query]", already encoded
  //! (the query in any order).
  Response Request(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::vector<std::string>& headers = {}) const {
    return RequestAs(access_key_, secret_key_, method, path, body, headers);
  }

  //! Request() with other credentials (e.g. a wrong secret key).
  Response RequestAs(const std::string& access_key, const std::string& secret_key,
                     const std::string& method, const std::string& path, const std::string& body,
                     const std::vector<std::string>& headers) const {
    Response r;
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
      r.error = "curl_easy_init failed";
      return r;
    }
    const std::string url = endpoint_ + SortedQuery(path);
    const std::string sigv4 = "aws:amz:" + region_ + ":s3";
    curl_slist* list = nullptr;
    for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
    list = curl_slist_append(list, ("x-amz-content-sha256: " + Sha256Hex(body)).c_str());
    // Else libcurl sends POSTFIELDS as application/x-www-form-urlencoded, and Swift keeps that as
    // the object's type.
    bool has_type = false;
    for (const std::string& h : headers)
      has_type |= strncasecmp(h.c_str(), "content-type:", 13) == 0;
    if (!has_type && !body.empty()) {
      list = curl_slist_append(list, "Content-Type: application/octet-stream");
    }
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, access_key.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, secret_key.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (method == "HEAD") {
      curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    } else if (method != "GET" || !body.empty()) {
      // POSTFIELDS sends the body with any method (PUT, POST) without a read callback.
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &S3Server::OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &S3Server::OnHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
    const CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    } else {
      r.error = curl_easy_strerror(rc);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return r;
  }

  //! PUT /name (path style); false with `error` set unless the server answers 200.
  bool CreateBucket(const std::string& name, std::string* error) const {
    const Response r = Request("PUT", "/" + name);
    if (r.status == 200) return true;
    *error = r.status == 0 ? r.error : "HTTP " + std::to_string(r.status) + ": " + r.body;
    return false;
  }

  //! `path` with its query parameters sorted by name, and "name=" for a bare "name": libcurl 7.88
  //! signs the query as sent, where SigV4 (and s3api) sorts it and gives every name a value.
  static std::string SortedQuery(const std::string& path) {
    const size_t q = path.find('?');
    if (q == std::string::npos) return path;
    std::vector<std::string> params;
    std::istringstream query(path.substr(q + 1));
    std::string param;
    while (std::getline(query, param, '&')) {
      if (param.empty()) continue;
      if (param.find('=') == std::string::npos) param += '=';
      params.push_back(param);
    }
    std::sort(params.begin(), params.end());
    std::string out = path.substr(0, q + 1);
    for (size_t i = 0; i < params.size(); ++i) out += (i > 0 ? "&" : "") + params[i];
    return out;
  }

  static std::string Sha256Hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
      out += kHex[digest[i] >> 4];
      out += kHex[digest[i] & 15];
    }
    return out;
  }

 private:
  static size_t OnBody(char* data, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
  }

  static size_t OnHeader(char* data, size_t size, size_t n, void* out) {
    const std::string line(data, size * n);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      const size_t b = value.find_first_not_of(" \t");
      const size_t e = value.find_last_not_of(" \t\r\n");
      value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
      (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
    }
    return size * n;
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  //! execv's argument array, built before fork: the child of a threaded test must not allocate.
  static std::vector<char*> Argv(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    return args;
  }

  //! In a forked child: stdout and stderr to files, then exec; never returns.
  [[noreturn]] static void Exec(const std::vector<char*>& args, const std::string& out,
                                const std::string& err) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o >= 0) ::dup2(o, 1);
    if (e >= 0) ::dup2(e, 2);
    ::execv(args[0], args.data());
    _exit(127);
  }

  //! Runs `s3.sh start` in the foreground on port_ and waits for its endpoint line.
  bool Launch(std::string* error) {
    const std::string out = dir_ + "/start.out";
    const std::string err = dir_ + "/start.err";
    // The line of the previous start must not pass for this one's.
    std::filesystem::remove(out);
    // env sets SLUICE_S3_FOREGROUND (s3.sh stays, supervising) and execs bash in place, so the
    // parent-death signal set below carries over.
    std::vector<std::string> argv = {"/usr/bin/env", "SLUICE_S3_FOREGROUND=1"};
    if (!server_secret_.empty()) argv.push_back("SLUICE_S3_SECRET_KEY=" + server_secret_);
    argv.insert(argv.end(), {"/bin/bash", SLUICE_S3_SCRIPT, "start", dir_, std::to_string(port_)});
    const std::vector<char*> args = Argv(argv);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) {
      *error = "fork failed";
      return false;
    }
    if (pid_ == 0) {
      // s3.sh and, through it, the servers die with the test, even when it is SIGKILLed.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(1);
      Exec(args, out, err);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      if (ParseEndpointLine(Slurp(out))) return true;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        *error = "scripts/s3.sh start failed: " + Slurp(err);
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Stop();
    *error = "scripts/s3.sh start did not finish within 90 s: " + Slurp(err);
    return false;
  }

  //! "endpoint=... access_key=... secret_key=... region=...\n", once complete.
  bool ParseEndpointLine(const std::string& text) {
    if (text.find('\n') == std::string::npos) return false;
    std::istringstream words(text.substr(0, text.find('\n')));
    std::map<std::string, std::string> kv;
    std::string word;
    while (words >> word) {
      const size_t eq = word.find('=');
      if (eq != std::string::npos) kv[word.substr(0, eq)] = word.substr(eq + 1);
    }
    if (kv["endpoint"].empty()) return false;
    endpoint_ = kv["endpoint"];
    access_key_ = kv["access_key"];
    if (secret_key_.empty()) secret_key_ = kv["secret_key"];
    region_ = kv["region"];
    return true;
  }

  std::string dir_;
  std::string endpoint_;
  std::string access_key_;
  std::string secret_key_;
  std::string region_;
  std::string server_secret_;  // empty: s3.sh's default
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace sluice::testing
