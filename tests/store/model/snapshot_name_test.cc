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

// Each of these names a day or time that does not exist; none may be
// normalized into another one (2026-02-31 is not March 3rd).
TEST(SnapshotNameTest, RefusesDatesAndTimesThatDoNotExist) {
  const char* const kNoSuchTime[] = {
      "2026-02-29T00:00:00Z",  // 2026 is not a leap year
      "2100-02-29T00:00:00Z",  // nor is 2100 (a century)
      "2026-02-30T00:00:00Z",
      "2026-02-31T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "2026-06-31",
      "2026-09-31T12:00:00Z",
      "2026-11-31T12:00:00Z",
      "2026-01-32T00:00:00Z",
      "2026-01-00T00:00:00Z",
      "2026-00-10T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-99-01",
      "2026-01-01T24:00:00Z",
      "2026-01-01T25:00Z",
      "2026-01-01T23:60:00Z",
      "2026-01-01T23:59:60Z",  // a leap second: FormatTime could never name it back
      "2026-01-01T23:59:99Z",
      "2026-01-01T12:00:00+24:00",
      "2026-01-01T12:00:00+01:60",
  };
  for (const char* text : kNoSuchTime) {
    auto t = ParseTime(text);
    EXPECT_FALSE(t.ok()) << text << " gave " << (t.ok() ? FormatTime(*t) : "");
    EXPECT_EQ(t.status().code(), Code::kInvalidArgument) << text;
    EXPECT_EQ(t.status().message().find('\n'), std::string::npos) << t.status().message();
    // A name with such a time is refused the same way.
    EXPECT_EQ(ParseSnapshotName(std::string("host/web1/") + text).status().code(),
              Code::kInvalidArgument)
        << text;
  }
}

TEST(SnapshotNameTest, AcceptsTheDaysThatExist) {
  const char* const kTimes[] = {"2024-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
                                "2026-01-31T23:59:59Z", "2026-04-30T00:00:00Z",
                                "2026-12-31T23:59:59Z", "2026-02-28T23:59:59Z"};
  for (const char* text : kTimes) {
    auto t = ParseTime(text);
    ASSERT_TRUE(t.ok()) << text << ": " << t.status().ToString();
    EXPECT_EQ(FormatTime(*t), text);  // nothing was normalized
  }
}

// From the epoch to the last whole second whose nanoseconds fit an int64,
// with the zone offset applied before the check.
TEST(SnapshotNameTest, TimesOutsideTheStoredRangeAreRefused) {
  struct Case {
    const char* text;
    bool ok;
  };
  const Case kCases[] = {
      {"1970-01-01T00:00:00Z", true},  // the first second
      {"1970-01-01", true},
      {"1969-12-31T23:59:59Z", false},       // one before it
      {"1970-01-01T00:30:00+01:00", false},  // 1969-12-31T23:30:00Z
      {"1970-01-01T00:00:00-00:01", true},   // 1970-01-01T00:01:00Z
      {"0000-01-01T00:00:00Z", false},
      {"1677-09-21T00:12:44Z", false},      // the int64's low end, still before the epoch
      {"2262-04-11T23:47:16Z", true},       // the last second
      {"2262-04-12T01:47:16+02:00", true},  // the same second
      {"2262-04-11T23:47:17Z", false},      // one past it
      {"2262-04-11T23:47:16-00:01", false},
      {"2262-04-12", false},
      {"3000-01-01T00:00:00Z", false},  // was stored as 1830 (overflow)
      {"9999-12-31T23:59:59Z", false},
  };
  for (const Case& c : kCases) {
    auto t = ParseTime(c.text);
    EXPECT_EQ(t.ok(), c.ok) << c.text << ": " << t.status().ToString();
    if (!c.ok) {
      EXPECT_EQ(t.status().code(), Code::kInvalidArgument) << c.text;
      EXPECT_NE(t.status().message().find("1970-01-01T00:00:00Z to 2262-04-11T23:47:16Z"),
                std::string::npos)
          << t.status().message();
    }
    EXPECT_EQ(ParseSnapshotName(std::string("host/web1/") + c.text).ok(), c.ok) << c.text;
  }
  EXPECT_EQ(*ParseTime("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseTime("2262-04-11T23:47:16Z"), kMaxTimeSeconds * kNanosPerSecond);
  EXPECT_EQ(FormatTime(kMaxTimeSeconds * kNanosPerSecond), "2262-04-11T23:47:16Z");
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

TEST(SnapshotNameTest, ValidatesTags) {
  for (std::string_view good :
       {"nightly", "before upgrade", "Ünïcode-✓", "a/b=c", "latin1-t\xe9"}) {
    EXPECT_TRUE(ValidateTag(good).ok()) << good;
  }
  const std::string long_tag(129, 't');
  for (std::string_view bad :
       {std::string_view(""), std::string_view(long_tag), std::string_view("a,b"),
        std::string_view("line\nbreak"), std::string_view("tab\there"), std::string_view("del\x7f"),
        std::string_view("bell\x07")}) {
    Status s = ValidateTag(bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_NE(ValidateTag("a,b").message().find("one --tag for each tag"), std::string::npos);
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

  EXPECT_FALSE(ParseSnapshotName("abc").ok());     // too short a prefix
  EXPECT_FALSE(ParseSnapshotName("xyz123").ok());  // not hex
  EXPECT_FALSE(ParseSnapshotName("host/web1/noon").ok());
}

TEST(SnapshotNameTest, AGroupWhereASnapshotIsExpectedIsNamedAsOne) {
  for (const char* group : {"ct/104", "host/web1"}) {
    auto parsed = ParseSnapshotName(group);
    ASSERT_FALSE(parsed.ok()) << group;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(parsed.status().message(), "'" + std::string(group) +
                                             "' is a group, not a snapshot: give " + group +
                                             "/latest or " + group + "/TIME");
  }
  // Not a group either: the group's own complaint.
  auto bad = ParseSnapshotName("disk/x/latest");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown type"), std::string::npos);
}

}  // namespace
}  // namespace coffer::model
