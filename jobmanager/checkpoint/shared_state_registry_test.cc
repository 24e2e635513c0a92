#include "jobmanager/checkpoint/shared_state_registry.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sluice::jobmanager::checkpoint {
namespace {

using Paths = std::vector<std::string>;

TEST(SharedStateRegistryTest, FileSharedByTwoCheckpointsIsFreedWithTheLast) {
  SharedStateRegistry r;
  r.Register(1, {"shared/a", "shared/b"});
  r.Register(2, {"shared/b", "shared/c"});
  EXPECT_EQ(r.ReferenceCount("shared/b"), 2);
  EXPECT_EQ(r.size(), 3u);

  EXPECT_EQ(r.Release(1), Paths{"shared/a"});
  EXPECT_FALSE(r.IsReferenced("shared/a"));
  EXPECT_TRUE(r.IsReferenced("shared/b"));
  EXPECT_EQ(r.ReferenceCount("shared/b"), 1);

  EXPECT_EQ(r.Release(2), (Paths{"shared/b", "shared/c"}));
  EXPECT_EQ(r.size(), 0u);
}

TEST(SharedStateRegistryTest, RepeatedPathsAndRegistrationsCountOnce) {
  SharedStateRegistry r;
  r.Register(1, {"shared/a", "shared/a"});
  r.Register(1, {"shared/a", "shared/b"});
  EXPECT_EQ(r.ReferenceCount("shared/a"), 1);
  EXPECT_EQ(r.Release(1), (Paths{"shared/a", "shared/b"}));
}

TEST(SharedStateRegistryTest, ReleasingUnknownOrReleasedCheckpointReturnsNothing) {
  SharedStateRegistry r;
  EXPECT_TRUE(r.Release(7).empty());
  r.Register(7, {"shared/x"});
  EXPECT_EQ(r.Release(7), Paths{"shared/x"});
  EXPECT_TRUE(r.Release(7).empty());
  r.Register(8, {});
  EXPECT_TRUE(r.Release(8).empty());
}

}  // namespace
}  // namespace sluice::jobmanager::checkpoint
