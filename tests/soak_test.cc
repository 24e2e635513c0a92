// The memory budget under a long load (docs/state-backends.md, "The soak test"): one TaskManager
// with `taskmanager.memory.process.size` runs a keyed job on RocksDB whose state grows past the
// budget, with incremental checkpoints, while the TaskManager's resident set (RSS) is sampled
// every second. It must stay within the budget the whole time, the job must keep running and
// checkpoints must keep completing.
//
// `make test` runs the short form (75 s, 256 MiB, 1.5 budgets of state, written in the first half
// and read back and rewritten in the second). `make soak` runs
// the long one through the environment:
//   SLUICE_SOAK_SECONDS (75), SLUICE_SOAK_BUDGET_MIB (256), SLUICE_SOAK_STATE_FACTOR (1.5: the
//   state to reach, in budgets), SLUICE_SOAK_CHECKPOINT_INTERVAL (2s),
//   SLUICE_SOAK_REPORT (a file for the per-second samples, as "second rss_mib").
#include <sys/stat.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int kValueBytes = 1024;
constexpr int kParallelism = 2;

double EnvNumber(const char* name, double fallback) {
  const char* v = std::getenv(name);
  double d = 0;
  return v != nullptr && absl::SimpleAtod(v, &d) && d > 0 ? d : fallback;
}

std::string EnvString(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

//! VmRSS of `pid` in bytes; -1 when it is gone.
int64_t ResidentBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(in, line);) {
    int64_t kib = 0;
    if (line.rfind("VmRSS:", 0) == 0 &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(6, line.size() - 6 - 3)), &kib)) {
      return kib * 1024;
    }
  }
  return -1;
}

//! Bytes of the RocksDB table files under `dir`: the state the TaskManager keeps on disk (a file
//! hard-linked into a local checkpoint folder counted once).
int64_t SstBytes(const std::string& dir) {
  int64_t bytes = 0;
  std::set<ino_t> seen;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    struct stat st {};
    if (it->path().extension() == ".sst" && ::stat(it->path().c_str(), &st) == 0 &&
        S_ISREG(st.st_mode) && seen.insert(st.st_ino).second) {
      bytes += static_cast<int64_t>(st.st_size);
    }
  }
  return bytes;
}

int CompletedCheckpoints(LocalCluster& cluster, const std::string& job) {
  CommandResult r = cluster.Sluice({"checkpoints", job, "--json"});
  absl::StatusOr<JsonValue> v = ParseJson(r.out);
  if (!r.ok() || !v.ok()) return -1;
  // "completed" lists the retained ones; the latest id counts them all.
  const JsonValue& completed = Field(*v, "completed");
  int64_t latest = 0;
  for (const JsonValue& c : completed.list_value().values())
    latest = std::max(latest, IntField(c, "id"));
  return static_cast<int>(latest);
}

TEST(Soak, RocksDbStateLargerThanTheBudgetKeepsTheTaskManagerWithinIt) {
  const double seconds = EnvNumber("SLUICE_SOAK_SECONDS", 75);
  const auto budget = static_cast<int64_t>(EnvNumber("SLUICE_SOAK_BUDGET_MIB", 256)) * kMiB;
  const double factor = EnvNumber("SLUICE_SOAK_STATE_FACTOR", 1.5);
  const std::string interval = EnvString("SLUICE_SOAK_CHECKPOINT_INTERVAL", "2s");
  const std::string report = EnvString("SLUICE_SOAK_REPORT", "");
  // `factor` budgets of values (random: RocksDB cannot compress them), written within the first
  // half of the run; in the second half the same keys come back, read from RocksDB's files
  // through its block cache and written again.
  const auto keys = static_cast<int64_t>(factor * static_cast<double>(budget) / kValueBytes);
  const auto rate =
      static_cast<int64_t>(2.0 * static_cast<double>(keys) / seconds / kParallelism) + 1;

  LocalCluster cluster;
  absl::Status started = cluster.Start(ClusterOptions{
      .taskmanagers = 1,
      .slots = kParallelism,
      .defines = {absl::StrCat("taskmanager.memory.process.size=", budget / kMiB, "mb")}});
  ASSERT_TRUE(started.ok()) << started;
  absl::StatusOr<pid_t> tm = cluster.TaskManagerPid(1);
  ASSERT_TRUE(tm.ok()) << tm.status();

  const std::string checkpoints = cluster.NewDir("checkpoints");
  std::vector<std::string> defines = {"-D", "execution.checkpointing.interval=" + interval,
                                      "-D", "state.checkpoints.dir=" + checkpoints,
                                      "-D", "state.backend.type=rocksdb",
                                      "-D", "state.backend.incremental=true"};
  absl::StatusOr<std::string> job = cluster.SubmitDetached(
      TestPackage("heap_hog"), kParallelism,
      {absl::StrCat("rate=", rate), absl::StrCat("value-bytes=", kValueBytes),
       absl::StrCat("keys=", keys)},
      defines);
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_TRUE(cluster.WaitForAllRunning(*job).ok()) << cluster.LogTails();

  std::ofstream out;
  if (!report.empty()) out.open(report);
  int64_t peak = 0;
  int over = 0;
  const auto start = std::chrono::steady_clock::now();
  int checkpoints_at_half = -1;
  for (int s = 1; std::chrono::steady_clock::now() - start < std::chrono::duration<double>(seconds);
       ++s) {
    std::this_thread::sleep_until(start + std::chrono::seconds(s));
    const int64_t rss = ResidentBytes(*tm);
    ASSERT_GE(rss, 0) << "the TaskManager is gone at second " << s << cluster.LogTails();
    peak = std::max(peak, rss);
    if (rss > budget) ++over;
    if (out.is_open()) out << s << " " << rss / kMiB << "\n" << std::flush;
    if (checkpoints_at_half < 0 && s >= seconds / 2) {
      checkpoints_at_half = CompletedCheckpoints(cluster, *job);
    }
  }
  const int64_t state = SstBytes(cluster.cluster_dir());
  const int checkpoints_at_end = CompletedCheckpoints(cluster, *job);
  absl::StatusOr<JsonValue> status = cluster.JobStatus(*job);
  std::cout << "soak: " << seconds << " s, budget " << budget / kMiB << " MiB, peak RSS "
            << peak / kMiB << " MiB, state on disk " << state / kMiB << " MiB, checkpoints "
            << checkpoints_at_end << std::endl;

  // Under AddressSanitizer (make asan-test) the TaskManager's RSS holds ASan's shadow memory and
  // quarantine too, which no budget of Sluice's bounds: the rest is checked, not the RSS.
#if defined(__SANITIZE_ADDRESS__)
  std::cout << "soak: RSS not checked against the budget under AddressSanitizer" << std::endl;
#else
  EXPECT_EQ(over, 0) << "seconds with RSS over the budget; peak " << peak / kMiB << " MiB of "
                     << budget / kMiB;
#endif
  EXPECT_GT(state, budget) << "the state should outgrow the budget";
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(StringField(*status, "state"), "RUNNING") << cluster.LogTails();
  EXPECT_GT(checkpoints_at_end, checkpoints_at_half) << "checkpoints should keep completing";
  EXPECT_GT(checkpoints_at_half, 0);
  EXPECT_TRUE(cluster.Sluice({"cancel", *job}).ok());
}

}  // namespace
}  // namespace sluice::testing
