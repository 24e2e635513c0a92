// GET /config, /overview, /jobmanager/config, /jobmanager/logs[/:logname], /taskmanagers[/:tmid].
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/util/log_files.h"
#include "jobmanager/rest/handlers.h"
#include "jobmanager/rest/json.h"
#include "jobmanager/rest/taskmanager_logs.h"

namespace sluice::jobmanager::rest {
namespace {

//! Largest log answer: the last 64 MiB of a bigger file.
constexpr uint64_t kMaxLogBytes = 64ull << 20;

uint64_t SegmentBytes(const proto::NetworkMemoryStats& n, int64_t segments) {
  return static_cast<uint64_t>(segments) * static_cast<uint64_t>(n.segment_size());
}

Json HardwareJson(const proto::TaskManagerInfo& tm) {
  return Json{{"cpuCores", tm.process().cpu_cores()},
              {"physicalMemory", tm.process().physical_memory_bytes()},
              {"freeMemory", nullptr},
              {"managedMemory", 0}};
}

Json TaskManagerJson(const proto::TaskManagerInfo& tm) {
  const proto::NetworkMemoryStats& n = tm.network();
  const uint64_t network_bytes = SegmentBytes(n, n.total_segments());
  Json j{{"id", tm.id()},
         {"path", tm.address()},
         {"dataPort", 0},
         {"jmxPort", -1},
         // Flink's field holds the time of the last heartbeat (epoch ms), despite its name.
         {"timeSinceLastHeartbeat", tm.last_heartbeat_ms()},
         {"slotsNumber", tm.slots()},
         {"freeSlots", tm.free_slots()},
         {"totalResource",
          {{"cpuCores", tm.slots()}, {"networkMemory", network_bytes}, {"managedMemory", 0}}},
         {"freeResource",
          {{"cpuCores", tm.free_slots()},
           {"networkMemory", SegmentBytes(n, n.total_segments() - n.used_segments())},
           {"managedMemory", 0}}},
         {"hardware", HardwareJson(tm)},
         {"memoryConfiguration", {{"networkMemory", network_bytes}}},
         {"blocked", false},
         {"dataAddress", tm.data_address()},
         {"metricsAddress", tm.metrics_address()}};
  const size_t colon = tm.data_address().rfind(':');
  if (colon != std::string::npos) {
    j["dataPort"] = std::atoi(tm.data_address().c_str() + colon + 1);
  }
  return j;
}

Json TaskManagerMetricsJson(const proto::TaskManagerInfo& tm) {
  const proto::NetworkMemoryStats& n = tm.network();
  const int64_t available = n.total_segments() - n.used_segments();
  return Json{{"nettyShuffleMemorySegmentsAvailable", available},
              {"nettyShuffleMemorySegmentsUsed", n.used_segments()},
              {"nettyShuffleMemorySegmentsTotal", n.total_segments()},
              {"nettyShuffleMemoryAvailable", SegmentBytes(n, available)},
              {"nettyShuffleMemoryUsed", SegmentBytes(n, n.used_segments())},
              {"nettyShuffleMemoryTotal", SegmentBytes(n, n.total_segments())},
              {"nettyShuffleMemorySegmentsPeakUsed", n.peak_used_segments()},
              {"networkSegmentSize", n.segment_size()},
              // A native process has no JVM heap: its resident and virtual memory instead.
              {"rssBytes", tm.process().rss_bytes()},
              {"virtualMemoryBytes", tm.process().virtual_bytes()},
              {"cpuTimeMs", tm.process().cpu_time_ms()},
              {"threads", tm.process().threads()},
              {"garbageCollectors", Json::array()}};
}

RestResponse LogListJson(const absl::StatusOr<std::vector<LogFileInfo>>& files) {
  if (!files.ok()) return ErrorResponse(files.status());
  Json logs = Json::array();
  for (const LogFileInfo& f : *files) {
    logs.push_back({{"name", f.name}, {"size", f.size}, {"mtime", f.mtime_ms}});
  }
  return JsonResponse(Json{{"logs", logs}});
}

RestResponse LogText(const absl::StatusOr<std::string>& text) {
  if (!text.ok()) return ErrorResponse(text.status());
  RestResponse r;
  r.content_type = "text/plain; charset=UTF-8";
  r.body = *std::move(text);
  return r;
}

absl::StatusOr<proto::TaskManagerInfo> FindTaskManager(const RestContext* ctx,
                                                       const std::string& id) {
  for (auto& tm : ctx->resource_manager->List()) {
    if (tm.id() == id) return tm;
  }
  return absl::NotFoundError(absl::StrCat("TaskManager ", id, " not found"));
}

}  // namespace

void AddClusterRoutes(Router& router, const RestContext* ctx) {
  router.Add("GET", "/config", [ctx](const RestRequest&) {
    return JsonResponse(
        Json{{"refresh-interval", ctx->config->GetDurationMs("web.refresh-interval")},
             {"timezone-name", "Coordinated Universal Time"},
             {"timezone-offset", 0},
             {"flink-version", SLUICE_VERSION},
             {"flink-revision", "sluice"},
             {"features",
              {{"web-submit", true},
               {"web-cancel", true},
               {"web-rescale", true},
               {"web-history", false}}}});
  });

  router.Add("GET", "/overview", [ctx](const RestRequest&) {
    int slots = 0, free = 0;
    const std::vector<proto::TaskManagerInfo> tms = ctx->resource_manager->List();
    for (const auto& tm : tms) {
      slots += tm.slots();
      free += tm.free_slots();
    }
    int running = 0, finished = 0, cancelled = 0, failed = 0;
    for (const proto::JobSummary& j : ctx->dispatcher->List()) {
      if (j.state() == "FINISHED") {
        ++finished;
      } else if (j.state() == "CANCELED") {
        ++cancelled;
      } else if (j.state() == "FAILED") {
        ++failed;
      } else {
        ++running;
      }
    }
    return JsonResponse(Json{{"taskmanagers", tms.size()},
                             {"slots-total", slots},
                             {"slots-available", free},
                             {"jobs-running", running},
                             {"jobs-finished", finished},
                             {"jobs-cancelled", cancelled},
                             {"jobs-failed", failed},
                             {"flink-version", SLUICE_VERSION},
                             {"flink-commit", "sluice"}});
  });

  router.Add("GET", "/jobmanager/config", [ctx](const RestRequest&) {
    const std::vector<std::string> set = ctx->config->ExplicitOverrides();
    Json entries = Json::array();
    for (const config::Option& o : config::AllOptions()) {
      std::string value = o.default_value;
      const std::string prefix = o.key + "=";
      for (const std::string& kv : set) {
        if (kv.compare(0, prefix.size(), prefix) == 0) value = kv.substr(prefix.size());
      }
      entries.push_back({{"key", o.key}, {"value", value}});
    }
    return JsonResponse(entries);
  });

  router.Add("GET", "/jobmanager/logs",
             [ctx](const RestRequest&) { return LogListJson(ListLogFiles(ctx->log_dir)); });
  router.Add("GET", "/jobmanager/logs/:logname", [ctx](const RestRequest& req) {
    return LogText(ReadLogFile(ctx->log_dir, req.Param("logname"), kMaxLogBytes));
  });
  router.Add("GET", "/taskmanagers/:tmid/logs", [ctx](const RestRequest& req) {
    auto tm = FindTaskManager(ctx, req.Param("tmid"));
    if (!tm.ok()) return ErrorResponse(tm.status());
    return LogListJson(ListTaskManagerLogs(tm->address()));
  });
  router.Add("GET", "/taskmanagers/:tmid/logs/:logname", [ctx](const RestRequest& req) {
    // Checked before the TaskManager is asked (which checks again).
    if (absl::Status s = CheckLogFileName(req.Param("logname")); !s.ok()) {
      return ErrorResponse(s);
    }
    auto tm = FindTaskManager(ctx, req.Param("tmid"));
    if (!tm.ok()) return ErrorResponse(tm.status());
    return LogText(ReadTaskManagerLog(tm->address(), req.Param("logname"), kMaxLogBytes));
  });

  // Prometheus' HTTP service discovery (http_sd_configs): every daemon's /metrics endpoint, so
  // that one scrape configuration finds TaskManagers as they come and go.
  router.Add("GET", "/metrics/targets", [ctx](const RestRequest&) {
    Json targets = Json::array();
    if (!ctx->metrics_address.empty()) {
      targets.push_back(
          {{"targets", {ctx->metrics_address}}, {"labels", {{"sluice_daemon", "jobmanager"}}}});
    }
    for (const auto& tm : ctx->resource_manager->List()) {
      if (tm.metrics_address().empty()) continue;
      targets.push_back({{"targets", {tm.metrics_address()}},
                         {"labels", {{"sluice_daemon", "taskmanager"}, {"tm_id", tm.id()}}}});
    }
    return JsonResponse(targets);
  });

  router.Add("GET", "/taskmanagers", [ctx](const RestRequest&) {
    Json tms = Json::array();
    for (const auto& tm : ctx->resource_manager->List()) tms.push_back(TaskManagerJson(tm));
    return JsonResponse(Json{{"taskmanagers", tms}});
  });

  router.Add("GET", "/taskmanagers/:tmid", [ctx](const RestRequest& req) {
    auto tm = FindTaskManager(ctx, req.Param("tmid"));
    if (!tm.ok()) return ErrorResponse(tm.status());
    Json j = TaskManagerJson(*tm);
    j["metrics"] = TaskManagerMetricsJson(*tm);
    Json slots = Json::array();
    for (const std::string& job : tm->slot_jobs()) {
      if (!job.empty()) slots.push_back({{"jobId", job}, {"resource", {{"cpuCores", 1}}}});
    }
    j["allocatedSlots"] = slots;
    return JsonResponse(j);
  });
}

}  // namespace sluice::jobmanager::rest
