#include "store/verify/id_table.h"

#include <gtest/gtest.h>

#include "tests/testing/fs_fixtures.h"

namespace coffer::verify {
namespace {

ObjectId IdNumber(uint64_t n) {
  ObjectId id;
  std::string bytes = testing::RandomBytes(ObjectId::kSize, n);
  std::memcpy(id.bytes.data(), bytes.data(), ObjectId::kSize);
  return id;
}

TEST(IdTableTest, RemembersEveryInsertedIdAcrossGrowth) {
  IdSet set;
  constexpr uint64_t kCount = 100000;
  for (uint64_t i = 0; i < kCount; ++i) EXPECT_TRUE(set.Insert(IdNumber(i)));
  EXPECT_EQ(set.size(), kCount);
  for (uint64_t i = 0; i < kCount; ++i) {
    EXPECT_TRUE(set.Contains(IdNumber(i)));
    EXPECT_FALSE(set.Insert(IdNumber(i))) << "inserted twice";
  }
  for (uint64_t i = kCount; i < kCount + 1000; ++i) EXPECT_FALSE(set.Contains(IdNumber(i)));
  EXPECT_EQ(set.size(), kCount);
}

TEST(IdTableTest, CostsAtMostFortySixBytesPerId) {
  IdSet set;
  for (uint64_t i = 0; i < 50000; ++i) set.Insert(IdNumber(i));
  EXPECT_LE(set.memory_bytes(), 46 * set.size());
}

TEST(IdTableTest, KeepsTheValueOfTheFirstInsert) {
  IdTable<uint64_t> table;
  EXPECT_EQ(table.Get(IdNumber(1)), nullptr);
  EXPECT_TRUE(table.Insert(IdNumber(1), 10));
  EXPECT_FALSE(table.Insert(IdNumber(1), 20));
  ASSERT_NE(table.Get(IdNumber(1)), nullptr);
  EXPECT_EQ(*table.Get(IdNumber(1)), 10u);
}

TEST(IdTableTest, AnAllZeroIdIsStoredLikeAnyOther) {
  IdSet set;
  ObjectId zero;
  EXPECT_FALSE(set.Contains(zero));
  EXPECT_TRUE(set.Insert(zero));
  EXPECT_TRUE(set.Contains(zero));
  EXPECT_FALSE(set.Insert(zero));
}

}  // namespace
}  // namespace coffer::verify
