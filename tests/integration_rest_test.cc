// The REST API against a real cluster (one JobManager, two TaskManagers as processes), spoken to
// over HTTP as curl would: the read endpoints with Flink's field names, a package uploaded as
// multipart and run, a savepoint triggered and polled, rescale, stop and cancel, the exception
// history after a TaskManager is killed, and the bad input: unknown ids (404), malformed JSON
// (400), a file that is not a package (400, the JobManager stays up), an oversized body (413), and
// path traversal on log names and upload names (every variant refused, nothing outside the log
// folder readable).

#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct HttpResult {
  int status = 0;  // 0: no answer
  std::string body;
  Json json() const { return Json::parse(body, nullptr, false); }
  std::string Describe() const { return absl::StrCat("HTTP ", status, ": ", body.substr(0, 2000)); }
};

//! A client of the cluster's REST API (one connection per request, as curl).
class Rest {
 public:
  explicit Rest(const std::string& base) : base_(base) {}
  HttpResult Get(const std::string& path) { return Wrap(Client().Get(path)); }
  HttpResult Post(const std::string& path, const std::string& body) {
    return Wrap(Client().Post(path, body, "application/json"));
  }
  HttpResult Patch(const std::string& path) { return Wrap(Client().Patch(path)); }
  HttpResult Delete(const std::string& path) { return Wrap(Client().Delete(path)); }
  HttpResult Upload(const std::string& field, const std::string& filename,
                    const std::string& content) {
    httplib::MultipartFormDataItems items = {
        {field, content, filename, "application/octet-stream"}};
    return Wrap(Client().Post("/jars/upload", items));
  }
  //! Sends `target` exactly as written (no encoding by the client), for traversal attempts.
  HttpResult RawGet(const std::string& target) {
    httplib::Request req;
    req.method = "GET";
    req.path = target;
    return Wrap(Client().send(req));
  }

 private:
  httplib::Client Client() {
    httplib::Client c(base_);
    c.set_connection_timeout(10);
    c.set_read_timeout(120);
    return c;
  }
  static HttpResult Wrap(const httplib::Result& r) {
    HttpResult out;
    if (r) {
      out.status = r->status;
      out.body = r->body;
    }
    return out;
  }
  std::string base_;
};

class IntegrationRest : public ::testing::Test {
 protected:
  void SetUp() override { Start({}); }

  void Start(std::vector<std::string> defines) {
    cluster_ = std::make_unique<LocalCluster>();
    ClusterOptions options;
    options.taskmanagers = 2;
    options.slots = 2;
    options.defines = std::move(defines);
    absl::Status started = cluster_->Start(options);
    ASSERT_TRUE(started.ok()) << started;
    const std::string url = cluster_->RestAddress();
    ASSERT_TRUE(absl::StartsWith(url, "http://127.0.0.1:")) << url;
    rest_ = std::make_unique<Rest>(url);
    base_url_ = url;
  }

  //! Uploads the ledger example and runs it (back-pressured by a slow sink, checkpoints every
  //! second) at `parallelism`; returns the job id.
  std::string RunLedger(int parallelism, int sink_delay_us = 1000) {
    HttpResult up = rest_->Upload("jarfile", "ledger.so", ReadFile(ExamplePackage("ledger")));
    EXPECT_EQ(up.status, 200) << up.Describe();
    Json uploaded = up.json();
    std::string filename = uploaded.value("filename", "");
    std::string jar_id = filename.substr(filename.rfind('/') + 1);
    Json body{
        {"programArgs",
         absl::StrCat("transactions=0 rate=0 sink_delay_us=", sink_delay_us, " --output ",
                      cluster_->NewDir("out-" + jar_id.substr(0, 4) + std::to_string(runs_++)))},
        {"parallelism", parallelism},
        {"flinkConfiguration",
         {{"execution.checkpointing.interval", "1s"},
          {"state.checkpoints.dir", cluster_->ScratchPath("checkpoints")},
          {"state.savepoints.dir", cluster_->ScratchPath("savepoints")}}}};
    HttpResult run = rest_->Post("/jars/" + jar_id + "/run", body.dump());
    EXPECT_EQ(run.status, 200) << run.Describe();
    return run.json().value("jobid", "");
  }

