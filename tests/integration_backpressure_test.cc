// Backpressure end to end (issue 3; docs/architecture.md, "Data exchange") on a real 2 TaskManager
// x 2 slot cluster with a small network memory: an unbounded ledger at full rate into a sink that
// sleeps 1 ms per record. The slow sink must push back all the way to the sources (their metrics
// say so, and `status` says HIGH), the sinks must run at the rate their sleep allows, the in-flight
// data must stay inside the configured network memory (as the TaskManagers report it) and the
// TaskManagers' resident memory must stay flat while the backpressure lasts.
//
// Nothing here asserts on timing: every wait is for a state, with a generous deadline, and the rate
// check only bounds what a 1 ms sleep per record makes possible.

#include <algorithm>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kNetworkMemory = 8 * kMiB;
constexpr int kTaskManagers = 2;
constexpr int kSlots = 2;

// ledger's sink sleeps this long per record, which bounds each sink subtask at 1000 records/s.
constexpr int kSinkDelayUs = 1000;
// What we accept as "about 1000 records/s" per sink subtask: at most the bound (plus slack for how
// the reporter measures its interval), and well above zero even on a loaded machine.
constexpr double kMinSinkRate = 300;
constexpr double kMaxSinkRate = 1100;

// The resident memory window: samples once a second over this many seconds.
constexpr int kRssSamples = 30;
// Memory a TaskManager may add, beyond its idle footprint and its network memory, to run the job:
// task threads and their stacks, the job package's code, operator state (1000 accounts), gRPC and
// allocator caches. Generous on purpose: an unbounded queue at the sources' full rate (millions of
// records/s) would pass it within a second or two.
constexpr int64_t kRssSlack = 64 * kMiB;
// How much a TaskManager's resident memory may grow from the 5th to the last sample of the window.
constexpr int64_t kMaxRssGrowth = 16 * kMiB;

// VmRSS of `pid` in bytes, or nullopt when it cannot be read.
std::optional<int64_t> ResidentBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "VmRSS:")) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    int64_t kb = 0;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kb)) return kb * 1024;
  }
  return std::nullopt;
}

std::optional<pid_t> TaskManagerPid(const LocalCluster& cluster, int i) {
  std::string text = ReadFile(absl::StrCat(cluster.cluster_dir(), "/taskmanager-", i, ".pid"));
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &pid) || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

double Metric(const JsonValue& subtask, const std::string& name) {
  return Field(Field(subtask, "metrics"), name).number_value();
}

bool HasMetrics(const JsonValue& subtask) { return Field(subtask, "metrics").has_struct_value(); }

// The vertex of `status` whose (chain) name starts with `prefix` / ends with `suffix`; null if
// none.
const JsonValue* VertexNamed(const JsonValue& status, const std::string& prefix,
                             const std::string& suffix) {
  for (const JsonValue& v : Field(status, "vertices").list_value().values()) {
    std::string name = StringField(v, "name");
    if (absl::StartsWith(name, prefix) && absl::EndsWith(name, suffix)) return &v;
  }
  return nullptr;
}
const JsonValue* SourceVertex(const JsonValue& status) {
  return VertexNamed(status, "Transactions", "");
}
const JsonValue* SinkVertex(const JsonValue& status) {
  return VertexNamed(status, "", "Ledger file sink");
}

std::vector<const JsonValue*> SubtasksOf(const JsonValue* vertex) {
  std::vector<const JsonValue*> out;
  if (vertex == nullptr) return out;
  for (const JsonValue& s : Field(*vertex, "subtasks").list_value().values()) out.push_back(&s);
  return out;
}

// Steady backpressure: every source subtask waits for output buffers more than half of the time,
// every sink subtask is busy more than half of the time, at the rate its sleep allows.
bool SteadyBackPressure(const JsonValue& status) {
  std::vector<const JsonValue*> sources = SubtasksOf(SourceVertex(status));
  std::vector<const JsonValue*> sinks = SubtasksOf(SinkVertex(status));
  if (sources.size() != 2 || sinks.size() != 2) return false;
  for (const JsonValue* s : sources) {
    if (!HasMetrics(*s) || Metric(*s, "backPressuredTimeMsPerSecond") <= 500) return false;
  }
  for (const JsonValue* s : sinks) {
    if (!HasMetrics(*s) || Metric(*s, "busyTimeMsPerSecond") <= 500) return false;
    double rate = Metric(*s, "numRecordsInPerSecond");
    if (rate < kMinSinkRate || rate > kMaxSinkRate) return false;
  }
  return true;
}

std::string ToJson(const JsonValue& v) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(v, &json);
  return json;
}

