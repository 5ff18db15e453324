// Durations in systemd's time span syntax: what they add up to, and each
// error message.
#include "jobs/duration.h"

#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace coffer::jobs {
namespace {

struct DurationCase {
  std::string_view text;
  int64_t seconds;
};

TEST(DurationTest, AddsUpTheParts) {
  const std::vector<DurationCase> cases = {
      {"0", 0},           {"90", 90},      {"90s", 90},          {"10m", 600},
      {"5min", 300},      {"1h30m", 5400}, {"1h 30min", 5400},   {"36h", 129600},
      {"2d", 172800},     {"1.5h", 5400},  {"2 weeks", 1209600}, {"1w 2d 3h 4m 5s", 788645},
      {" 7 seconds ", 7}, {"1hr", 3600},   {"1 hour", 3600},     {"1M", 2629800},
      {"1y", 31557600},   {"0.5m", 30},    {"1h30", 3630},       {"3 days", 259200},
  };
  for (const DurationCase& c : cases) {
    Result<std::chrono::seconds> duration = ParseDuration(c.text);
    ASSERT_TRUE(duration.ok()) << duration.status().ToString();
    EXPECT_EQ(duration->count(), c.seconds) << c.text;
  }
}

struct DurationErrorCase {
  std::string_view text;
  std::string_view message;
};

TEST(DurationTest, ErrorsSayWhatAndWhere) {
  const std::vector<DurationErrorCase> cases = {
      {"", "\"\": the duration is empty"},
      {"10x", "\"10x\": unknown unit \"x\" at column 3"},
      {"1h 30x", "\"1h 30x\": unknown unit \"x\" at column 6"},
      {"-5m", "\"-5m\": unexpected \"-\", expected a number at column 1"},
      {"h", "\"h\": unexpected \"h\", expected a number at column 1"},
      {"1.5s", "\"1.5s\": not a whole number of seconds at column 1"},
      {"500ms", "\"500ms\": durations are whole seconds, \"ms\" is less at column 4"},
      {"99999999999999", "\"99999999999999\": duration too long at column 1"},
      {"40000y", "\"40000y\": duration too long at column 1"},
      {"1.0000000001h", "\"1.0000000001h\": too many decimals at column 12"},
  };
  for (const DurationErrorCase& c : cases) {
    Result<std::chrono::seconds> duration = ParseDuration(c.text);
    ASSERT_FALSE(duration.ok()) << c.text;
    EXPECT_EQ(duration.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(duration.status().message(), c.message);
  }
}

}  // namespace
}  // namespace coffer::jobs
