// Unit tests of the heap state ledger: the shares, the message, and what is counted.
#include "taskmanager/heap_state_ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

namespace sluice::taskmanager {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMiB = int64_t{1} << 20;

TEST(HeapStateLedgerTest, AJobOverItsShareOfTheTaskHeapIsRefusedWithWhatToDo) {
  std::map<std::string, int> slots = {{"job-a", 1}, {"job-b", 3}};
  HeapStateLedger ledger(
      400 * kMiB, 4, [&](const std::string& job) { return slots[job]; }, "tm-1");
  // job-a holds 1 of 4 slots: 100 MiB, over two tasks.
  EXPECT_TRUE(ledger.Report("job-a", "a1", 60 * kMiB).ok());
  EXPECT_TRUE(ledger.Report("job-a", "a2", 40 * kMiB).ok());
  absl::Status over = ledger.Report("job-a", "a2", 41 * kMiB);
  ASSERT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(over.message(), HasSubstr("heap state of job job-a on TaskManager tm-1"));
  EXPECT_THAT(over.message(), HasSubstr("about 101.0 MiB of 100 MiB"));
  EXPECT_THAT(over.message(), HasSubstr("1 of 4 slots of a task heap of 400 MiB"));
  EXPECT_THAT(over.message(), HasSubstr("state.backend.type: rocksdb"));
  // job-b's 3 slots give it 300 MiB; job-a's bytes are not its.
  EXPECT_TRUE(ledger.Report("job-b", "b1", 299 * kMiB).ok());
  EXPECT_FALSE(ledger.Report("job-b", "b1", 301 * kMiB).ok());

  HeapStateLedger::Usage u = ledger.usage();
  EXPECT_EQ(u.budget, 400 * kMiB);
  EXPECT_EQ(u.used, (60 + 41 + 301) * kMiB);
  EXPECT_EQ(u.peak, u.used);
  ledger.Remove("b1");
  ledger.Remove("unknown");
  EXPECT_EQ(ledger.usage().used, 101 * kMiB);
  EXPECT_EQ(ledger.usage().peak, (60 + 41 + 301) * kMiB);
}

TEST(HeapStateLedgerTest, WithoutABudgetNothingIsRefusedButEverythingIsCounted) {
  HeapStateLedger ledger(
      0, 2, [](const std::string&) { return 1; }, "tm-1");
  EXPECT_TRUE(ledger.Report("job-a", "a1", int64_t{50} << 30).ok());
  EXPECT_EQ(ledger.usage().used, int64_t{50} << 30);
  EXPECT_EQ(ledger.usage().budget, 0);
}

TEST(HeapStateLedgerTest, AJobCountsAtLeastOneSlotAndAtMostAll) {
  int job_slots = 0;
  HeapStateLedger ledger(
      100 * kMiB, 2, [&](const std::string&) { return job_slots; }, "tm");
  EXPECT_TRUE(ledger.Report("j", "t", 50 * kMiB).ok());  // 0 counted as 1: 50 MiB
  EXPECT_FALSE(ledger.Report("j", "t", 51 * kMiB).ok());
  job_slots = 7;  // more than the TaskManager has: all of it
  EXPECT_TRUE(ledger.Report("j", "t", 100 * kMiB).ok());
  EXPECT_FALSE(ledger.Report("j", "t", 101 * kMiB).ok());
}

TEST(HeapStateLedgerTest, AttemptsComeAndGoInAnyOrder) {
  HeapStateLedger ledger(
      100 * kMiB, 2, [](const std::string&) { return 1; }, "tm");
  EXPECT_TRUE(ledger.Report("j", "a", 0).ok());
  EXPECT_TRUE(ledger.Report("j", "b", 0).ok());
  ledger.Remove("b");
  ledger.Remove("a");
  ledger.Remove("a");
  EXPECT_EQ(ledger.usage().used, 0);
  // A restarted job starts from nothing: the earlier attempts' bytes are gone with them.
  EXPECT_TRUE(ledger.Report("j", "c", 40 * kMiB).ok());
  EXPECT_TRUE(ledger.Report("j", "d", 10 * kMiB).ok());
  EXPECT_FALSE(ledger.Report("j", "d", 11 * kMiB).ok());
}

}  // namespace
}  // namespace sluice::taskmanager