// The "network" objects of `taskmanagers --json`, one per TaskManager.
std::vector<JsonValue> NetworkOfTaskManagers(LocalCluster& cluster) {
  std::vector<JsonValue> out;
  absl::StatusOr<JsonValue> tms = cluster.TaskManagers();
  if (!tms.ok()) {
    ADD_FAILURE() << tms.status();
    return out;
  }
  for (const JsonValue& tm : tms->list_value().values()) out.push_back(Field(tm, "network"));
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The line after "  <vertex name> (vertex ...)" in the text form of `status`, which holds the
// vertex's back pressure; empty if absent.
std::string BackPressureLine(const std::string& status_text, const std::string& vertex_prefix) {
  std::vector<std::string> lines = absl::StrSplit(status_text, '\n');
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(lines[i]), vertex_prefix)) {
      return lines[i + 1];
    }
  }
  return "";
}

TEST(IntegrationBackpressure, SlowSinkBackPressuresSourcesAndMemoryStaysBounded) {
  LocalCluster cluster;
  absl::Status started = cluster.Start(ClusterOptions{
      .taskmanagers = kTaskManagers,
      .slots = kSlots,
      .defines = {absl::StrCat("taskmanager.memory.network.size=", kNetworkMemory / kMiB, "mb")}});
  ASSERT_TRUE(started.ok()) << started;

  std::vector<pid_t> pids;
  std::vector<int64_t> idle_rss;
  for (int i = 1; i <= kTaskManagers; ++i) {
    std::optional<pid_t> pid = TaskManagerPid(cluster, i);
    ASSERT_TRUE(pid.has_value()) << "no pid file for TaskManager " << i;
    std::optional<int64_t> rss = ResidentBytes(*pid);
    ASSERT_TRUE(rss.has_value()) << "cannot read VmRSS of TaskManager " << i << " (pid " << *pid
                                 << ")";
    pids.push_back(*pid);
    idle_rss.push_back(*rss);
  }

  // Before any job: the configured network memory, none of it held.
  for (const JsonValue& n : NetworkOfTaskManagers(cluster)) {
    EXPECT_EQ(IntField(n, "total_bytes"), kNetworkMemory) << ToJson(n);
    EXPECT_EQ(IntField(n, "used_bytes"), 0) << ToJson(n);
  }

  absl::StatusOr<std::string> job = cluster.SubmitDetached(
      ExamplePackage("ledger"), 2,
      {"transactions=0", "rate=0", absl::StrCat("sink_delay_us=", kSinkDelayUs),
       "output=" + cluster.NewDir("ledger")});
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<JsonValue> running = cluster.WaitForAllRunning(*job);
  ASSERT_TRUE(running.ok()) << running.status();
  ASSERT_NE(SourceVertex(*running), nullptr) << ToJson(*running);
  ASSERT_NE(SinkVertex(*running), nullptr) << ToJson(*running);

  // Within the wait: the sources back-pressured, the sinks busy at about 1000 records/s each.
  absl::StatusOr<JsonValue> steady = cluster.WaitForStatus(*job, SteadyBackPressure);
  ASSERT_TRUE(steady.ok()) << steady.status();

  // The text form calls the source vertex's back pressure HIGH.
  std::string last_text;
  EXPECT_TRUE(WaitUntil(
      [&] {
        CommandResult r = cluster.Sluice({"status", *job});
        last_text = r.out;
        return r.ok() && BackPressureLine(r.out, "Transactions").find("back pressure HIGH") !=
                             std::string::npos;
      },
      absl::Seconds(30)))
      << last_text;

  // The window: resident memory once a second; metrics and network memory every few seconds.
  std::vector<std::vector<int64_t>> rss(pids.size());
  std::vector<std::vector<double>> sink_rates(2), source_back_pressure(2);
  int steady_samples = 0, status_samples = 0;
  std::vector<JsonValue> network_samples;
  absl::Time start = absl::Now();
  for (int i = 0; i < kRssSamples; ++i) {
    absl::SleepFor(start + absl::Seconds(i) - absl::Now());
    for (size_t t = 0; t < pids.size(); ++t) {
      std::optional<int64_t> bytes = ResidentBytes(pids[t]);
      ASSERT_TRUE(bytes.has_value()) << "TaskManager " << t + 1 << " is gone\n"
                                     << cluster.LogTails();
      rss[t].push_back(*bytes);
    }
    if (i % 3 != 1) continue;
    absl::StatusOr<JsonValue> status = cluster.JobStatus(*job);
    ASSERT_TRUE(status.ok()) << status.status();
    ASSERT_EQ(StringField(*status, "state"), "RUNNING") << ToJson(*status);
    ++status_samples;
    steady_samples += SteadyBackPressure(*status);
    std::vector<const JsonValue*> sinks = SubtasksOf(SinkVertex(*status));
    std::vector<const JsonValue*> sources = SubtasksOf(SourceVertex(*status));
    for (size_t s = 0; s < 2 && s < sinks.size(); ++s) {
      sink_rates[s].push_back(Metric(*sinks[s], "numRecordsInPerSecond"));
    }
    for (size_t s = 0; s < 2 && s < sources.size(); ++s) {
      source_back_pressure[s].push_back(Metric(*sources[s], "backPressuredTimeMsPerSecond"));
    }
    for (JsonValue& n : NetworkOfTaskManagers(cluster)) network_samples.push_back(std::move(n));
  }

  for (size_t s = 0; s < 2; ++s) {
    std::cout << "sink subtask " << s << " records in/s: " << absl::StrJoin(sink_rates[s], " ")
              << "\nsource subtask " << s
              << " back-pressured ms/s: " << absl::StrJoin(source_back_pressure[s], " ") << "\n";
  }
  for (size_t t = 0; t < pids.size(); ++t) {
    std::cout << "TaskManager " << t + 1 << " RSS before the job " << idle_rss[t] / 1024
              << "k, window min " << *std::min_element(rss[t].begin(), rss[t].end()) / 1024
              << "k max " << *std::max_element(rss[t].begin(), rss[t].end()) / 1024 << "k\n";
  }
  if (!network_samples.empty()) std::cout << "network: " << ToJson(network_samples.back()) << "\n";

  // The backpressure lasted: most samples show it (a sample may catch a hiccup of a loaded
  // machine).
  EXPECT_GE(steady_samples * 2, status_samples) << steady_samples << " of " << status_samples
                                                << " status samples showed steady back pressure";
  for (size_t s = 0; s < 2; ++s) {
    EXPECT_GT(Median(source_back_pressure[s]), 500)
        << "source subtask " << s << ": " << absl::StrJoin(source_back_pressure[s], ", ");
    // Each sink subtask takes about 1000 records/s (never much more: 1 ms of sleep per record).
    EXPECT_GE(Median(sink_rates[s]), kMinSinkRate)
        << "sink subtask " << s << ": " << absl::StrJoin(sink_rates[s], ", ");
    EXPECT_LE(Median(sink_rates[s]), kMaxSinkRate)
        << "sink subtask " << s << ": " << absl::StrJoin(sink_rates[s], ", ");
  }

  // In-flight data stays inside the configured network memory, and the running tasks hold some.
  ASSERT_FALSE(network_samples.empty());
  for (const JsonValue& n : network_samples) {
    EXPECT_EQ(IntField(n, "total_bytes"), kNetworkMemory) << ToJson(n);
    EXPECT_GT(IntField(n, "used_bytes"), 0) << ToJson(n);
    EXPECT_LE(IntField(n, "used_bytes"), IntField(n, "peak_bytes")) << ToJson(n);
    EXPECT_LE(IntField(n, "peak_bytes"), IntField(n, "total_bytes")) << ToJson(n);
  }

  // The text form shows the network memory as used/total.
  CommandResult table = cluster.Sluice({"taskmanagers"});
  ASSERT_TRUE(table.ok()) << table.Describe();
  EXPECT_NE(table.out.find("NETWORK"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("/8.0 MiB"), std::string::npos) << table.out;

  // Resident memory is bounded by the configuration and flat under sustained backpressure. The
  // bound: the TaskManager's footprint before the job (process, gRPC, the network arena reserved
  // but untouched), plus all of its network memory (every segment touched), plus kRssSlack for
  // what running the job needs besides buffers.
  for (size_t t = 0; t < pids.size(); ++t) {
    int64_t bound = idle_rss[t] + kNetworkMemory + kRssSlack;
    int64_t max_rss = *std::max_element(rss[t].begin(), rss[t].end());
    std::string samples_kib = absl::StrJoin(
        rss[t], " ", [](std::string* out, int64_t b) { absl::StrAppend(out, b / 1024, "k"); });
    EXPECT_LT(max_rss, bound) << "TaskManager " << t + 1 << ": idle " << idle_rss[t] / 1024
                              << "k, bound " << bound / 1024 << "k, samples " << samples_kib;
    EXPECT_LT(rss[t].back() - rss[t][4], kMaxRssGrowth)
        << "TaskManager " << t + 1 << " grew under steady backpressure: " << samples_kib;
  }

  // Cancel: the job ends CANCELED, its slots and its network memory are free again.
  CommandResult cancel = cluster.Sluice({"cancel", *job});
  ASSERT_TRUE(cancel.ok()) << cancel.Describe();
  absl::StatusOr<JsonValue> canceled = cluster.WaitForState(*job, "CANCELED");
  EXPECT_TRUE(canceled.ok()) << canceled.status();
  EXPECT_TRUE(WaitUntil([&] {
    absl::StatusOr<JsonValue> tms = cluster.TaskManagers();
    if (!tms.ok() || tms->list_value().values_size() != kTaskManagers) return false;
    for (const JsonValue& tm : tms->list_value().values()) {
      if (IntField(tm, "free_slots") != kSlots) return false;
      if (IntField(Field(tm, "network"), "used_bytes") != 0) return false;
    }
    return true;
  })) << cluster.Sluice({"taskmanagers"}).out;
}

}  // namespace
}  // namespace sluice::testing
