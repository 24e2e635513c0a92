#include "jobmanager/rest/rest_server.h"

#include <httplib.h>

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "jobmanager/rest/json.h"

namespace sluice::jobmanager::rest {
namespace {

auto Log() { return log::Get("rest"); }

RestRequest ToRestRequest(const httplib::Request& req) {
  RestRequest r;
  r.method = req.method;
  r.path = req.path;
  for (const auto& [k, v] : req.params) r.query.emplace(k, v);
  r.body = req.body;
  for (const auto& [field, file] : req.files) {
    if (!file.filename.empty()) r.files[field] = UploadedFile{file.filename, file.content};
  }
  return r;
}

std::string HttpErrorText(int status) {
  switch (status) {
    case 400:
      return "Bad request: the HTTP request is malformed";
    case 404:
      return "Not found";
    case 413:
      return "Payload too large: the body is over rest.server.max-content-length";
    case 414:
      return "URI too long";
    case 416:
      return "Range not satisfiable";
    default:
      return absl::StrCat("HTTP error ", status);
  }
}

void Send(const RestResponse& r, httplib::Response& res) {
  res.status = r.status;
  for (const auto& [k, v] : r.headers) res.set_header(k, v);
  res.set_content(r.body, r.content_type);
}

}  // namespace

struct RestServer::Impl {
  RestServerOptions options;
  RestContext context;
  Router router;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  bool started = false;
};

RestServer::RestServer(RestServerOptions options, RestContext context)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->context = std::move(context);
  const RestContext* ctx = &impl_->context;  // stable: the Impl never moves
  AddClusterRoutes(impl_->router, ctx);
  AddJobRoutes(impl_->router, ctx);
  AddCheckpointRoutes(impl_->router, ctx);
  AddJarRoutes(impl_->router, ctx);
}

RestServer::~RestServer() { Stop(); }

const Router& RestServer::router() const { return impl_->router; }

std::string RestServer::web_address() const { return impl_->context.web_address; }

absl::StatusOr<int> RestServer::Start() {
  httplib::Server& server = impl_->server;
  const int threads = impl_->options.threads;
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server.set_payload_max_length(impl_->options.max_content_length);
  // The dashboard's files: httplib answers a GET for an existing file before any handler (and
  // refuses paths that leave the folder); every other path goes to the REST routes.
  if (!impl_->options.web_dir.empty() && std::filesystem::is_directory(impl_->options.web_dir)) {
    server.set_mount_point("/", impl_->options.web_dir);
  }
  const Router* router = &impl_->router;
  auto dispatch = [router](const httplib::Request& req, httplib::Response& res) {
    Send(router->Handle(ToRestRequest(req)), res);
  };
  // A request without a body and without Content-Length (`curl -X PATCH URL`, as Flink's docs
  // show for cancel and rescale) is answered before the HTTP layer waits for a body to end.
  server.set_pre_routing_handler([dispatch](const httplib::Request& req, httplib::Response& res) {
    const bool bodiless = (req.method == "PATCH" || req.method == "POST" ||
                           req.method == "DELETE" || req.method == "PUT") &&
                          !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding");
    if (!bodiless) return httplib::Server::HandlerResponse::Unhandled;
    dispatch(req, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  server.Get(".*", dispatch);
  server.Post(".*", dispatch);
  server.Put(".*", dispatch);
  server.Patch(".*", dispatch);
  server.Delete(".*", dispatch);
  server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        Log()->error("{} {} failed: {}", req.method, log::Untrusted(req.path), what);
        Send(ErrorResponse(500, absl::StrCat("Internal server error: ", what)), res);
      });
  // Errors the HTTP layer answers itself (a malformed request, a body over the limit): in
  // Flink's error shape too.
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    Send(ErrorResponse(res.status, HttpErrorText(res.status)), res);
  });
  server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    Log()->debug("{} {} -> {}", req.method, log::Untrusted(req.path), res.status);
  });

  const std::string& host = impl_->options.bind_address;
  int port = impl_->options.port;
  if (port == 0) {
    port = server.bind_to_any_port(host);
    if (port <= 0) {
      return absl::UnavailableError(absl::StrCat("cannot bind the REST server to ", host, ":0"));
    }
  } else if (!server.bind_to_port(host, port)) {
    return absl::UnavailableError(
        absl::StrCat("cannot bind the REST server to ", host, ":", port,
                     " (in use? set rest.port to a free port, or 0 to pick one)"));
  }
  impl_->port = port;
  impl_->context.web_address = absl::StrCat("http://", impl_->options.advertised_host, ":", port);
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  impl_->started = true;
  return port;
}

void RestServer::Stop() {
  if (!impl_->started) return;
  impl_->started = false;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace sluice::jobmanager::rest
