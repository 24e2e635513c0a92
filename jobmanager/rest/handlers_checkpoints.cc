// GET /jobs/:jobid/checkpoints, .../checkpoints/config, .../checkpoints/details/:checkpointid
// (and /subtasks/:vertexid); POST /jobs/:jobid/savepoints and /jobs/:jobid/stop with
// GET /jobs/:jobid/savepoints/:triggerid; PATCH /jobs/:jobid/rescaling with
// GET /jobs/:jobid/rescaling/:triggerid.
#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "jobmanager/rest/handlers.h"
#include "jobmanager/rest/json.h"

namespace sluice::jobmanager::rest {
namespace {

constexpr char kSavepointOperation[] = "savepoint";
constexpr char kRescaleOperation[] = "rescale";

//! min, max, avg and percentiles of `values` (Flink's StatsSummaryDto); zeros when empty.
Json Summary(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  auto pct = [&](double p) -> double {
    if (values.empty()) return 0;
    const size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size()))) - 1;
    return values[std::min(i, values.size() - 1)];
  };
  double sum = 0;
  for (double v : values) sum += v;
  // Flink's min, max and avg are whole numbers (bytes, milliseconds); the percentiles are not.
  auto whole = [](double v) { return static_cast<int64_t>(std::llround(v)); };
  return Json{{"min", values.empty() ? 0 : whole(values.front())},
              {"max", values.empty() ? 0 : whole(values.back())},
              {"avg", values.empty() ? 0 : whole(sum / static_cast<double>(values.size()))},
              {"p50", pct(0.5)},
              {"p90", pct(0.9)},
              {"p95", pct(0.95)},
              {"p99", pct(0.99)},
              {"p999", pct(0.999)}};
}

bool IsSavepoint(const proto::CheckpointInfo& c) { return c.kind() == "savepoint"; }

//! The acknowledgements of `c` for one vertex (all when `vertex_id` is empty).
std::vector<const proto::SubtaskCheckpointInfo*> Acks(const proto::CheckpointInfo& c,
                                                      const std::string& vertex_id) {
  std::vector<const proto::SubtaskCheckpointInfo*> out;
  for (const auto& s : c.subtasks()) {
    if (vertex_id.empty() || s.vertex_id() == vertex_id) out.push_back(&s);
  }
  return out;
}

//! When a subtask acknowledged, as far as its figures tell: the trigger plus its start delay,
//! alignment and the synchronous and asynchronous parts of its snapshot.
int64_t AckTime(const proto::CheckpointInfo& c, const proto::SubtaskCheckpointInfo& s) {
  return c.trigger_time_ms() + s.start_delay_ms() + s.alignment_duration_ms() +
         s.sync_duration_ms() + s.async_duration_ms();
}

//! One checkpoint as Flink's CheckpointStatistics (completed, failed or pending).
Json CheckpointJson(const proto::CheckpointInfo& c) {
  Json j;
  if (c.status() == "FAILED") {
    j["className"] = ".FailedCheckpointStatistics";
  } else if (c.status() == "COMPLETED") {
    j["className"] = ".CompletedCheckpointStatistics";
  } else {
    j["className"] = ".PendingCheckpointStatistics";
  }
  j["id"] = c.id();
  j["status"] = c.status() == "FINALIZING" ? "IN_PROGRESS" : c.status();
  j["is_savepoint"] = IsSavepoint(c);
  j["savepointFormat"] = IsSavepoint(c) ? Json("CANONICAL") : Json(nullptr);
  j["trigger_timestamp"] = c.trigger_time_ms();
  j["latest_ack_timestamp"] = c.trigger_time_ms() + c.duration_ms();
  j["checkpointed_size"] = c.size_bytes();
  j["state_size"] = c.size_bytes();
  j["end_to_end_duration"] = c.duration_ms();
  j["alignment_buffered"] = 0;
  j["processed_data"] = 0;
  j["persisted_data"] = 0;
  j["num_subtasks"] = c.num_subtasks();
  j["num_acknowledged_subtasks"] = c.num_acknowledged_subtasks();
  j["checkpoint_type"] = IsSavepoint(c) ? "SAVEPOINT" : "CHECKPOINT";
  j["tasks"] = Json::object();
  if (c.status() == "COMPLETED") {
    j["external_path"] = c.path().empty() ? Json(nullptr) : Json(c.path());
    j["discarded"] = false;
  }
  if (c.status() == "FAILED") {
    j["failure_timestamp"] = c.trigger_time_ms() + c.duration_ms();
    j["failure_message"] = c.failure();
  }
  return j;
}