  //! Polls GET `path` until `done(json)` holds; returns the last answer.
  HttpResult WaitFor(const std::string& path, const std::function<bool(const Json&)>& done,
                     absl::Duration timeout = kWaitTimeout) {
    HttpResult last;
    WaitUntil(
        [&] {
          last = rest_->Get(path);
          Json j = last.json();
          return last.status == 200 && !j.is_discarded() && done(j);
        },
        timeout);
    return last;
  }

  //! Polls an asynchronous operation (savepoints/:id, rescaling/:id) until COMPLETED.
  Json WaitForOperation(const std::string& path) {
    HttpResult r = WaitFor(
        path, [](const Json& j) { return j["status"]["id"] == "COMPLETED"; }, absl::Minutes(3));
    return r.json();
  }

  std::string VertexNamed(const Json& job, const std::string& part) {
    for (const Json& v : job["vertices"]) {
      if (absl::StrContains(v["name"].get<std::string>(), part)) return v["id"];
    }
    return "";
  }

  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Rest> rest_;
  std::string base_url_;
  int runs_ = 0;
};

TEST_F(IntegrationRest, ReadEndpointsAnswerWithFlinksShapes) {
  Json config = rest_->Get("/config").json();
  EXPECT_GT(config["refresh-interval"].get<int64_t>(), 0) << config;
  EXPECT_TRUE(config["features"]["web-submit"].get<bool>()) << config;

  HttpResult overview = WaitFor("/overview", [](const Json& j) { return j["taskmanagers"] == 2; });
  Json o = overview.json();
  EXPECT_EQ(o["slots-total"], 4) << o;
  EXPECT_EQ(o["slots-available"], 4) << o;
  EXPECT_EQ(o["jobs-running"], 0) << o;

  const std::string job = RunLedger(2);
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(cluster_->WaitForAllRunning(job).ok());

  Json jobs = rest_->Get("/jobs").json();
  ASSERT_EQ(jobs["jobs"].size(), 1u) << jobs;
  EXPECT_EQ(jobs["jobs"][0]["id"], job);
  EXPECT_EQ(jobs["jobs"][0]["status"], "RUNNING");

  Json jo = rest_->Get("/jobs/overview").json();
  ASSERT_EQ(jo["jobs"].size(), 1u) << jo;
  EXPECT_EQ(jo["jobs"][0]["jid"], job);
  EXPECT_EQ(jo["jobs"][0]["name"], "ledger");
  EXPECT_EQ(jo["jobs"][0]["state"], "RUNNING");
  EXPECT_GT(jo["jobs"][0]["tasks"]["total"].get<int>(), 0) << jo;
  EXPECT_EQ(jo["jobs"][0]["tasks"]["total"], jo["jobs"][0]["tasks"]["running"]) << jo;

  // The details agree with the CLI's view (both go through the same JobManager services).
  Json details = rest_->Get("/jobs/" + job).json();
  absl::StatusOr<JsonValue> cli = cluster_->JobStatus(job);
  ASSERT_TRUE(cli.ok());
  ASSERT_EQ(details["vertices"].size(),
            static_cast<size_t>(Field(*cli, "vertices").list_value().values_size()))
      << details;
  EXPECT_EQ(details["state"], "RUNNING");
  EXPECT_GT(details["timestamps"]["RUNNING"].get<int64_t>(), 0) << details;
  for (const Json& v : details["vertices"]) {
    EXPECT_EQ(v["id"].get<std::string>().size(), 32u) << v;
    EXPECT_EQ(v["parallelism"], 2) << v;
    EXPECT_EQ(v["status"], "RUNNING") << v;
    EXPECT_EQ(v["tasks"]["RUNNING"], 2) << v;
    EXPECT_TRUE(v["metrics"].contains("write-records")) << v;
  }
  const std::string source = VertexNamed(details, "Transactions");
  const std::string sink = VertexNamed(details, "Ledger file sink");
  ASSERT_FALSE(source.empty()) << details;
  ASSERT_FALSE(sink.empty()) << details;

  Json plan = rest_->Get("/jobs/" + job + "/plan").json();
  ASSERT_EQ(plan["plan"]["nodes"].size(), details["vertices"].size()) << plan;
  bool hash_edge = false;
  for (const Json& n : plan["plan"]["nodes"]) {
    if (!n.contains("inputs")) continue;
    for (const Json& in : n["inputs"]) hash_edge = hash_edge || in["ship_strategy"] == "HASH";
  }
  EXPECT_TRUE(hash_edge) << "the ledger is keyed by account: " << plan;

  Json vertex = rest_->Get("/jobs/" + job + "/vertices/" + sink).json();
  ASSERT_EQ(vertex["subtasks"].size(), 2u) << vertex;
  for (const Json& s : vertex["subtasks"]) {
    EXPECT_EQ(s["status"], "RUNNING") << s;
    EXPECT_TRUE(absl::StartsWith(s["taskmanager-id"].get<std::string>(), "tm-")) << s;
  }

  // The slow sink back-pressures the source: Flink's levels per subtask.
  HttpResult bp =
      WaitFor("/jobs/" + job + "/vertices/" + source + "/backpressure", [](const Json& j) {
        for (const Json& s : j["subtasks"]) {
          if (s["backpressure-level"] != "high") return false;
        }
        return j["backpressure-level"] == "high";
      });
  EXPECT_EQ(bp.json()["backpressure-level"], "high") << bp.Describe();
  ASSERT_EQ(bp.json()["subtasks"].size(), 2u);
  EXPECT_GT(bp.json()["subtasks"][0]["ratio"].get<double>(), 0.5) << bp.Describe();

  Json wm = rest_->Get("/jobs/" + job + "/vertices/" + sink + "/watermarks").json();
  ASSERT_EQ(wm.size(), 2u) << wm;
  EXPECT_EQ(wm[0]["id"], "0.currentInputWatermark") << wm;

  Json ids = rest_->Get("/jobs/" + job + "/vertices/" + sink + "/metrics").json();
  bool has_out = false;
  for (const Json& m : ids) has_out = has_out || m["id"] == "1.numRecordsInPerSecond";
  EXPECT_TRUE(has_out) << ids;
  Json values = WaitFor("/jobs/" + job + "/vertices/" + sink +
                            "/metrics?get=0.numRecordsIn,0.busyTimeMsPerSecond",
                        [](const Json& j) { return j.size() == 2; })
                    .json();
  ASSERT_EQ(values.size(), 2u) << values;
  EXPECT_TRUE(values[0]["value"].is_string()) << values;
  Json agg = rest_
                 ->Get("/jobs/" + job + "/vertices/" + sink +
                       "/subtasks/metrics?get=numRecordsInPerSecond&agg=sum,max")
                 .json();
  ASSERT_EQ(agg.size(), 1u) << agg;
  EXPECT_TRUE(agg[0].contains("sum") && agg[0].contains("max") && !agg[0].contains("min")) << agg;

  Json metrics = rest_->Get("/jobs/" + job + "/metrics?get=numRestarts,uptime").json();
  ASSERT_EQ(metrics.size(), 2u) << metrics;
  EXPECT_EQ(metrics[0]["id"], "numRestarts");
  EXPECT_EQ(metrics[0]["value"], "0");

  // Checkpoints: counts, history, details per vertex and per subtask, configuration.
  HttpResult cps = WaitFor("/jobs/" + job + "/checkpoints",
                           [](const Json& j) { return j["counts"]["completed"] >= 2; });
  Json c = cps.json();
  ASSERT_GE(c["counts"]["completed"].get<int>(), 2) << cps.Describe();
  ASSERT_TRUE(c["latest"]["completed"].is_object()) << c;
  EXPECT_EQ(c["latest"]["completed"]["status"], "COMPLETED");
  EXPECT_TRUE(
      fs::exists(c["latest"]["completed"]["external_path"].get<std::string>() + "/_metadata"))
      << c;
  ASSERT_FALSE(c["history"].empty()) << c;
  int64_t id = -1;
  for (const Json& h : c["history"]) {
    if (h["status"] == "COMPLETED") {
      id = h["id"];
      break;
    }
  }
  ASSERT_GT(id, 0) << c;
  Json detail = rest_->Get(absl::StrCat("/jobs/", job, "/checkpoints/details/", id)).json();
  EXPECT_EQ(detail["id"], id) << detail;
  ASSERT_TRUE(detail["tasks"].contains(sink)) << detail;
  EXPECT_EQ(detail["tasks"][sink]["num_acknowledged_subtasks"], 2) << detail;
  Json sub =
      rest_->Get(absl::StrCat("/jobs/", job, "/checkpoints/details/", id, "/subtasks/", sink))
          .json();
  ASSERT_EQ(sub["subtasks"].size(), 2u) << sub;
  EXPECT_EQ(sub["subtasks"][0]["status"], "completed") << sub;
  EXPECT_TRUE(sub["subtasks"][0]["checkpoint"].contains("sync")) << sub;
  Json cfg = rest_->Get("/jobs/" + job + "/checkpoints/config").json();
  EXPECT_EQ(cfg["mode"], "exactly_once") << cfg;
  EXPECT_EQ(cfg["interval"], 1000) << cfg;

  Json exceptions = rest_->Get("/jobs/" + job + "/exceptions").json();
  EXPECT_TRUE(exceptions["exceptionHistory"]["entries"].empty()) << exceptions;

  // TaskManagers with slots, memory and network buffers; their logs and the JobManager's.
  Json tms = rest_->Get("/taskmanagers").json();
  ASSERT_EQ(tms["taskmanagers"].size(), 2u) << tms;
  const std::string tm = tms["taskmanagers"][0]["id"];
  Json tmd = rest_->Get("/taskmanagers/" + tm).json();
  EXPECT_EQ(tmd["slotsNumber"], 2) << tmd;
  EXPECT_GT(tmd["metrics"]["rssBytes"].get<int64_t>(), 0) << tmd;
  EXPECT_GT(tmd["metrics"]["nettyShuffleMemorySegmentsTotal"].get<int64_t>(), 0) << tmd;
  EXPECT_GT(tmd["metrics"]["nettyShuffleMemorySegmentsUsed"].get<int64_t>(), 0)
      << "a job is deployed: " << tmd;
  Json tm_logs = rest_->Get("/taskmanagers/" + tm + "/logs").json();
  bool listed = false;
  for (const Json& l : tm_logs["logs"]) listed = listed || l["name"] == "jobmanager.log";
  EXPECT_TRUE(listed) << tm_logs;
  HttpResult tm_log = rest_->Get("/taskmanagers/" + tm + "/logs/jobmanager.log");
  EXPECT_EQ(tm_log.status, 200);
  EXPECT_TRUE(absl::StrContains(tm_log.body, "JobManager listening")) << tm_log.Describe();
  Json jm_logs = rest_->Get("/jobmanager/logs").json();
  EXPECT_GE(jm_logs["logs"].size(), 3u) << jm_logs;
  HttpResult jm_log = rest_->Get("/jobmanager/logs/jobmanager.log");
  EXPECT_EQ(jm_log.status, 200);
  EXPECT_TRUE(absl::StrContains(jm_log.body, "REST API and dashboard listening"))
      << jm_log.Describe();
}

