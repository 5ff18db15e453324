// What the schedule tests share: a fixture that pins the process's time
// zone (TZ) for one test and restores it after, and literal times.
#pragma once

#include <stdlib.h>
#include <time.h>

#include <cstdio>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "jobs/clock.h"

namespace coffer::jobs {

class TimeZoneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* tz = getenv("TZ")) saved_tz_ = tz;
    UseZone("UTC");
  }
  void TearDown() override {
    if (saved_tz_) {
      setenv("TZ", saved_tz_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

  static void UseZone(const char* zone) {
    setenv("TZ", zone, 1);
    tzset();
  }

  // "2026-03-29 01:00:00" read as UTC.
  static TimePoint Utc(const std::string& text) {
    std::tm tm{};
    const int fields = std::sscanf(text.c_str(), "%4d-%2d-%2d %2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
    EXPECT_EQ(fields, 6) << text;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return TimePoint(std::chrono::seconds(timegm(&tm)));
  }

  // An instant as the local time of the pinned zone with its offset,
  // "2026-03-29 03:00:00 +0200": readable, and exact.
  static std::string Local(TimePoint t) {
    const time_t seconds = t.time_since_epoch().count();
    std::tm tm{};
    localtime_r(&seconds, &tm);
    char text[64];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %z", &tm);
    return text;
  }
  static std::string Local(std::optional<TimePoint> t) { return t ? Local(*t) : "never"; }

 private:
  std::optional<std::string> saved_tz_;
};

}  // namespace coffer::jobs
