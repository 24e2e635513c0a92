// The JobManager's REST server: Flink's REST API (and later its dashboard) over HTTP, on
// rest.bind-address:rest.port. The HTTP library (cpp-httplib) stays inside rest_server.cc; requests
// go through the Router to the handlers. Serves on its own threads (rest.server.numThreads).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "jobmanager/rest/handlers.h"

namespace sluice::jobmanager::rest {

struct RestServerOptions {
  std::string bind_address = "127.0.0.1";
  int port = 8081;                            // 0: a free port
  std::string advertised_host = "127.0.0.1";  // rest.address
  size_t max_content_length = 100 << 20;
  int threads = 4;
  std::string web_dir;  // the dashboard's files, served at / (none when empty or missing)
};

class RestServer {
 public:
  //! `context`'s services must outlive the server; its web_address is filled in by Start.
  RestServer(RestServerOptions options, RestContext context);
  ~RestServer();
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  //! Binds and starts serving; returns the port. Unavailable when the address cannot be bound.
  absl::StatusOr<int> Start();
  //! Stops serving and joins the server's threads; idempotent.
  void Stop();
  //! "http://<rest.address>:<port>" once started.
  std::string web_address() const;

  //! The routes without HTTP, for tests of the handlers.
  const Router& router() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::jobmanager::rest