TEST_F(IntegrationRest, SavepointRescaleStopCancelAndTheExceptionHistory) {
  const std::string job = RunLedger(2, 200);
  ASSERT_TRUE(cluster_->WaitForAllRunning(job).ok());
  WaitFor("/jobs/" + job + "/checkpoints",
          [](const Json& j) { return j["counts"]["completed"] >= 1; });

  // A savepoint, triggered and polled.
  HttpResult trigger = rest_->Post("/jobs/" + job + "/savepoints",
                                   Json{{"target-directory", cluster_->ScratchPath("sp1")}}.dump());
  ASSERT_EQ(trigger.status, 202) << trigger.Describe();
  const std::string tid = trigger.json()["request-id"];
  Json done = WaitForOperation("/jobs/" + job + "/savepoints/" + tid);
  ASSERT_TRUE(done["operation"].contains("location")) << done;
  const std::string location = done["operation"]["location"];
  EXPECT_TRUE(absl::StartsWith(location, cluster_->ScratchPath("sp1"))) << location;
  EXPECT_TRUE(fs::exists(location + "/_metadata")) << location;
  Json c = rest_->Get("/jobs/" + job + "/checkpoints").json();
  ASSERT_TRUE(c["latest"]["savepoint"].is_object()) << c;
  EXPECT_EQ(c["latest"]["savepoint"]["external_path"], location) << c;

  // Rescale to 3: the job runs again at the new parallelism, restored from a snapshot.
  HttpResult rescale = rest_->Patch("/jobs/" + job + "/rescaling?parallelism=3");
  ASSERT_EQ(rescale.status, 202) << rescale.Describe();
  Json rescaled = WaitForOperation("/jobs/" + job + "/rescaling/" +
                                   rescale.json()["request-id"].get<std::string>());
  ASSERT_TRUE(rescaled["operation"].contains("location")) << rescaled;
  HttpResult at3 = WaitFor("/jobs/" + job, [](const Json& j) {
    if (j["state"] != "RUNNING") return false;
    for (const Json& v : j["vertices"]) {
      if (v["parallelism"] != 3 || v["status"] != "RUNNING") return false;
    }
    return true;
  });
  EXPECT_EQ(at3.json()["vertices"][0]["parallelism"], 3) << at3.Describe();

  // A TaskManager dies: the job restarts; the history names the failure and the TaskManager.
  absl::StatusOr<std::string> tm1 = cluster_->TaskManagerId(1);
  ASSERT_TRUE(tm1.ok()) << tm1.status();
  ASSERT_TRUE(cluster_->KillTaskManager(1).ok());
  ASSERT_TRUE(cluster_->AddTaskManager().ok());
  HttpResult history = WaitFor("/jobs/" + job + "/exceptions", [](const Json& j) {
    return !j["exceptionHistory"]["entries"].empty();
  });
  Json entry = history.json()["exceptionHistory"]["entries"][0];
  EXPECT_EQ(entry["taskManagerId"], *tm1) << entry;
  EXPECT_TRUE(entry["restarted"].get<bool>()) << entry;
  EXPECT_GT(entry["timestamp"].get<int64_t>(), 0) << entry;
  EXPECT_TRUE(absl::StrContains(history.json()["root-exception"].get<std::string>(), *tm1))
      << history.Describe();
  Json restarts = rest_->Get("/jobs/" + job + "/metrics?get=numRestarts").json();
  ASSERT_EQ(restarts.size(), 1u) << restarts;
  EXPECT_EQ(restarts[0]["value"], "1") << restarts;
  ASSERT_TRUE(cluster_->WaitForAllRunning(job).ok());

  // Stop with a savepoint: the job finishes.
  HttpResult stop =
      rest_->Post("/jobs/" + job + "/stop",
                  Json{{"targetDirectory", cluster_->ScratchPath("sp2")}, {"drain", false}}.dump());
  ASSERT_EQ(stop.status, 202) << stop.Describe();
  Json stopped = WaitForOperation("/jobs/" + job + "/savepoints/" +
                                  stop.json()["request-id"].get<std::string>());
  ASSERT_TRUE(stopped["operation"].contains("location")) << stopped;
  EXPECT_TRUE(fs::exists(stopped["operation"]["location"].get<std::string>() + "/_metadata"));
  WaitFor("/jobs/" + job, [](const Json& j) { return j["state"] == "FINISHED"; });
  EXPECT_EQ(rest_->Get("/jobs/" + job).json()["state"], "FINISHED");

  // A second job, cancelled.
  const std::string other = RunLedger(2);
  ASSERT_TRUE(cluster_->WaitForAllRunning(other).ok());
  // As Flink's docs show it: curl -X PATCH with no body (and no Content-Length) at all.
  CommandResult cancel =
      RunCommand({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                  "30", "-X", "PATCH", base_url_ + "/jobs/" + other + "?mode=cancel"});
  EXPECT_EQ(cancel.out, "202") << cancel.Describe();
  HttpResult canceled =
      WaitFor("/jobs/" + other, [](const Json& j) { return j["state"] == "CANCELED"; });
  EXPECT_EQ(canceled.json()["state"], "CANCELED") << canceled.Describe();
  EXPECT_EQ(rest_->Patch("/jobs/" + other + "?mode=cancel").status, 409);
  Json o = rest_->Get("/overview").json();
  EXPECT_EQ(o["jobs-finished"], 1) << o;
  EXPECT_EQ(o["jobs-cancelled"], 1) << o;
}

