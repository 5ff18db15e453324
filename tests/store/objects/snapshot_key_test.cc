#include "store/objects/snapshot_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "tests/store/objects/test_objects.h"

namespace coffer {
namespace {

TEST(SnapshotKeyTest, KeysSortByGroupThenTimeIncludingNegativeTimes) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  // In the expected order.
  std::vector<std::pair<std::string, int64_t>> refs = {
      {"host/a", kMin}, {"host/a", -5},    {"host/a", -1}, {"host/a", 0},  {"host/a", 1},
      {"host/a", kMax}, {"host/ab", kMin}, {"host/ab", 3}, {"host/b", -7},
  };
  std::vector<std::string> keys;
  for (const auto& [group, time] : refs) keys.push_back(SnapshotKey(group, time));
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end());
}

TEST(SnapshotKeyTest, DecodeReturnsWhatWasEncoded) {
  ObjectId id = testing::TestId(1);
  Bytes record = testing::TestValue(2, 100);
  for (int64_t time : {std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{0},
                       int64_t{1700000000123456789}}) {
    auto decoded = DecodeSnapshot(SnapshotKey("ct/101", time), SnapshotValue(id, record));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->ref, (SnapshotRef{"ct/101", time, id}));
    EXPECT_EQ(decoded->sealed, record);
  }
}

TEST(SnapshotKeyTest, GroupPrefixSelectsOnlyThatGroup) {
  std::string prefix = SnapshotGroupPrefix("host/a");
  EXPECT_TRUE(SnapshotKey("host/a", 5).starts_with(prefix));
  EXPECT_FALSE(SnapshotKey("host/ab", 5).starts_with(prefix));
}

TEST(SnapshotKeyTest, EmptyGroupAndGroupWithNulAreInvalid) {
  EXPECT_EQ(CheckSnapshotGroup("").code(), Code::kInvalidArgument);
  EXPECT_EQ(CheckSnapshotGroup(std::string("a\0b", 3)).code(), Code::kInvalidArgument);
  EXPECT_TRUE(CheckSnapshotGroup("vm/100").ok());
}

TEST(SnapshotKeyTest, DecodeRejectsMalformedEntries) {
  Bytes value = SnapshotValue(testing::TestId(1), {});
  EXPECT_EQ(DecodeSnapshot("short", value).status().code(), Code::kCorruption);
}

TEST(SnapshotKeyTest, AValueShorterThanAnIdDecodesAsAnEmptyRecordUnderItsName) {
  auto decoded = DecodeSnapshot(SnapshotKey("g", 1), Bytes(31, 0xab));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->ref, (SnapshotRef{"g", 1, ObjectId()}));
  EXPECT_TRUE(decoded->sealed.empty());
}

// A key whose group holds a NUL byte would be listed with another group
// ("a\0b" under the prefix of "a"): the store never writes one, so it is damage.
TEST(SnapshotKeyTest, DecodeRejectsAGroupWithANulByte) {
  std::string key = SnapshotKey("host/a", 5);
  key.insert(6, std::string("\0b", 2));  // group "host/a\0b"
  auto decoded = DecodeSnapshot(key, SnapshotValue(testing::TestId(1), {}));
  EXPECT_EQ(decoded.status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace coffer
