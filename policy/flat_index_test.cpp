#include "policy/flat_index.h"

#include <gtest/gtest.h>

#include <string>

namespace keyward::policy {
namespace {

TEST(FlatIndexTest, EmptyFindsNothing) {
  FlatIndex idx;
  EXPECT_EQ(idx.Find("x"), FlatIndex::kMissing);
  EXPECT_TRUE(idx.empty());
}

TEST(FlatIndexTest, FindsEveryKeyThroughGrowth) {
  FlatIndex idx;
  for (std::uint32_t i = 0; i < 5000; ++i) EXPECT_EQ(idx.Insert("pipeline-" + std::to_string(i), i * 3), i * 3);
  EXPECT_EQ(idx.size(), 5000u);
  for (std::uint32_t i = 0; i < 5000; ++i) ASSERT_EQ(idx.Find("pipeline-" + std::to_string(i)), i * 3) << i;
  EXPECT_EQ(idx.Find("pipeline-5000"), FlatIndex::kMissing);
  EXPECT_EQ(idx.Find("pipeline-"), FlatIndex::kMissing);
  EXPECT_EQ(idx.Find(""), FlatIndex::kMissing);
}

TEST(FlatIndexTest, InsertKeepsTheFirstValue) {
  FlatIndex idx;
  EXPECT_EQ(idx.Insert("a", 1), 1u);
  EXPECT_EQ(idx.Insert("a", 2), 1u);
  EXPECT_EQ(idx.Find("a"), 1u);
  EXPECT_EQ(idx.size(), 1u);
}

TEST(FlatIndexTest, EmptyKeyAndPrefixesAreDistinct) {
  FlatIndex idx;
  idx.Insert("", 7);
  idx.Insert("ab", 8);
  EXPECT_EQ(idx.Find(""), 7u);
  EXPECT_EQ(idx.Find("a"), FlatIndex::kMissing);
  EXPECT_EQ(idx.Find("ab"), 8u);
}

}  // namespace
}  // namespace keyward::policy