//! Per-vertex figures of one checkpoint (Flink's TaskCheckpointStatistics), keyed by vertex id.
Json TasksJson(const proto::CheckpointInfo& c, const proto::JobStatus& job) {
  Json tasks = Json::object();
  for (const auto& v : job.vertices()) {
    const auto acks = Acks(c, v.id());
    uint64_t size = 0;
    int64_t latest = 0;
    for (const auto* s : acks) {
      size += s->state_size_bytes();
      latest = std::max(latest, AckTime(c, *s));
    }
    tasks[RestVertexId(v.id())] = {
        {"id", c.id()},
        {"status", c.status()},
        {"latest_ack_timestamp", acks.empty() ? -1 : latest},
        {"checkpointed_size", size},
        {"state_size", size},
        {"end_to_end_duration", acks.empty() ? -1 : latest - c.trigger_time_ms()},
        {"alignment_buffered", 0},
        {"processed_data", 0},
        {"persisted_data", 0},
        {"num_subtasks", v.parallelism()},
        {"num_acknowledged_subtasks", acks.size()}};
  }
  return tasks;
}

//! Every subtask of one vertex in one checkpoint (Flink's
//! TaskCheckpointStatisticsWithSubtaskDetails).
Json SubtaskDetailsJson(const proto::CheckpointInfo& c, const proto::VertexStatus& v) {
  const auto acks = Acks(c, v.id());
  Json subtasks = Json::array();
  std::vector<double> sizes, durations, syncs, asyncs, alignments, delays;
  for (int i = 0; i < v.parallelism(); ++i) {
    const proto::SubtaskCheckpointInfo* s = nullptr;
    for (const auto* a : acks) {
      if (a->index() == i) s = a;
    }
    if (!s) {
      subtasks.push_back({{"index", i}, {"status", "pending_or_failed"}});
      continue;
    }
    const int64_t ack = AckTime(c, *s);
    sizes.push_back(static_cast<double>(s->state_size_bytes()));
    durations.push_back(static_cast<double>(ack - c.trigger_time_ms()));
    syncs.push_back(static_cast<double>(s->sync_duration_ms()));
    asyncs.push_back(static_cast<double>(s->async_duration_ms()));
    alignments.push_back(static_cast<double>(s->alignment_duration_ms()));
    delays.push_back(static_cast<double>(s->start_delay_ms()));
    subtasks.push_back(
        {{"index", i},
         {"status", "completed"},
         {"ack_timestamp", ack},
         {"end_to_end_duration", ack - c.trigger_time_ms()},
         {"state_size", s->state_size_bytes()},
         {"checkpointed_size", s->state_size_bytes()},
         {"checkpoint", {{"sync", s->sync_duration_ms()}, {"async", s->async_duration_ms()}}},
         {"alignment",
          {{"buffered", 0},
           {"processed", 0},
           {"persisted", 0},
           {"duration", s->alignment_duration_ms()}}},
         {"start_delay", s->start_delay_ms()},
         {"unaligned_checkpoint", false},
         {"aborted", false}});
  }
  return Json{{"id", c.id()},
              {"status", c.status()},
              {"num_subtasks", v.parallelism()},
              {"num_acknowledged_subtasks", acks.size()},
              {"summary",
               {{"state_size", Summary(sizes)},
                {"checkpointed_size", Summary(sizes)},
                {"end_to_end_duration", Summary(durations)},
                {"checkpoint_duration", {{"sync", Summary(syncs)}, {"async", Summary(asyncs)}}},
                {"alignment", {{"duration", Summary(alignments)}}},
                {"start_delay", Summary(delays)}}},
              {"subtasks", subtasks}};
}

//! `c` with the path and kind of the retained checkpoint or savepoint of the same id (the history
//! keeps neither).
proto::CheckpointInfo WithPath(const proto::CheckpointInfo& c,
                               const proto::CheckpointsResponse& r) {
  proto::CheckpointInfo out = c;
  for (const auto& kept : r.completed()) {
    if (kept.id() != c.id()) continue;
    out.set_path(kept.path());
    out.set_kind(kept.kind());
  }
  return out;
}

