// The REST API's routing, kept apart from the HTTP library: a request is a method, a decoded path,
// its query parameters, a body and uploaded files; a response a status code, a content type and a
// body. Routes are Flink-style patterns ("/jobs/:jobid/vertices/:vertexid") matched segment by
// segment. Handlers never see the HTTP library, so they can be tested without a server.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sluice::jobmanager::rest {

struct UploadedFile {
  std::string filename;  // as the client named it: never used as a path
  std::string content;
};

struct RestRequest {
  std::string method;                         // GET, POST, PATCH, PUT, DELETE
  std::string path;                           // decoded
  std::map<std::string, std::string> params;  // ":jobid" -> value, from the route
  std::multimap<std::string, std::string> query;
  std::string body;
  std::map<std::string, UploadedFile> files;  // multipart form fields with a file

  //! The route parameter `name` (without ':'); empty when the route has none.
  const std::string& Param(const std::string& name) const;
  //! The query parameter `name`; `fallback` when absent.
  std::string Query(const std::string& name, const std::string& fallback = "") const;
  bool HasQuery(const std::string& name) const { return query.count(name) > 0; }
};

struct RestResponse {
  int status = 200;
  std::string content_type = "application/json; charset=UTF-8";
  std::string body;
  std::map<std::string, std::string> headers;
};

using RestHandler = std::function<RestResponse(const RestRequest&)>;

//! Flink's error shape: {"errors": [message]} with `status`.
RestResponse ErrorResponse(int status, const std::string& message);
//! The HTTP status of an absl status (InvalidArgument 400, NotFound 404, FailedPrecondition and
//! AlreadyExists 409, Unavailable 503, DeadlineExceeded 504, others 500) with its message.
RestResponse ErrorResponse(const absl::Status& status);

class Router {
 public:
  //! Adds a route. `pattern` segments starting with ':' match any one non-empty segment.
  void Add(const std::string& method, const std::string& pattern, RestHandler handler);
  //! Runs the handler of the route that matches, filling req.params. No route for the path: 404;
  //! routes for the path but not this method: 405 naming the allowed ones.
  RestResponse Handle(RestRequest req) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    RestHandler handler;
  };
  static std::vector<std::string> Split(const std::string& path);
  static bool Match(const Route& route, const std::vector<std::string>& segments,
                    std::map<std::string, std::string>* params);
  std::vector<Route> routes_;
};

}  // namespace sluice::jobmanager::rest
