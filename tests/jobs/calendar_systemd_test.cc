// systemd as an independent oracle: `systemd-analyze calendar` must agree
// with NextAfter on when schedules fire, and must print the lines
// ToOnCalendar gives unchanged (they are already in its normalized form).
// Skipped where systemd-analyze is not installed.
#include <stdio.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "jobs/calendar.h"
#include "tests/jobs/time_zone_fixture.h"
#include "tests/testing/find_program.h"

namespace coffer::jobs {
namespace {

constexpr std::string_view kZone = "Europe/Berlin";

std::string FindSystemdAnalyze() {
  return testing::FindProgram("systemd-analyze");
}

struct Analysis {
  std::string normalized;
  std::vector<std::string> runs_utc;  // "2026-03-30 00:30:00"
};

// What systemd-analyze says of `expression` after `base` in kZone.
Analysis Analyze(const std::string& program, const std::string& expression, TimePoint base,
                 int iterations) {
  const std::string command = "TZ=" + std::string(kZone) + " " + program +
                              " calendar --iterations=" + std::to_string(iterations) +
                              " --base-time=@" + std::to_string(base.time_since_epoch().count()) +
                              " '" + expression + "' 2>&1";
  Analysis analysis;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return analysis;
  char line[512];
  while (fgets(line, sizeof line, pipe) != nullptr) {
    const std::string_view text(line);
    constexpr std::string_view kNormalized = "Normalized form: ";
    constexpr std::string_view kInUtc = "(in UTC): ";
    if (size_t at = text.find(kNormalized); at != std::string_view::npos) {
      std::string_view rest = text.substr(at + kNormalized.size());
      while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.remove_suffix(1);
      analysis.normalized = rest;
    } else if (size_t at = text.find(kInUtc); at != std::string_view::npos) {
      // "(in UTC): Mon 2026-03-30 00:30:00 UTC": skip the weekday.
      analysis.runs_utc.emplace_back(text.substr(at + kInUtc.size() + 4, 19));
    }
  }
  pclose(pipe);
  return analysis;
}

std::string UtcText(TimePoint t) {
  const time_t seconds = t.time_since_epoch().count();
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  return text;
}

class CalendarSystemdTest : public TimeZoneTest {
 protected:
  void SetUp() override {
    TimeZoneTest::SetUp();
    program_ = FindSystemdAnalyze();
    if (program_.empty())
      GTEST_SKIP() << "systemd-analyze is not installed; the oracle is not consulted";
    UseZone(std::string(kZone).c_str());
  }
  std::string program_;
};

struct OracleCase {
  std::string_view schedule;
  std::string_view base;  // UTC
};

TEST_F(CalendarSystemdTest, AgreesOnNextRunsAndNormalizedForm) {
  // Clear of the spring-forward gap, where systemd skips and Coffer runs at
  // the change (jobs/local_time.h); the overlap in October is included.
  const std::vector<OracleCase> cases = {
      {"daily", "2026-01-10 10:00:00"},
      {"weekly", "2026-01-10 10:00:00"},
      {"hourly", "2026-01-10 10:30:00"},
      {"minutely", "2026-01-10 10:30:30"},
      {"monthly", "2026-01-10 10:00:00"},
      {"quarterly", "2026-01-10 10:00:00"},
      {"semiannually", "2026-01-10 10:00:00"},
      {"yearly", "2026-01-10 10:00:00"},
      {"mon..fri 04:00", "2026-01-10 10:00:00"},
      {"sat,sun 10:15", "2026-01-10 10:00:00"},
      {"*-*-01 03:00", "2026-01-10 10:00:00"},
      {"sat *-1..7 15:00", "2026-01-10 10:00:00"},
      {"*:0/15", "2026-01-10 10:07:00"},
      {"*:0/30", "2026-10-24 23:10:00"},  // through the repeated hour
      {"02:30", "2026-10-23 12:00:00"},   // the same
      {"*:*:0/20", "2026-10-25 00:59:10"},
      {"mon,wed..fri 1,3,5:00", "2026-01-10 10:00:00"},
      {"8..17/3:00", "2026-01-10 10:00:00"},
      {"*-*~1 23:00", "2026-01-10 10:00:00"},
      {"*-02~03", "2026-01-10 10:00:00"},
      {"Mon *-05~07/1", "2026-01-10 10:00:00"},
      {"*-05~07/2", "2026-01-10 10:00:00"},
      {"*-02-29", "2026-01-10 10:00:00"},
      {"2026..2030/2-02-29 12:00", "2026-01-10 10:00:00"},
      {"0 4 * * *", "2026-01-10 10:00:00"},
      {"*/10 9-17 * * mon-fri", "2026-01-10 10:00:00"},
      {"0 12 * jan,jul sun", "2026-01-10 10:00:00"},
      {"5/20 * * * *", "2026-01-10 10:00:00"},
  };
  constexpr int kIterations = 5;
  for (const OracleCase& c : cases) {
    Result<Schedule> schedule = ParseSchedule(c.schedule);
    ASSERT_TRUE(schedule.ok()) << schedule.status().ToString();
    const std::vector<std::string> lines = schedule->ToOnCalendar();
    ASSERT_EQ(lines.size(), 1u) << c.schedule;
    const TimePoint base = Utc(std::string(c.base));
    const Analysis analysis = Analyze(program_, lines[0], base, kIterations);
    EXPECT_EQ(analysis.normalized, lines[0]) << c.schedule;

    std::vector<std::string> ours;
    std::optional<TimePoint> at = base;
    for (int i = 0; i < kIterations && at; ++i) {
      at = schedule->NextAfter(*at);
      if (at) ours.push_back(UtcText(*at));
    }
    EXPECT_EQ(ours, analysis.runs_utc) << c.schedule << " after " << c.base;
  }
}

// Where the two differ on purpose: systemd skips a time that the clocks
// spring over; Coffer runs it once at the change (jobs/local_time.h).
TEST_F(CalendarSystemdTest, DiffersOnlyInTheSpringForwardGap) {
  const TimePoint base = Utc("2026-03-28 12:00:00");
  const Analysis analysis = Analyze(program_, "*-*-* 02:30:00", base, 2);
  EXPECT_EQ(analysis.runs_utc,
            (std::vector<std::string>{"2026-03-30 00:30:00", "2026-03-31 00:30:00"}));
  Result<Schedule> schedule = ParseSchedule("02:30");
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ(UtcText(*schedule->NextAfter(base)), "2026-03-29 01:00:00");
}

}  // namespace
}  // namespace coffer::jobs