TEST_F(IntegrationRest, BadInputGetsTheRightStatusAndTheJobManagerStaysUp) {
  const std::string unknown = "0123456789abcdef0123456789abcdef";
  for (const std::string& path :
       {"/jobs/" + unknown, "/jobs/" + unknown + "/plan", "/jobs/" + unknown + "/checkpoints",
        "/jobs/" + unknown + "/exceptions", "/jobs/" + unknown + "/metrics",
        "/jobs/" + unknown + "/vertices/00000000000000000000000000000000",
        "/jobs/" + unknown + "/savepoints/abc", std::string("/taskmanagers/tm-nope"),
        std::string("/no/such/path")}) {
    HttpResult r = rest_->Get(path);
    EXPECT_EQ(r.status, 404) << path << ": " << r.Describe();
    EXPECT_TRUE(r.json()["errors"].is_array()) << path << ": " << r.Describe();
  }
  EXPECT_EQ(rest_->Post("/jobs/" + unknown + "/savepoints", "{}").status, 404);
  EXPECT_EQ(rest_->Patch("/jobs/" + unknown + "?mode=cancel").status, 404);
  EXPECT_EQ(rest_->Delete("/jobs").status, 405);

  // Malformed bodies and arguments.
  const std::string job = RunLedger(1);
  ASSERT_FALSE(job.empty());
  HttpResult bad_json = rest_->Post("/jobs/" + job + "/savepoints", "{\"target-directory\": ");
  EXPECT_EQ(bad_json.status, 400) << bad_json.Describe();
  EXPECT_EQ(rest_->Post("/jobs/" + job + "/savepoints", "[1]").status, 400);
  EXPECT_EQ(rest_->Post("/jobs/" + job + "/stop", R"({"drain": "yes"})").status, 400);
  EXPECT_EQ(rest_->Patch("/jobs/" + job + "/rescaling?parallelism=0").status, 400);
  EXPECT_EQ(rest_->Patch("/jobs/" + job + "/rescaling?parallelism=x").status, 400);
  EXPECT_EQ(rest_->Patch("/jobs/" + job + "?mode=stop").status, 400);
  EXPECT_EQ(rest_->Get("/jobs/" + job + "/checkpoints/details/abc").status, 400);
  EXPECT_EQ(rest_->Get("/jobs/" + job + "/checkpoints/details/999999").status, 404);
  EXPECT_EQ(rest_->Get("/jobs/" + job + "/vertices/ffff").status, 404);

  // Packages: not one (400), no file field (400), unknown or malformed jar ids (404), bad run
  // arguments (400), a builder that throws (400). The JobManager stays up through all of it.
  HttpResult text = rest_->Upload("jarfile", "job.so", "this is not a shared library");
  EXPECT_EQ(text.status, 400) << text.Describe();
  EXPECT_TRUE(absl::StrContains(text.body, "not a job package")) << text.Describe();
  EXPECT_EQ(rest_->Upload("other", "job.so", "x").status, 400);
  HttpResult elf_exe = rest_->Upload("jarfile", "sluice", ReadFile(BinaryPath("sluice")));
  EXPECT_EQ(elf_exe.status, 400) << elf_exe.Describe();
  EXPECT_EQ(rest_->Post("/jars/" + std::string(64, 'a') + ".so/run", "{}").status, 404);
  EXPECT_EQ(rest_->Post("/jars/..%2f..%2fetc/run", "{}").status, 404);
  EXPECT_EQ(rest_->Delete("/jars/" + std::string(64, 'b') + ".so").status, 404);
  HttpResult thrower =
      rest_->Upload("jarfile", "throwing_builder.so", ReadFile(TestPackage("throwing_builder")));
  ASSERT_EQ(thrower.status, 200) << thrower.Describe();
  std::string thrower_id = thrower.json()["filename"];
  thrower_id = thrower_id.substr(thrower_id.rfind('/') + 1);
  HttpResult threw = rest_->Post("/jars/" + thrower_id + "/run", "{}");
  EXPECT_EQ(threw.status, 400) << threw.Describe();
  EXPECT_EQ(rest_->Post("/jars/" + thrower_id + "/run", R"({"parallelism": -1})").status, 400);
  EXPECT_EQ(rest_->Post("/jars/" + thrower_id + "/run", R"({"programArgs": "'open"})").status, 400);
  EXPECT_EQ(rest_->Post("/jars/" + thrower_id + "/run", "{oops").status, 400);

  // Upload names never become paths: stored under the content hash, listed under a tame name.
  HttpResult evil = rest_->Upload("jarfile", "../../../../tmp/ev\xc3\xa9il.so",
                                  ReadFile(ExamplePackage("wordcount")));
  ASSERT_EQ(evil.status, 200) << evil.Describe();
  const std::string stored = evil.json()["filename"];
  EXPECT_TRUE(absl::StartsWith(stored, cluster_->cluster_dir() + "/blobs/packages/")) << stored;
  EXPECT_FALSE(absl::StrContains(stored, "il.so")) << stored;
  Json jars = rest_->Get("/jars").json();
  bool shown = false;
  for (const Json& f : jars["files"]) shown = shown || f["name"] == "ev__il.so";
  EXPECT_TRUE(shown) << jars;
  const std::string evil_id = stored.substr(stored.rfind('/') + 1);
  EXPECT_EQ(rest_->Delete("/jars/" + evil_id).status, 200);
  EXPECT_EQ(rest_->Delete("/jars/" + evil_id).status, 404);

  // Path traversal on log names: a secret beside the log folder and a symlink to it inside.
  const std::string secret_marker = "SECRET-MARKER-7f3a";
  WriteFile(cluster_->cluster_dir() + "/secret.txt", secret_marker);
  fs::create_symlink(cluster_->cluster_dir() + "/secret.txt",
                     cluster_->cluster_dir() + "/log/link.log");
  const std::string tm = rest_->Get("/taskmanagers").json()["taskmanagers"][0]["id"];
  for (const std::string& prefix :
       {std::string("/jobmanager/logs/"), absl::StrCat("/taskmanagers/", tm, "/logs/")}) {
    for (const std::string& name :
         {std::string(".."), std::string("..%2fsecret.txt"), std::string("%2e%2e%2fsecret.txt"),
          std::string("%2e%2e"), std::string("..%5csecret.txt"), std::string("link.log"),
          absl::StrCat("%2F", absl::StripPrefix(cluster_->cluster_dir(), "/"), "%2Fsecret.txt"),
          std::string("..%252fsecret.txt"), std::string(".%2e/secret.txt"),
          std::string("../secret.txt"), std::string("%00secret.txt")}) {
      HttpResult r = rest_->RawGet(prefix + name);
      EXPECT_TRUE(r.status == 400 || r.status == 404) << prefix << name << ": " << r.Describe();
      EXPECT_FALSE(absl::StrContains(r.body, secret_marker)) << prefix << name;
    }
  }
  for (const std::string& list :
       {std::string("/jobmanager/logs"), absl::StrCat("/taskmanagers/", tm, "/logs")}) {
    Json logs = rest_->Get(list).json();
    for (const Json& l : logs["logs"]) EXPECT_NE(l["name"], "link.log") << logs;
  }

  EXPECT_TRUE(cluster_->JobManagerAlive());
  Json jobs = rest_->Get("/jobs").json();
  ASSERT_EQ(jobs["jobs"].size(), 1u) << jobs;
  EXPECT_EQ(jobs["jobs"][0]["status"], "RUNNING") << "the running job is unharmed: " << jobs;
}

TEST(IntegrationRestLimits, ABodyOverTheLimitIs413AndTheJobManagerStaysUp) {
  LocalCluster cluster;
  ClusterOptions options;
  options.taskmanagers = 1;
  options.defines = {"rest.server.max-content-length=64kb"};
  ASSERT_TRUE(cluster.Start(options).ok());
  Rest rest(cluster.RestAddress());
  HttpResult big = rest.Upload("jarfile", "big.so", std::string(256 << 10, 'x'));
  EXPECT_EQ(big.status, 413) << big.Describe();
  EXPECT_TRUE(cluster.JobManagerAlive());
  EXPECT_EQ(rest.Get("/overview").status, 200);
}

TEST(IntegrationJsonLogs, EveryDaemonWritesJsonLinesWithTheIdsOfWhatTheyDo) {
  LocalCluster cluster;
  ClusterOptions options;
  options.taskmanagers = 1;
  options.defines = {"log.format=json"};
  ASSERT_TRUE(cluster.Start(options).ok());
  absl::StatusOr<std::string> submitted =
      cluster.SubmitDetached(ExamplePackage("ledger"), 1,
                             {"transactions=0", "rate=200", "output=" + cluster.NewDir("out")},
                             CheckpointDefines("hashmap", cluster.ScratchPath("chk")));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const std::string job = *submitted;
  ASSERT_TRUE(cluster.WaitForAllRunning(job).ok());

  // Parsed lines of a daemon's log; a line that is not JSON fails the test.
  auto records = [&](const std::string& file) {
    std::vector<Json> out;
    const std::string text = ReadFile(cluster.cluster_dir() + "/log/" + file);
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string line = text.substr(start, nl - start);
      if (line.empty()) continue;
      Json j = Json::parse(line, nullptr, false);
      EXPECT_FALSE(j.is_discarded()) << file << ": not JSON: " << line;
      if (!j.is_discarded()) out.push_back(j);
    }
    return out;
  };
  auto has = [](const std::vector<Json>& lines, const std::function<bool(const Json&)>& pred) {
    return std::any_of(lines.begin(), lines.end(), pred);
  };
  EXPECT_TRUE(WaitUntil([&] {
    return has(records("jobmanager.log"), [&](const Json& j) {
      return j.value("job_id", "") == job && j.contains("checkpoint_id");
    });
  })) << "no JobManager record with the job's and a checkpoint's id";
  std::vector<Json> tm = records("taskmanager-1.log");
  EXPECT_TRUE(has(tm, [&](const Json& j) {
    return j.value("job_id", "") == job && j.contains("vertex") && j.contains("subtask") &&
           j.contains("attempt_id");
  })) << "no TaskManager record of a subtask";
  for (const Json& j : tm) {
    EXPECT_TRUE(j.contains("@timestamp") && j.contains("level") && j.contains("message")) << j;
  }
}

}  // namespace
}  // namespace sluice::testing
