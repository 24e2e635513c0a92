#include "common/metrics/prometheus_server.h"

#include <httplib.h>

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace sluice::metrics {

absl::StatusOr<std::pair<int, int>> ParsePortRange(const std::string& spec) {
  const std::string text(absl::StripAsciiWhitespace(spec));
  const size_t dash = text.find('-');
  int first = 0, last = 0;
  const bool ok = dash == std::string::npos ? absl::SimpleAtoi(text, &first) && (last = first, true)
                                            : absl::SimpleAtoi(text.substr(0, dash), &first) &&
                                                  absl::SimpleAtoi(text.substr(dash + 1), &last);
  if (!ok || first < 0 || last > 65535 || first > last || (first == 0 && last != 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics.reporter.prom.port '", spec,
                     "' is not a port, 0 (a free one) or a range like 9249-9299"));
  }
  return std::make_pair(first, last);
}

struct PrometheusServer::Impl {
  std::string bind_host;
  std::string port_spec;
  std::function<std::string()> render;
  httplib::Server server;
  std::thread thread;
  bool started = false;
};

PrometheusServer::PrometheusServer(std::string bind_host, std::string port_spec,
                                   std::function<std::string()> render)
    : impl_(std::make_unique<Impl>()) {
  impl_->bind_host = std::move(bind_host);
  impl_->port_spec = std::move(port_spec);
  impl_->render = std::move(render);
}

PrometheusServer::~PrometheusServer() { Stop(); }

absl::StatusOr<int> PrometheusServer::Start() {
  auto range = ParsePortRange(impl_->port_spec);
  if (!range.ok()) return range.status();
  httplib::Server& server = impl_->server;
  server.new_task_queue = [] { return new httplib::ThreadPool(2); };
  auto render = impl_->render;
  server.Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  int port = -1;
  if (range->first == 0) {
    port = server.bind_to_any_port(impl_->bind_host);
  } else {
    for (int p = range->first; p <= range->second && port < 0; ++p) {
      if (server.bind_to_port(impl_->bind_host, p)) port = p;
    }
  }
  if (port <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot bind the Prometheus endpoint to ",
                                               impl_->bind_host, ":", impl_->port_spec,
                                               " (every port in use?)"));
  }
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  impl_->started = true;
  return port;
}

void PrometheusServer::Stop() {
  if (!impl_->started) return;
  impl_->started = false;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace sluice::metrics
