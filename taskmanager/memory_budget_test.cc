#include "taskmanager/memory_budget.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace sluice::taskmanager {
namespace {

absl::StatusOr<MemoryBudget> Budget(const std::vector<std::string>& overrides) {
  auto config = config::Configuration::Load("", overrides);
  if (!config.ok()) return config.status();
  return MemoryBudget::FromConfig(*config);
}

constexpr int64_t kMiB = int64_t{1} << 20;

TEST(MemoryBudgetTest, WithoutAProcessSizeThePartsAreTheirOwnKeys) {
  auto b = Budget({});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->process, 0);
  EXPECT_EQ(b->network, 64 * kMiB);
  EXPECT_EQ(b->managed, 128 * kMiB);
  EXPECT_TRUE(absl::StrContains(b->Describe(), "not bounded")) << b->Describe();
}

TEST(MemoryBudgetTest, AProcessSizeIsDividedAsFlinkDoes) {
  auto b = Budget({"taskmanager.memory.process.size=2gb"});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->framework, 64 * kMiB);
  EXPECT_EQ(b->network, 2048 * kMiB / 10);      // 0.1, within [64 MiB, 1 GiB]
  EXPECT_EQ(b->managed, 2048 * kMiB * 4 / 10);  // 0.4
  EXPECT_EQ(b->process, b->framework + b->network + b->managed + b->task_heap);
  EXPECT_GT(b->task_heap, 0);
  // Explicit parts win; the network share is clamped to its minimum.
  b = Budget({"taskmanager.memory.process.size=512mb", "taskmanager.memory.managed.size=100mb"});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->network, 64 * kMiB);
  EXPECT_EQ(b->managed, 100 * kMiB);
  EXPECT_EQ(b->task_heap, (512 - 64 - 64 - 100) * kMiB);
  EXPECT_TRUE(absl::StartsWith(b->Describe(), "process 512 MiB = framework 64 MiB"))
      << b->Describe();
}

TEST(MemoryBudgetTest, ABudgetTooSmallForItsPartsIsAClearError) {
  auto b =
      Budget({"taskmanager.memory.process.size=256mb", "taskmanager.memory.network.size=200mb"});
  ASSERT_FALSE(b.ok());
  const std::string m(b.status().message());
  EXPECT_TRUE(absl::StrContains(m, "taskmanager.memory.process.size (256 MiB) is too small")) << m;
  EXPECT_TRUE(absl::StrContains(m, "network 200 MiB")) << m;
  b = Budget({"taskmanager.memory.process.size=1gb", "taskmanager.memory.network.min=2gb"});
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::StrContains(b.status().message(), "network.min")) << b.status();
}

TEST(MemoryBudgetTest, ANonNumericSizeIsRefusedWhereTheConfigurationIsRead) {
  auto b = Budget({"taskmanager.memory.process.size=lots"});
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::StrContains(b.status().message(), "taskmanager.memory.process.size"))
      << b.status();
}

}  // namespace
}  // namespace sluice::taskmanager
