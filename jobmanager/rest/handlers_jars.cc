// POST /jars/upload, GET /jars, POST /jars/:jarid/run, DELETE /jars/:jarid.
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "jobmanager/rest/handlers.h"
#include "jobmanager/rest/json.h"
#include "jobmanager/rest/program_args.h"

namespace sluice::jobmanager::rest {
namespace {

//! The run request: body fields, else query parameters (Flink accepts both; the body wins).
absl::StatusOr<proto::SubmitHeader> RunHeader(const RestRequest& req, const JarInfo& jar) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) return body.status();
  proto::SubmitHeader h;
  h.set_package_sha256(jar.sha256);

  std::vector<std::string> args;
  if (body->contains("programArgsList") && !(*body)["programArgsList"].is_null()) {
    const Json& list = (*body)["programArgsList"];
    if (!list.is_array()) return absl::InvalidArgumentError("programArgsList must be an array");
    for (const Json& a : list) {
      if (!a.is_string()) {
        return absl::InvalidArgumentError("programArgsList must hold strings only");
      }
      args.push_back(a.get<std::string>());
    }
  } else {
    std::string text = req.Query("program-args", req.Query("programArg"));
    if (body->contains("programArgs") && !(*body)["programArgs"].is_null()) {
      if (!(*body)["programArgs"].is_string()) {
        return absl::InvalidArgumentError("programArgs must be a string");
      }
      text = (*body)["programArgs"].get<std::string>();
    }
    auto split = SplitProgramArgs(text);
    if (!split.ok()) return split.status();
    args = *std::move(split);
  }
  auto parsed = ParseProgramArgs(args);
  if (!parsed.ok()) return parsed.status();
  for (const auto& [k, v] : *parsed) (*h.mutable_args())[k] = v;

  if (body->contains("parallelism") && !(*body)["parallelism"].is_null()) {
    const Json& p = (*body)["parallelism"];
    if (!p.is_number_integer() || p.get<int64_t>() <= 0 || p.get<int64_t>() > 1 << 20) {
      return absl::InvalidArgumentError("parallelism must be a positive integer");
    }
    h.set_parallelism(static_cast<int32_t>(p.get<int64_t>()));
  } else if (req.HasQuery("parallelism")) {
    int p = 0;
    if (!absl::SimpleAtoi(req.Query("parallelism"), &p) || p <= 0) {
      return absl::InvalidArgumentError("parallelism must be a positive integer");
    }
    h.set_parallelism(p);
  }
  std::string savepoint = req.Query("savepointPath");
  if (body->contains("savepointPath") && !(*body)["savepointPath"].is_null()) {
    if (!(*body)["savepointPath"].is_string()) {
      return absl::InvalidArgumentError("savepointPath must be a string");
    }
    savepoint = (*body)["savepointPath"].get<std::string>();
  }
  h.set_restore_path(savepoint);
  bool allow = req.Query("allowNonRestoredState") == "true";
  if (body->contains("allowNonRestoredState") && !(*body)["allowNonRestoredState"].is_null()) {
    if (!(*body)["allowNonRestoredState"].is_boolean()) {
      return absl::InvalidArgumentError("allowNonRestoredState must be true or false");
    }
    allow = (*body)["allowNonRestoredState"].get<bool>();
  }
  h.set_allow_non_restored_state(allow);
  if (body->contains("flinkConfiguration") && !(*body)["flinkConfiguration"].is_null()) {
    const Json& c = (*body)["flinkConfiguration"];
    if (!c.is_object()) return absl::InvalidArgumentError("flinkConfiguration must be an object");
    for (const auto& [k, v] : c.items()) {
      (*h.mutable_config())[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  if (body->contains("jobName") && (*body)["jobName"].is_string()) {
    h.set_name((*body)["jobName"].get<std::string>());
  }
  return h;
}

}  // namespace

void AddJarRoutes(Router& router, const RestContext* ctx) {
  router.Add("POST", "/jars/upload", [ctx](const RestRequest& req) {
    auto it = req.files.find("jarfile");
    if (it == req.files.end()) {
      return ErrorResponse(400,
                           "upload the package as multipart/form-data in a field named 'jarfile' "
                           "(curl -F jarfile=@job.so)");
    }
    auto jar = ctx->jars->Upload(it->second.filename, it->second.content);
    if (!jar.ok()) return ErrorResponse(jar.status());
    auto path = ctx->jars->PackagePath(*jar);
    return JsonResponse(Json{{"filename", path.ok() ? *path : jar->id}, {"status", "success"}});
  });

  router.Add("GET", "/jars", [ctx](const RestRequest&) {
    Json files = Json::array();
    for (const JarInfo& jar : ctx->jars->List()) {
      files.push_back({{"id", jar.id},
                       {"name", jar.name},
                       {"uploaded", jar.uploaded_ms},
                       {"entry", Json::array()}});
    }
    return JsonResponse(Json{{"address", ctx->web_address}, {"files", files}});
  });

  router.Add("POST", "/jars/:jarid/run", [ctx](const RestRequest& req) {
    auto jar = ctx->jars->Find(req.Param("jarid"));
    if (!jar.ok()) return ErrorResponse(jar.status());
    auto header = RunHeader(req, *jar);
    if (!header.ok()) return ErrorResponse(header.status());
    auto submitted = ctx->dispatcher->Submit(*header, jar->sha256);
    if (!submitted.ok()) return ErrorResponse(submitted.status());
    return JsonResponse(Json{{"jobid", submitted->job_id()}});
  });

  router.Add("DELETE", "/jars/:jarid", [ctx](const RestRequest& req) {
    auto jar = ctx->jars->Find(req.Param("jarid"));
    if (!jar.ok()) return ErrorResponse(jar.status());
    // A job that runs the package fetches it again on every restart: keep it while one runs.
    const bool in_use = ctx->dispatcher->PackageInUse(jar->sha256);
    if (absl::Status s = ctx->jars->Delete(jar->id, !in_use); !s.ok()) return ErrorResponse(s);
    return JsonResponse(Json::object());
  });
}

}  // namespace sluice::jobmanager::rest
