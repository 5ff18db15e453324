#include "store/model/snapshot_name.h"

#include <gtest/gtest.h>

namespace coffer::model {
namespace {

constexpr int64_t kNov24 = 1795485600LL * kNanosPerSecond;  // 2026-11-24T02:00:00Z

TEST(SnapshotNameTest, FormatsWholeSecondsInUtc) {
  EXPECT_EQ(FormatTime(kNov24), "2026-11-24T02:00:00Z");
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00Z");
}

TEST(SnapshotNameTest, ParsesIsoTimesWithZones) {
  EXPECT_EQ(*ParseTime("2026-11-24T02:00:00Z"), kNov24);
  EXPECT_EQ(*ParseTime("2026-11-24T03:00:00+01:00"), kNov24);
  EXPECT_EQ(*ParseTime("2026-11-23T21:00:00-0500"), kNov24);
  EXPECT_EQ(*ParseTime("2026-11-24 02:00Z"), kNov24);
  EXPECT_EQ(*ParseTime("2026-11-24"), kNov24 - 2 * 3600 * kNanosPerSecond);
}

TEST(SnapshotNameTest, RefusesAmbiguousOrMalformedTimes) {
  EXPECT_EQ(ParseTime("2026-11-24T02:00:00").status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(ParseTime("2026-13-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseTime("yesterday").ok());
  EXPECT_FALSE(ParseTime("2026-11-24T02:00:00.5Z").ok());
}

// Nanoseconds since 1970 in 64 bits reach from 1677-09-21 to 2262-04-11;
// outside, the multiplication overflowed (undefined behaviour).
TEST(SnapshotNameTest, RefusesTimesOutsideWhatNanosecondsHold) {
  for (const char* far : {"2263-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1677-01-01", "0000-01-01"}) {
    EXPECT_EQ(ParseTime(far).status().code(), Code::kInvalidArgument) << far;
  }
  EXPECT_TRUE(ParseTime("2262-04-11T00:00:00Z").ok());
  EXPECT_TRUE(ParseTime("1677-09-22T00:00:00Z").ok());
}

TEST(SnapshotNameTest, ValidatesGroups) {
  EXPECT_TRUE(ValidateGroup("host/web1").ok());
  EXPECT_TRUE(ValidateGroup("ct/101").ok());
  EXPECT_TRUE(ValidateGroup("vm/100").ok());
  EXPECT_FALSE(ValidateGroup("vm/abc").ok());
  EXPECT_FALSE(ValidateGroup("web1").ok());
  EXPECT_FALSE(ValidateGroup("disk/x").ok());
  EXPECT_FALSE(ValidateGroup("host/a/b").ok());
  EXPECT_FALSE(ValidateGroup("host/").ok());
}

TEST(SnapshotNameTest, ParsesTheThreeKindsOfName) {
  auto exact = ParseSnapshotName("host/web1/2026-11-24T02:00:00Z");
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->kind, SnapshotSelector::Kind::kExact);
  EXPECT_EQ(exact->group, "host/web1");
  EXPECT_EQ(exact->time_ns, kNov24);

  auto latest = ParseSnapshotName("ct/101/latest");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->kind, SnapshotSelector::Kind::kLatest);
  EXPECT_EQ(latest->group, "ct/101");

  auto prefix = ParseSnapshotName("1A2b3C");
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(prefix->kind, SnapshotSelector::Kind::kIdPrefix);
  EXPECT_EQ(prefix->id_prefix, "1a2b3c");

  EXPECT_FALSE(ParseSnapshotName("abc").ok());      // too short a prefix
  EXPECT_FALSE(ParseSnapshotName("xyz123").ok());   // not hex
  EXPECT_FALSE(ParseSnapshotName("host/web1/noon").ok());
}

}  // namespace
}  // namespace coffer::model
