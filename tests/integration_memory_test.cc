// The TaskManager's memory budget (taskmanager.memory.process.size) on a real cluster: heap keyed
// state over its job's share of the task heap fails the job with a message that says what to do,
// instead of growing until the kernel kills the process; the TaskManager stays up and shows each
// part's budget, use and peak in `sluice taskmanagers`.

#include <string>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "tests/cluster_harness.h"

namespace sluice::testing {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

// 320 MiB = framework 64 + network 64 (the minimum) + managed 128 (0.4) + task heap 64 MiB;
// with 2 slots a job holding one slot may keep 32 MiB of heap state.
constexpr int64_t kTaskHeap = 64 * kMiB;

//! The part named `name` of a `taskmanagers --json` entry's "memory", or null.
const JsonValue* Part(const JsonValue& tm, const std::string& name) {
  const JsonValue& memory = Field(tm, "memory");
  if (!memory.has_list_value()) return nullptr;
  for (const JsonValue& p : memory.list_value().values()) {
    if (StringField(p, "part") == name) return &p;
  }
  return nullptr;
}

//! Run with the tasks in the TaskManager daemon, and in a process per job
//! (taskmanager.process-per-job), where the daemon adds up what its job processes report.
class IntegrationMemory : public ::testing::TestWithParam<bool> {};

TEST_P(IntegrationMemory, HeapStateOverItsShareFailsTheJobClearlyAndTheTaskManagerStays) {
  LocalCluster cluster;
  absl::Status started =
      cluster.Start(ClusterOptions{.taskmanagers = 1,
                                   .slots = 2,
                                   .defines = {"taskmanager.memory.process.size=320mb",
                                               GetParam() ? "taskmanager.process-per-job=true"
                                                          : "taskmanager.process-per-job=false"}});
  ASSERT_TRUE(started.ok()) << started;

  // Within its share: 2,000 keys of 1 KiB.
  CommandResult small = cluster.Sluice(
      {"run", TestPackage("heap_hog"), "--parallelism", "1", "--arg", "records=2000"});
  ASSERT_TRUE(small.ok()) << small.Describe();
  EXPECT_NE(small.out.find("FINISHED"), std::string::npos) << small.Describe();

  // Without end: 4 KiB more with every record.
  absl::StatusOr<std::string> job =
      cluster.SubmitDetached(TestPackage("heap_hog"), 1, {"value-bytes=4096"});
  ASSERT_TRUE(job.ok()) << job.status();
  absl::StatusOr<JsonValue> failed = cluster.WaitForState(*job, "FAILED");
  ASSERT_TRUE(failed.ok()) << failed.status() << cluster.LogTails();
  const std::string failure = absl::AsciiStrToLower(StringField(*failed, "failure"));
  for (const char* needle :
       {"heap state of job", "over its share of the task heap", "32 mib", "1 of 2 slots",
        "taskmanager.memory.process.size", "state.backend.type: rocksdb", "hoard"}) {
    EXPECT_NE(failure.find(needle), std::string::npos)
        << "the failure should mention '" << needle << "': " << failure;
  }

  // The TaskManager is still there, all its slots free, and shows the budget's parts.
  const JsonValue* heap = nullptr;
  absl::StatusOr<JsonValue> tms;
  ASSERT_TRUE(WaitUntil([&] {
    tms = cluster.TaskManagers();
    if (!tms.ok() || tms->list_value().values_size() != 1) return false;
    const JsonValue& tm = tms->list_value().values(0);
    if (IntField(tm, "free_slots") != 2) return false;
    heap = Part(tm, "task heap");
    // Once the job is gone, its heap state is too; the peak, what was refused, stays (a job
    // process's is seen at the daemon's next heartbeat).
    return heap != nullptr && IntField(*heap, "used_bytes") == 0 &&
           IntField(*heap, "peak_bytes") > kTaskHeap / 2;
  })) << cluster.Sluice({"taskmanagers", "--json"}).out;
  EXPECT_EQ(IntField(*heap, "budget_bytes"), kTaskHeap);
  EXPECT_GT(IntField(*heap, "peak_bytes"), kTaskHeap / 2) << "the peak is what was refused";

  CommandResult table = cluster.Sluice({"taskmanagers"});
  ASSERT_TRUE(table.ok()) << table.Describe();
  for (const char* needle : {"Memory of", "PART", "process", "320.0 MiB", "network", "managed",
                             "128.0 MiB", "task heap", "64.0 MiB"}) {
    EXPECT_NE(table.out.find(needle), std::string::npos)
        << "`sluice taskmanagers` should show '" << needle << "':\n"
        << table.out;
  }

  // And it runs the next job.
  CommandResult again = cluster.Sluice(
      {"run", TestPackage("heap_hog"), "--parallelism", "2", "--arg", "records=2000"});
  EXPECT_TRUE(again.ok()) << again.Describe();
}

INSTANTIATE_TEST_SUITE_P(Tasks, IntegrationMemory, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("InAProcessPerJob")
                                             : std::string("InTheDaemon");
                         });

}  // namespace
}  // namespace sluice::testing