Json CheckpointsJson(const proto::CheckpointsResponse& r) {
  std::vector<double> sizes, durations;
  const proto::CheckpointInfo* failed = nullptr;
  for (const auto& c : r.history()) {
    if (c.status() == "COMPLETED") {
      sizes.push_back(static_cast<double>(c.size_bytes()));
      durations.push_back(static_cast<double>(c.duration_ms()));
    } else if (c.status() == "FAILED" && !failed) {
      failed = &c;
    }
  }
  const proto::CheckpointInfo* completed = nullptr;
  const proto::CheckpointInfo* savepoint = nullptr;
  for (const auto& c : r.completed()) {
    if (IsSavepoint(c) && !savepoint) savepoint = &c;
    if (!IsSavepoint(c) && (!completed || c.id() > completed->id())) completed = &c;
  }
  // A history entry has the subtask counts; the retained checkpoint or the savepoint written
  // from it (same id) its path and kind.
  auto merged = [&r](const proto::CheckpointInfo& kept) {
    for (const auto& h : r.history()) {
      if (h.id() != kept.id() || h.status() != "COMPLETED") continue;
      proto::CheckpointInfo c = h;
      c.set_kind(kept.kind());
      c.set_path(kept.path());
      return CheckpointJson(c);
    }
    return CheckpointJson(kept);
  };
  Json latest_completed = completed ? merged(*completed) : Json(nullptr);
  Json latest_savepoint = savepoint ? merged(*savepoint) : Json(nullptr);
  Json history = Json::array();
  for (const auto& c : r.in_progress()) history.push_back(CheckpointJson(c));
  for (const auto& c : r.history()) history.push_back(CheckpointJson(WithPath(c, r)));
  Json restored = nullptr;
  if (r.has_restored()) {
    restored = {{"id", r.restored().id()},
                {"restore_timestamp", r.restored().trigger_time_ms()},
                {"is_savepoint", r.restored().kind() == "savepoint"},
                {"external_path", r.restored().path()}};
  }
  return Json{{"counts",
               {{"restored", r.restarts() + (r.has_restored() ? 1 : 0)},
                {"total", r.completed_count() + r.failed() + r.in_progress_size()},
                {"in_progress", r.in_progress_size()},
                {"completed", r.completed_count()},
                {"failed", r.failed()}}},
              {"summary",
               {{"checkpointed_size", Summary(sizes)},
                {"state_size", Summary(sizes)},
                {"end_to_end_duration", Summary(durations)},
                {"alignment_buffered", Summary({})},
                {"processed_data", Summary({})},
                {"persisted_data", Summary({})}}},
              {"latest",
               {{"completed", latest_completed},
                {"savepoint", latest_savepoint},
                {"failed", failed ? CheckpointJson(*failed) : Json(nullptr)},
                {"restored", restored}}},
              {"history", history}};
}

//! The checkpoint `id` among those in progress, ended or retained; nullptr when unknown.
const proto::CheckpointInfo* FindCheckpoint(const proto::CheckpointsResponse& r, int64_t id) {
  for (const auto& c : r.in_progress()) {
    if (c.id() == id) return &c;
  }
  for (const auto& c : r.history()) {
    if (c.id() == id) return &c;
  }
  for (const auto& c : r.completed()) {
    if (c.id() == id) return &c;
  }
  return nullptr;
}

//! What the details endpoints show: the job, its checkpoint statistics and the one asked for.
struct Details {
  proto::JobStatus job;
  proto::CheckpointsResponse checkpoints;
  proto::CheckpointInfo checkpoint;
};

