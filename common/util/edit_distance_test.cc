#include "common/util/edit_distance.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(EditDistanceTest, CountsEachEditOnce) {
  EXPECT_EQ(EditDistance("list", "list"), 0u);
  EXPECT_EQ(EditDistance("lst", "list"), 1u);    // insertion
  EXPECT_EQ(EditDistance("lisst", "list"), 1u);  // deletion
  EXPECT_EQ(EditDistance("lest", "list"), 1u);   // substitution
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("abc", ""), 3u);
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
}

TEST(EditDistanceTest, AnAdjacentTranspositionIsOneEdit) {
  EXPECT_EQ(EditDistance("lsit", "list"), 1u);
  EXPECT_EQ(EditDistance("parallelism.defualt", "parallelism.default"), 1u);
  // Optimal string alignment: a transposed pair is not edited again ("ca" -> "abc" is 3).
  EXPECT_EQ(EditDistance("ca", "abc"), 3u);
}

TEST(EditDistanceTest, IsSymmetricAndCaseSensitive) {
  EXPECT_EQ(EditDistance("execution.buffer-timeout", "execution.bufer-timeuot"),
            EditDistance("execution.bufer-timeuot", "execution.buffer-timeout"));
  EXPECT_EQ(EditDistance("List", "list"), 1u);
}

}  // namespace
}  // namespace sluice
