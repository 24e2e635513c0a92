// A real Prometheus server for tests: Debian's /usr/bin/prometheus started on a free loopback
// port with its data in a directory the test owns, killed by its pid and reaped when the object
// goes. It can scrape targets found by HTTP service discovery (integration_prometheus_test) or
// receive remote writes (connectors/prometheus_sink_test); tests read it through its HTTP API.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/free_port.h"

namespace sluice::testing {

inline constexpr char kPrometheusBinary[] = "/usr/bin/prometheus";

struct PrometheusProcessOptions {
  //! Non-empty: scrape every second the targets this URL lists (http_sd_configs).
  std::string scrape_targets_url;
  //! --web.enable-remote-write-receiver: accept samples POSTed to /api/v1/write.
  bool remote_write_receiver = false;
};

//! A Prometheus server process, killed (by pid) and reaped when this goes. Its config, data and
//! log are in `dir`, which the test removes afterwards.
class PrometheusProcess {
 public:
  using Json = nlohmann::json;

  PrometheusProcess(const std::string& dir, const PrometheusProcessOptions& options)
      : log_(dir + "/prometheus.log") {
    port_ = FreeLoopbackPort();
    const std::string config = dir + "/prometheus.yml";
    std::string yaml = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n";
    if (!options.scrape_targets_url.empty()) {
      yaml += "scrape_configs:\n  - job_name: sluice\n    http_sd_configs:\n      - url: " +
              options.scrape_targets_url + "\n        refresh_interval: 1s\n";
    }
    std::ofstream(config) << yaml;
    std::vector<std::string> args = {
        kPrometheusBinary, "--config.file=" + config, "--storage.tsdb.path=" + dir + "/data",
        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    if (options.remote_write_receiver) args.push_back("--web.enable-remote-write-receiver");
    // Everything the child needs is made before the fork: the test may run threads, and the
    // child calls nothing but dup2 and execv.
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = ::fork();
    if (pid_ == 0) {
      if (log_fd >= 0) {
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
      }
      ::execv(kPrometheusBinary, argv.data());
      ::_exit(127);
    }
    if (log_fd >= 0) ::close(log_fd);
  }
  PrometheusProcess(const std::string& dir, const std::string& scrape_targets_url)
      : PrometheusProcess(dir, PrometheusProcessOptions{scrape_targets_url, false}) {}
  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  int port() const { return port_; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  //! What Prometheus wrote to stdout and stderr so far, for failure messages.
  std::string Log() const {
    std::ifstream f(log_);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  bool Ready() {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(2);
    auto r = c.Get("/-/ready");
    return r && r->status == 200;
  }
  //! The `data` of a successful instant query (at `time`, seconds since the epoch, when given);
  //! nullopt when Prometheus does not answer or refuses the query.
  std::optional<Json> QueryData(const std::string& promql,
                                std::optional<double> time = std::nullopt) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10);
    httplib::Params params = {{"query", promql}};
    if (time) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f", *time);
      params.emplace("time", buf);
    }
    auto r = c.Get("/api/v1/query?" + httplib::detail::params_to_query_str(params));
    if (!r || r->status != 200) return std::nullopt;
    Json j = Json::parse(r->body, nullptr, false);
    if (j.is_discarded() || j["status"] != "success") return std::nullopt;
    return j["data"];
  }
  //! Whether Prometheus accepts the query (status success), whatever it finds.
  bool Accepts(const std::string& promql) { return QueryData(promql).has_value(); }
  //! The value of an instant query's first sample; nullopt when the result is empty.
  std::optional<double> Query(const std::string& promql) {
    std::optional<Json> data = QueryData(promql);
    if (!data || (*data)["result"].empty()) return std::nullopt;
    return std::stod((*data)["result"][0]["value"][1].get<std::string>());
  }

 private:
  std::string log_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace sluice::testing
