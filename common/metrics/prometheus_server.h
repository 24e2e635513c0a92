// A daemon's Prometheus endpoint: GET /metrics answers what `render` writes, in the text format,
// on metrics.reporter.prom.port: a port, 0 for a free one, or a range "9249-9299" whose first free
// port is taken (Flink's syntax, so that the daemons of one machine each find one). Serves on its
// own thread; everything else is 404.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace sluice::metrics {

class PrometheusServer {
 public:
  PrometheusServer(std::string bind_host, std::string port_spec,
                   std::function<std::string()> render);
  ~PrometheusServer();
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  //! Binds and starts serving; returns the port. InvalidArgument for a malformed port spec,
  //! Unavailable when no port of it can be bound.
  absl::StatusOr<int> Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

//! The first and last port of a port spec ("9249", "0", "9249-9299").
absl::StatusOr<std::pair<int, int>> ParsePortRange(const std::string& spec);

}  // namespace sluice::metrics
