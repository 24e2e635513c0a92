// JSON for the REST API: nlohmann's, with keys in the order they are set (as Flink prints them).
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "jobmanager/rest/router.h"

namespace sluice::jobmanager::rest {

using Json = nlohmann::ordered_json;

//! `body` as the response's JSON body.
RestResponse JsonResponse(const Json& body, int status = 200);

//! Parses a request body as a JSON object; an empty body is an empty object. InvalidArgument
//! naming the problem for anything else.
absl::StatusOr<Json> ParseJsonObject(const std::string& body);

}  // namespace sluice::jobmanager::rest