//! The details of `:checkpointid` of `:jobid`: InvalidArgument for an id that is not a number,
//! NotFound for an unknown job or checkpoint.
absl::StatusOr<Details> LoadDetails(const RestContext* ctx, const RestRequest& req) {
  int64_t id = 0;
  if (!absl::SimpleAtoi(req.Param("checkpointid"), &id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", req.Param("checkpointid"), "' is not a checkpoint id (a number)"));
  }
  Details d;
  auto job = ctx->dispatcher->Status(req.Param("jobid"));
  if (!job.ok()) return job.status();
  d.job = *std::move(job);
  auto r = ctx->dispatcher->Checkpoints(req.Param("jobid"));
  if (!r.ok()) return r.status();
  d.checkpoints = *std::move(r);
  const proto::CheckpointInfo* c = FindCheckpoint(d.checkpoints, id);
  if (!c) {
    return absl::NotFoundError(
        absl::StrCat("Could not find checkpointing statistics for checkpoint ", id, "."));
  }
  d.checkpoint = *c;
  return d;
}

RestResponse OperationStatus(const RestContext* ctx, const char* kind, const RestRequest& req) {
  auto result = ctx->operations->Get(kind, req.Param("jobid"), req.Param("triggerid"));
  if (!result) {
    return ErrorResponse(404, absl::StrCat("There is no ", kind,
                                           " operation with triggerId=", req.Param("triggerid"),
                                           " for job ", req.Param("jobid"), "."));
  }
  if (!result->done) {
    return JsonResponse(Json{{"status", {{"id", "IN_PROGRESS"}}}, {"operation", nullptr}});
  }
  Json operation;
  if (result->outcome.ok()) {
    operation = {{"location", *result->outcome}};
  } else {
    const std::string message(result->outcome.status().message());
    operation = {{"failure-cause",
                  {{"class", absl::StatusCodeToString(result->outcome.status().code())},
                   {"stack-trace", message},
                   {"serialized-throwable", nullptr}}}};
  }
  return JsonResponse(Json{{"status", {{"id", "COMPLETED"}}}, {"operation", operation}});
}

//! A field of the request body: `type` checked; InvalidArgument naming the field otherwise.
template <typename T>
absl::StatusOr<T> BodyField(const Json& body, const char* name, T fallback) {
  if (!body.contains(name) || body[name].is_null()) return fallback;
  try {
    return body[name].get<T>();
  } catch (const Json::exception&) {
    return absl::InvalidArgumentError(absl::StrCat("field '", name, "' has the wrong type"));
  }
}

//! Starts a savepoint (or stop-with-savepoint) of the job in `req` and answers 202 with its id.
RestResponse StartSavepoint(const RestContext* ctx, const RestRequest& req, bool stop) {
  auto body = ParseJsonObject(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  auto dir = BodyField<std::string>(*body, stop ? "targetDirectory" : "target-directory", "");
  auto cancel = BodyField<bool>(*body, "cancel-job", false);
  auto drain = BodyField<bool>(*body, "drain", false);
  for (const absl::Status& s : {dir.status(), cancel.status(), drain.status()}) {
    if (!s.ok()) return ErrorResponse(s);
  }
  auto job = ctx->dispatcher->Status(req.Param("jobid"));
  if (!job.ok()) return ErrorResponse(job.status());
  proto::SavepointRequest sp;
  sp.set_job_id(job->id());
  sp.set_dir(*dir);
  sp.set_stop(stop || *cancel);
  sp.set_drain(stop && *drain);
  Dispatcher* dispatcher = ctx->dispatcher;
  const std::string id = ctx->operations->Start(kSavepointOperation, job->id(), [dispatcher, sp] {
    return dispatcher->TriggerSavepoint(sp);
  });
  return JsonResponse(Json{{"request-id", id}}, 202);
}

}  // namespace

void AddCheckpointRoutes(Router& router, const RestContext* ctx) {
  router.Add("GET", "/jobs/:jobid/checkpoints", [ctx](const RestRequest& req) {
    auto r = ctx->dispatcher->Checkpoints(req.Param("jobid"));
    if (!r.ok()) return ErrorResponse(r.status());
    auto config = ctx->dispatcher->JobConfig(req.Param("jobid"));
    if (!config.ok()) return ErrorResponse(config.status());
    if (!r->enabled() || config->GetDurationMs("execution.checkpointing.interval") <= 0) {
      return ErrorResponse(
          404, absl::StrCat("Checkpointing is not enabled for this job (", req.Param("jobid"),
                            "): set execution.checkpointing.interval"));
    }
    return JsonResponse(CheckpointsJson(*r));
  });

  router.Add("GET", "/jobs/:jobid/checkpoints/config", [ctx](const RestRequest& req) {
    auto config = ctx->dispatcher->JobConfig(req.Param("jobid"));
    if (!config.ok()) return ErrorResponse(config.status());
    if (config->GetDurationMs("execution.checkpointing.interval") <= 0) {
      return ErrorResponse(
          404, absl::StrCat("Checkpointing is not enabled for this job (", req.Param("jobid"),
                            "): set execution.checkpointing.interval"));
    }
    const bool rocksdb = config->GetString("state.backend.type") == "rocksdb";
    return JsonResponse(Json{
        {"mode", "exactly_once"},
        {"interval", config->GetDurationMs("execution.checkpointing.interval")},
        {"timeout", config->GetDurationMs("execution.checkpointing.timeout")},
        {"min_pause", config->GetDurationMs("execution.checkpointing.min-pause")},
        {"max_concurrent", config->GetInt("execution.checkpointing.max-concurrent-checkpoints")},
        {"externalization", {{"enabled", true}, {"delete_on_cancellation", false}}},
        {"state_backend", rocksdb ? "EmbeddedRocksDBStateBackend" : "HashMapStateBackend"},
        {"checkpoint_storage", "FileSystemCheckpointStorage"},
        {"checkpoint_storage_dir", config->GetString("state.checkpoints.dir")},
        {"incremental", rocksdb && config->GetBool("state.backend.incremental")},
        {"num_retained", config->GetInt("state.checkpoints.num-retained")},
        {"unaligned_checkpoints", false},
        {"tolerable_failed_checkpoints",
         config->GetInt("execution.checkpointing.tolerable-failed-checkpoints")},
        {"aligned_checkpoint_timeout", 0},
        {"checkpoints_after_tasks_finish", true},
        {"state_changelog_enabled", false}});
  });

  router.Add("GET", "/jobs/:jobid/checkpoints/details/:checkpointid",
             [ctx](const RestRequest& req) {
               auto d = LoadDetails(ctx, req);
               if (!d.ok()) return ErrorResponse(d.status());
               Json j = CheckpointJson(WithPath(d->checkpoint, d->checkpoints));
               j["tasks"] = TasksJson(d->checkpoint, d->job);
               return JsonResponse(j);
             });

  router.Add("GET", "/jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid",
             [ctx](const RestRequest& req) {
               auto d = LoadDetails(ctx, req);
               if (!d.ok()) return ErrorResponse(d.status());
               const proto::VertexStatus* v = FindRestVertex(d->job, req.Param("vertexid"));
               if (!v) {
                 return ErrorResponse(404,
                                      absl::StrCat("vertex ", req.Param("vertexid"), " not found"));
               }
               return JsonResponse(SubtaskDetailsJson(d->checkpoint, *v));
             });

  router.Add("POST", "/jobs/:jobid/savepoints",
             [ctx](const RestRequest& req) { return StartSavepoint(ctx, req, false); });
  router.Add("POST", "/jobs/:jobid/stop",
             [ctx](const RestRequest& req) { return StartSavepoint(ctx, req, true); });
  router.Add("GET", "/jobs/:jobid/savepoints/:triggerid", [ctx](const RestRequest& req) {
    return OperationStatus(ctx, kSavepointOperation, req);
  });

  router.Add("PATCH", "/jobs/:jobid/rescaling", [ctx](const RestRequest& req) {
    int parallelism = 0;
    if (!absl::SimpleAtoi(req.Query("parallelism"), &parallelism) || parallelism <= 0) {
      return ErrorResponse(400, "the query parameter 'parallelism' must be a positive integer");
    }
    auto job = ctx->dispatcher->Status(req.Param("jobid"));
    if (!job.ok()) return ErrorResponse(job.status());
    proto::RescaleRequest rescale;
    rescale.set_job_id(job->id());
    rescale.set_parallelism(parallelism);
    Dispatcher* dispatcher = ctx->dispatcher;
    const std::string id =
        ctx->operations->Start(kRescaleOperation, job->id(),
                               [dispatcher, rescale] { return dispatcher->Rescale(rescale); });
    return JsonResponse(Json{{"request-id", id}}, 202);
  });
  router.Add("GET", "/jobs/:jobid/rescaling/:triggerid", [ctx](const RestRequest& req) {
    return OperationStatus(ctx, kRescaleOperation, req);
  });
}

}  // namespace sluice::jobmanager::rest
