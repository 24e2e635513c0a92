// GET /jobs, /jobs/overview, /jobs/:jobid (and PATCH ?mode=cancel), /jobs/:jobid/plan,
// /jobs/:jobid/config, /jobs/:jobid/exceptions, /jobs/:jobid/metrics, and per vertex: details with
// subtasks, backpressure, watermarks, metrics and aggregated subtask metrics.
#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/clock.h"
#include "common/states.h"
#include "jobmanager/rest/handlers.h"
#include "jobmanager/rest/json.h"
#include "jobmanager/rest/metric_views.h"

namespace sluice::jobmanager::rest {
namespace {

const char* const kExecutionStates[] = {"CREATED",     "SCHEDULED",   "DEPLOYING", "RUNNING",
                                        "FINISHED",    "CANCELING",   "CANCELED",  "FAILED",
                                        "RECONCILING", "INITIALIZING"};
const char* const kJobStates[] = {"INITIALIZING", "CREATED",    "RUNNING",    "FAILING",
                                  "FAILED",       "CANCELLING", "CANCELED",   "FINISHED",
                                  "RESTARTING",   "SUSPENDED",  "RECONCILING"};

//! Subtasks per execution state; `lower` keys as /jobs/overview has them, upper as job details.
Json StateCounts(const std::vector<const proto::SubtaskStatus*>& subtasks, bool lower,
                 bool with_total) {
  Json j = Json::object();
  if (with_total) j["total"] = subtasks.size();
  for (const char* state : kExecutionStates) {
    int n = 0;
    for (const auto* s : subtasks) n += s->state() == state ? 1 : 0;
    std::string key = state;
    if (lower) std::transform(key.begin(), key.end(), key.begin(), ::tolower);
    j[key] = n;
  }
  return j;
}

std::vector<const proto::SubtaskStatus*> SubtasksOf(const proto::VertexStatus& v) {
  std::vector<const proto::SubtaskStatus*> out;
  for (const auto& s : v.subtasks()) out.push_back(&s);
  return out;
}

std::vector<const proto::SubtaskStatus*> SubtasksOf(const proto::JobStatus& job) {
  std::vector<const proto::SubtaskStatus*> out;
  for (const auto& v : job.vertices()) {
    for (const auto& s : v.subtasks()) out.push_back(&s);
  }
  return out;
}

//! Flink's aggregate state of a vertex from its subtasks' states.
std::string VertexState(const proto::VertexStatus& v) {
  std::map<std::string, int> n;
  for (const auto& s : v.subtasks()) ++n[s.state()];
  for (const char* s : {"FAILED", "CANCELING", "CANCELED", "RUNNING"}) {
    if (n[s] > 0) return s;
  }
  if (n["FINISHED"] > 0) return n["FINISHED"] == v.subtasks_size() ? "FINISHED" : "RUNNING";
  for (const char* s : {"INITIALIZING", "DEPLOYING", "SCHEDULED"}) {
    if (n[s] > 0) return s;
  }
  return "CREATED";
}

int64_t Duration(int64_t start, int64_t end, int64_t now) {
  if (start <= 0) return -1;
  return (end > 0 ? end : now) - start;
}

int64_t VertexStart(const proto::VertexStatus& v) {
  int64_t start = 0;
  for (const auto& s : v.subtasks()) {
    if (s.start_time_ms() > 0 && (start == 0 || s.start_time_ms() < start)) {
      start = s.start_time_ms();
    }
  }
  return start;
}

int64_t VertexEnd(const proto::VertexStatus& v) {
  int64_t end = 0;
  for (const auto& s : v.subtasks()) {
    if (s.end_time_ms() <= 0) return 0;  // still running
    end = std::max(end, s.end_time_ms());
  }
  return end;
}

//! Flink's IOMetricsInfo of one subtask, or summed over a vertex.
Json IoMetrics(const std::vector<const proto::SubtaskStatus*>& subtasks) {
  uint64_t rb = 0, wb = 0, rr = 0, wr = 0;
  bool complete = true;
  for (const auto* s : subtasks) {
    rb += s->metrics().num_bytes_in();
    wb += s->metrics().num_bytes_out();
    rr += s->metrics().num_records_in();
    wr += s->metrics().num_records_out();
    complete = complete && s->has_metrics();
  }
  return Json{{"read-bytes", rb},    {"read-bytes-complete", complete},
              {"write-bytes", wb},   {"write-bytes-complete", complete},
              {"read-records", rr},  {"read-records-complete", complete},
              {"write-records", wr}, {"write-records-complete", complete}};
}

Json VertexSummaryJson(const proto::VertexStatus& v, int64_t now) {
  const int64_t start = VertexStart(v), end = VertexEnd(v);
  return Json{{"id", RestVertexId(v.id())},
              {"name", v.name()},
              {"maxParallelism", v.max_parallelism()},
              {"parallelism", v.parallelism()},
              {"status", VertexState(v)},
              {"start-time", start > 0 ? start : -1},
              {"end-time", end > 0 ? end : -1},
              {"duration", Duration(start, end, now)},
              {"tasks", StateCounts(SubtasksOf(v), false, false)},
              {"metrics", IoMetrics(SubtasksOf(v))}};
}

Json PlanJson(const proto::JobStatus& job) {
  Json nodes = Json::array();
  for (const auto& v : job.vertices()) {
    Json node{{"id", RestVertexId(v.id())},
              {"parallelism", v.parallelism()},
              {"operator", ""},
              {"operator_strategy", ""},
              {"description", v.name()},
              {"optimizer_properties", Json::object()}};
    Json inputs = Json::array();
    int num = 0;
    for (const auto& in : v.inputs()) {
      Json i{{"num", num++},
             {"id", RestVertexId(in.vertex_id())},
             {"ship_strategy", in.ship_strategy()},
             {"exchange", "pipelined_bounded"}};
      if (!in.side_output().empty()) i["side_output"] = in.side_output();
      inputs.push_back(i);
    }
    if (!inputs.empty()) node["inputs"] = inputs;
    nodes.push_back(node);
  }
  return Json{{"jid", job.id()}, {"name", job.name()}, {"type", "STREAMING"}, {"nodes", nodes}};
}

//! The highest parallelism of the job's vertices (what `run --parallelism` set).
int JobParallelism(const proto::JobStatus& job) {
  int p = 0;
  for (const auto& v : job.vertices()) p = std::max(p, v.parallelism());
  return p;
}

//! restart-strategy.type, or what applies when it is unset (Flink's rule: exponential-delay
//! with checkpointing, none without).
std::string RestartStrategyName(const config::Configuration& config) {
  std::string type = config.GetString("restart-strategy.type");
  if (!type.empty()) return type;
  return config.GetDurationMs("execution.checkpointing.interval") > 0 ? "exponential-delay"
                                                                      : "none";
}

Json JobDetailsJson(const proto::JobStatus& job) {
  const int64_t now = WallClockMs();
  Json timestamps = Json::object();
  for (const char* state : kJobStates) {
    auto it = job.state_timestamps().find(state);
    timestamps[state] = it == job.state_timestamps().end() ? 0 : it->second;
  }
  Json vertices = Json::array();
  int max_parallelism = 0;
  for (const auto& v : job.vertices()) {
    vertices.push_back(VertexSummaryJson(v, now));
    max_parallelism = std::max(max_parallelism, v.max_parallelism());
  }
  Json j{{"jid", job.id()},
         {"name", job.name()},
         {"isStoppable", false},
         {"state", job.state()},
         {"job-type", "STREAMING"},
         {"start-time", job.start_time_ms()},
         {"end-time", job.end_time_ms() > 0 ? job.end_time_ms() : -1},
         {"duration", Duration(job.start_time_ms(), job.end_time_ms(), now)},
         {"maxParallelism", max_parallelism},
         {"now", now},
         {"timestamps", timestamps},
         {"vertices", vertices},
         {"status-counts", StateCounts(SubtasksOf(job), false, false)},
         {"plan", PlanJson(job)}};
  if (!job.rescale().empty()) j["rescale"] = job.rescale();
  if (!job.failure().empty()) j["failure-cause"] = job.failure();
  return j;
}

Json ExceptionsJson(const proto::JobStatus& job) {
  Json entries = Json::array();
  for (const auto& e : job.exceptions()) {
    const std::string first_line = e.message().substr(0, e.message().find('\n'));
    entries.push_back(
        {{"exceptionName", first_line},
         {"stacktrace", e.message()},
         {"timestamp", e.timestamp_ms()},
         {"taskName", e.task().empty() ? Json(nullptr) : Json(e.task())},
         {"endpoint", nullptr},
         {"taskManagerId", e.taskmanager().empty() ? Json(nullptr) : Json(e.taskmanager())},
         {"failureLabels", Json::object()},
         {"restarted", e.restarted()},
         {"concurrentExceptions", Json::array()}});
  }
  Json j{{"exceptionHistory", {{"entries", entries}, {"truncated", false}}}};
  if (!job.exceptions().empty()) {
    j["root-exception"] = job.exceptions(0).message();
    j["timestamp"] = job.exceptions(0).timestamp_ms();
  } else {
    j["root-exception"] = nullptr;
    j["timestamp"] = nullptr;
  }
  j["all-exceptions"] = Json::array();
  j["truncated"] = false;
  return j;
}

Json SubtaskJson(const proto::SubtaskStatus& s, int64_t now) {
  return Json{{"subtask", s.index()},
              {"status", s.state()},
              {"attempt", s.attempt()},
              {"endpoint", s.taskmanager()},
              {"start-time", s.start_time_ms() > 0 ? s.start_time_ms() : -1},
              {"end-time", s.end_time_ms() > 0 ? s.end_time_ms() : -1},
              {"duration", Duration(s.start_time_ms(), s.end_time_ms(), now)},
              {"metrics", IoMetrics({&s})},
              {"taskmanager-id", s.taskmanager()},
              {"failure-cause", s.failure().empty() ? Json(nullptr) : Json(s.failure())}};
}

//! Flink's levels: a ratio up to 0.10 is ok, up to 0.5 low, above high.
std::string BackPressureLevel(double ratio) {
  if (ratio <= 0.10) return "ok";
  if (ratio <= 0.5) return "low";
  return "high";
}

Json BackPressureJson(const proto::VertexStatus& v) {
  Json subtasks = Json::array();
  double max_ratio = 0;
  for (const auto& s : v.subtasks()) {
    const auto& m = s.metrics();
    const double ratio = std::clamp(m.back_pressured_time_ms_per_second() / 1000.0, 0.0, 1.0);
    max_ratio = std::max(max_ratio, ratio);
    subtasks.push_back({{"subtask", s.index()},
                        {"attempt-number", s.attempt()},
                        {"backpressure-level", BackPressureLevel(ratio)},
                        {"ratio", ratio},
                        {"idleRatio", std::clamp(m.idle_time_ms_per_second() / 1000.0, 0.0, 1.0)},
                        {"busyRatio", std::clamp(m.busy_time_ms_per_second() / 1000.0, 0.0, 1.0)},
                        {"backpressuredTimeMsPerSecond", m.back_pressured_time_ms_per_second()}});
  }
  return Json{{"status", "ok"},
              {"backpressure-level", BackPressureLevel(max_ratio)},
              {"end-timestamp", WallClockMs()},
              {"subtasks", subtasks}};
}

//! `?get=a,b` as a set; empty when absent.
std::set<std::string> Requested(const RestRequest& req) {
  std::set<std::string> out;
  for (auto [it, end] = req.query.equal_range("get"); it != end; ++it) {
    for (absl::string_view s : absl::StrSplit(it->second, ',', absl::SkipEmpty())) {
      out.insert(std::string(s));
    }
  }
  return out;
}

//! Flink's metric query answer: without `get`, the ids; with it, the requested ones that exist
//! with their values (as strings). `texts`: metrics whose value is a text, after the numbers.
RestResponse MetricsAnswer(const std::vector<MetricValue>& metrics, const RestRequest& req,
                           const std::vector<std::pair<std::string, std::string>>& texts = {}) {
  const std::set<std::string> get = Requested(req);
  Json out = Json::array();
  auto add = [&](const std::string& id, const std::string& value) {
    if (get.empty()) {
      out.push_back({{"id", id}});
    } else if (get.count(id)) {
      out.push_back({{"id", id}, {"value", value}});
    }
  };
  for (const MetricValue& m : metrics) add(m.id, MetricText(m.value));
  for (const auto& [id, text] : texts) add(id, text);
  return JsonResponse(out);
}

//! Aggregates of each metric over a vertex's subtasks (`agg=min,max,avg,sum`, default all).
RestResponse AggregatedAnswer(const proto::VertexStatus& v, const RestRequest& req) {
  std::map<std::string, std::vector<double>> by_name;
  std::vector<std::string> order;
  for (const auto& s : v.subtasks()) {
    for (const MetricValue& m : SubtaskMetricValues(s, /*prefix=*/"")) {
      if (!by_name.count(m.id)) order.push_back(m.id);
      by_name[m.id].push_back(m.value);
    }
  }
  std::set<std::string> aggs;
  for (absl::string_view a :
       absl::StrSplit(req.Query("agg", "min,max,avg,sum"), ',', absl::SkipEmpty())) {
    aggs.insert(std::string(a));
  }
  const std::set<std::string> get = Requested(req);
  Json out = Json::array();
  for (const std::string& id : order) {
    if (get.empty()) {
      out.push_back({{"id", id}});
      continue;
    }
    if (!get.count(id)) continue;
    const std::vector<double>& values = by_name[id];
    double sum = 0, lo = values[0], hi = values[0];
    for (double x : values) {
      sum += x;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    Json j{{"id", id}};
    if (aggs.count("min")) j["min"] = lo;
    if (aggs.count("max")) j["max"] = hi;
    if (aggs.count("avg")) j["avg"] = sum / static_cast<double>(values.size());
    if (aggs.count("sum")) j["sum"] = sum;
    out.push_back(j);
  }
  return JsonResponse(out);
}

using VertexView = std::function<RestResponse(const proto::JobStatus&, const proto::VertexStatus&,
                                              const RestRequest&)>;

//! A handler for /jobs/:jobid/vertices/:vertexid/...: 404 for an unknown job or vertex.
RestHandler ForVertex(const RestContext* ctx, VertexView view) {
  return [ctx, view](const RestRequest& req) {
    auto job = ctx->dispatcher->Status(req.Param("jobid"));
    if (!job.ok()) return ErrorResponse(job.status());
    const proto::VertexStatus* v = FindRestVertex(*job, req.Param("vertexid"));
    if (!v) {
      return ErrorResponse(404, absl::StrCat("vertex ", req.Param("vertexid"), " not found in job ",
                                             req.Param("jobid")));
    }
    return view(*job, *v, req);
  };
}

//! A handler for /jobs/:jobid/...: 404 for an unknown job.
RestHandler ForJob(const RestContext* ctx,
                   std::function<RestResponse(const proto::JobStatus&, const RestRequest&)> view) {
  return [ctx, view](const RestRequest& req) {
    auto job = ctx->dispatcher->Status(req.Param("jobid"));
    if (!job.ok()) return ErrorResponse(job.status());
    return view(*job, req);
  };
}

}  // namespace

std::string RestVertexId(const std::string& vertex_id) {
  uint64_t n = 0;
  if (!absl::SimpleAtoi(vertex_id, &n)) return vertex_id;
  return absl::StrFormat("%032x", n);
}

const proto::VertexStatus* FindRestVertex(const proto::JobStatus& status,
                                          const std::string& rest_id) {
  for (const auto& v : status.vertices()) {
    if (RestVertexId(v.id()) == rest_id) return &v;
  }
  return nullptr;
}

void AddJobRoutes(Router& router, const RestContext* ctx) {
  router.Add("GET", "/jobs", [ctx](const RestRequest&) {
    Json jobs = Json::array();
    for (const auto& j : ctx->dispatcher->List()) {
      jobs.push_back({{"id", j.id()}, {"status", j.state()}});
    }
    return JsonResponse(Json{{"jobs", jobs}});
  });

  router.Add("GET", "/jobs/overview", [ctx](const RestRequest&) {
    const int64_t now = WallClockMs();
    Json jobs = Json::array();
    for (const auto& summary : ctx->dispatcher->List()) {
      auto job = ctx->dispatcher->Status(summary.id());
      if (!job.ok()) continue;  // removed meanwhile
      int64_t last_modification = job->start_time_ms();
      for (const auto& [state, ms] : job->state_timestamps()) {
        last_modification = std::max(last_modification, ms);
      }
      jobs.push_back({{"jid", job->id()},
                      {"name", job->name()},
                      {"start-time", job->start_time_ms()},
                      {"end-time", job->end_time_ms() > 0 ? job->end_time_ms() : -1},
                      {"duration", Duration(job->start_time_ms(), job->end_time_ms(), now)},
                      {"state", job->state()},
                      {"last-modification", last_modification},
                      {"tasks", StateCounts(SubtasksOf(*job), true, true)}});
    }
    return JsonResponse(Json{{"jobs", jobs}});
  });

  router.Add("GET", "/jobs/:jobid",
             ForJob(ctx, [](const proto::JobStatus& job, const RestRequest&) {
               return JsonResponse(JobDetailsJson(job));
             }));

  router.Add("PATCH", "/jobs/:jobid", [ctx](const RestRequest& req) {
    const std::string mode = req.Query("mode", "cancel");
    if (mode != "cancel") {
      return ErrorResponse(400, absl::StrCat("mode '", mode,
                                             "' is not supported: use mode=cancel (to stop with a "
                                             "savepoint, POST /jobs/:jobid/stop)"));
    }
    auto job = ctx->dispatcher->Status(req.Param("jobid"));
    if (!job.ok()) return ErrorResponse(job.status());
    if (IsTerminalJobStateName(job->state())) {
      return ErrorResponse(
          409, absl::StrCat("job ", job->id(), " has already ended (", job->state(), ")"));
    }
    auto state = ctx->dispatcher->Cancel(req.Param("jobid"));
    if (!state.ok()) return ErrorResponse(state.status());
    return JsonResponse(Json::object(), 202);
  });

  router.Add("GET", "/jobs/:jobid/plan",
             ForJob(ctx, [](const proto::JobStatus& job, const RestRequest&) {
               return JsonResponse(Json{{"plan", PlanJson(job)}});
             }));

  router.Add("GET", "/jobs/:jobid/config", [ctx](const RestRequest& req) {
    auto job = ctx->dispatcher->Status(req.Param("jobid"));
    if (!job.ok()) return ErrorResponse(job.status());
    auto config = ctx->dispatcher->JobConfig(req.Param("jobid"));
    if (!config.ok()) return ErrorResponse(config.status());
    Json user = Json::object();
    for (const std::string& kv : config->ExplicitOverrides()) {
      const size_t eq = kv.find('=');
      user[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return JsonResponse(Json{{"jid", job->id()},
                             {"name", job->name()},
                             {"execution-config",
                              {{"execution-mode", "PIPELINED"},
                               {"restart-strategy", RestartStrategyName(*config)},
                               {"job-parallelism", JobParallelism(*job)},
                               {"object-reuse-mode", false},
                               {"user-config", user}}}});
  });

  router.Add("GET", "/jobs/:jobid/exceptions",
             ForJob(ctx, [](const proto::JobStatus& job, const RestRequest&) {
               return JsonResponse(ExceptionsJson(job));
             }));

  router.Add("GET", "/jobs/:jobid/metrics", [ctx](const RestRequest& req) {
    auto job = ctx->dispatcher->Status(req.Param("jobid"));
    if (!job.ok()) return ErrorResponse(job.status());
    auto checkpoints = ctx->dispatcher->Checkpoints(req.Param("jobid"));
    if (!checkpoints.ok()) return ErrorResponse(checkpoints.status());
    return MetricsAnswer(JobMetricValues(*job, *checkpoints, WallClockMs()), req,
                         {{"lastCheckpointExternalPath",
                           job->has_last_checkpoint() ? job->last_checkpoint().path() : "n/a"}});
  });

  router.Add(
      "GET", "/jobs/:jobid/vertices/:vertexid",
      ForVertex(ctx, [](const proto::JobStatus&, const proto::VertexStatus& v, const RestRequest&) {
        const int64_t now = WallClockMs();
        Json subtasks = Json::array();
        for (const auto& s : v.subtasks()) subtasks.push_back(SubtaskJson(s, now));
        return JsonResponse(Json{{"id", RestVertexId(v.id())},
                                 {"name", v.name()},
                                 {"parallelism", v.parallelism()},
                                 {"maxParallelism", v.max_parallelism()},
                                 {"now", now},
                                 {"subtasks", subtasks}});
      }));

  router.Add("GET", "/jobs/:jobid/vertices/:vertexid/backpressure",
             ForVertex(ctx, [](const proto::JobStatus&, const proto::VertexStatus& v,
                               const RestRequest&) { return JsonResponse(BackPressureJson(v)); }));

  router.Add(
      "GET", "/jobs/:jobid/vertices/:vertexid/watermarks",
      ForVertex(ctx, [](const proto::JobStatus&, const proto::VertexStatus& v, const RestRequest&) {
        Json out = Json::array();
        for (const auto& s : v.subtasks()) {
          const int64_t wm = s.has_metrics() ? s.metrics().current_input_watermark()
                                             : std::numeric_limits<int64_t>::min();
          out.push_back({{"id", absl::StrCat(s.index(), ".currentInputWatermark")},
                         {"value", absl::StrCat(wm)}});
        }
        return JsonResponse(out);
      }));

  router.Add("GET", "/jobs/:jobid/vertices/:vertexid/metrics",
             ForVertex(ctx, [](const proto::JobStatus&, const proto::VertexStatus& v,
                               const RestRequest& req) {
               std::vector<MetricValue> all;
               for (const auto& s : v.subtasks()) {
                 for (MetricValue& m : SubtaskMetricValues(s, absl::StrCat(s.index(), "."))) {
                   all.push_back(std::move(m));
                 }
               }
               return MetricsAnswer(all, req);
             }));

  router.Add("GET", "/jobs/:jobid/vertices/:vertexid/subtasks/metrics",
             ForVertex(ctx, [](const proto::JobStatus&, const proto::VertexStatus& v,
                               const RestRequest& req) { return AggregatedAnswer(v, req); }));
}

}  // namespace sluice::jobmanager::rest
