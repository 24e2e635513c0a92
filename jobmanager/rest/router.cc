#include "jobmanager/rest/router.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "jobmanager/rest/json.h"

namespace sluice::jobmanager::rest {

const std::string& RestRequest::Param(const std::string& name) const {
  static const std::string kEmpty;
  auto it = params.find(name);
  return it == params.end() ? kEmpty : it->second;
}

std::string RestRequest::Query(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

RestResponse JsonResponse(const Json& body, int status) {
  RestResponse r;
  r.status = status;
  // Invalid UTF-8 in a message (a file name, user code's exception text) must not throw.
  r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

absl::StatusOr<Json> ParseJsonObject(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError("the request body is not valid JSON");
  }
  if (!j.is_object()) return absl::InvalidArgumentError("the request body must be a JSON object");
  return j;
}

RestResponse ErrorResponse(int status, const std::string& message) {
  return JsonResponse(Json{{"errors", Json::array({message})}}, status);
}

RestResponse ErrorResponse(const absl::Status& status) {
  int code = 500;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      code = 400;
      break;
    case absl::StatusCode::kNotFound:
      code = 404;
      break;
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      code = 409;
      break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
      code = 503;
      break;
    case absl::StatusCode::kDeadlineExceeded:
      code = 504;
      break;
    default:
      break;
  }
  return ErrorResponse(code, std::string(status.message()));
}

std::vector<std::string> Router::Split(const std::string& path) {
  std::vector<std::string> out;
  for (absl::string_view s : absl::StrSplit(path, '/', absl::SkipEmpty())) out.emplace_back(s);
  return out;
}

void Router::Add(const std::string& method, const std::string& pattern, RestHandler handler) {
  routes_.push_back({method, Split(pattern), std::move(handler)});
}

bool Router::Match(const Route& route, const std::vector<std::string>& segments,
                   std::map<std::string, std::string>* params) {
  if (route.segments.size() != segments.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& p = route.segments[i];
    if (!p.empty() && p[0] == ':') {
      found[p.substr(1)] = segments[i];
    } else if (p != segments[i]) {
      return false;
    }
  }
  *params = std::move(found);
  return true;
}

RestResponse Router::Handle(RestRequest req) const {
  const std::vector<std::string> segments = Split(req.path);
  std::set<std::string> allowed;
  // Literal segments win over parameters ("/jobs/overview" over "/jobs/:jobid"): try the route
  // with the most literal segments first.
  const Route* best = nullptr;
  int best_literals = -1;
  std::map<std::string, std::string> best_params;
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    if (!Match(route, segments, &params)) continue;
    if (route.method != req.method) {
      allowed.insert(route.method);
      continue;
    }
    int literals = 0;
    for (const std::string& s : route.segments) literals += (s.empty() || s[0] != ':') ? 1 : 0;
    if (literals > best_literals) {
      best = &route;
      best_literals = literals;
      best_params = std::move(params);
    }
  }
  if (best) {
    req.params = std::move(best_params);
    return best->handler(req);
  }
  if (!allowed.empty()) {
    RestResponse r = ErrorResponse(405, absl::StrCat(req.method, " is not allowed on ", req.path,
                                                     "; use ", absl::StrJoin(allowed, " or ")));
    r.headers["Allow"] = absl::StrJoin(allowed, ", ");
    return r;
  }
  return ErrorResponse(404, absl::StrCat("Not found: ", req.path));
}

}  // namespace sluice::jobmanager::rest
