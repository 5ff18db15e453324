// When schedules fire: table tests with literal times in pinned zones,
// daylight saving changes, catch-up after downtime, the wall-time mapping.
#include "jobs/calendar.h"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "jobs/clock.h"
#include "jobs/local_time.h"
#include "tests/jobs/time_zone_fixture.h"

namespace coffer::jobs {
namespace {

using Times = std::vector<std::string>;

class CalendarTest : public TimeZoneTest {
 protected:
  static Schedule Parse(std::string_view text) {
    Result<Schedule> schedule = ParseSchedule(text);
    EXPECT_TRUE(schedule.ok()) << schedule.status().ToString();
    return std::move(schedule).value();
  }

  // The next `count` runs after `from`, as local times.
  static Times Runs(std::string_view text, TimePoint from, int count) {
    const Schedule schedule = Parse(text);
    Times runs;
    std::optional<TimePoint> at = from;
    for (int i = 0; i < count; ++i) {
      at = schedule.NextAfter(*at);
      runs.push_back(Local(at));
      if (!at) break;
    }
    return runs;
  }

  static int64_t Epoch(std::optional<TimePoint> t) {
    return t ? t->time_since_epoch().count() : -1;
  }
};

struct RunCase {
  std::string_view schedule;
  std::string_view from;  // UTC
  Times runs;
};

TEST_F(CalendarTest, NextRunsInUtc) {
  // 2026-12-06 is a Sunday; 2027-01-01 a Friday.
  const std::vector<RunCase> cases = {
      {"daily", "2026-12-06 06:03:51", {"2026-12-07 00:00:00 +0000", "2026-12-08 00:00:00 +0000"}},
      {"weekly", "2026-12-06 06:03:51", {"2026-12-07 00:00:00 +0000", "2026-12-14 00:00:00 +0000"}},
      {"hourly", "2026-12-06 06:03:51", {"2026-12-06 07:00:00 +0000", "2026-12-06 08:00:00 +0000"}},
      {"minutely",
       "2026-12-06 06:03:51",
       {"2026-12-06 06:04:00 +0000", "2026-12-06 06:05:00 +0000"}},
      {"monthly",
       "2026-12-06 06:03:51",
       {"2027-01-01 00:00:00 +0000", "2027-02-01 00:00:00 +0000"}},
      {"yearly", "2026-12-06 06:03:51", {"2027-01-01 00:00:00 +0000", "2028-01-01 00:00:00 +0000"}},
      {"annually",
       "2026-12-06 06:03:51",
       {"2027-01-01 00:00:00 +0000", "2028-01-01 00:00:00 +0000"}},
      {"quarterly",
       "2026-12-06 06:03:51",
       {"2027-01-01 00:00:00 +0000", "2027-04-01 00:00:00 +0000", "2027-07-01 00:00:00 +0000",
        "2027-10-01 00:00:00 +0000", "2028-01-01 00:00:00 +0000"}},
      {"semiannually",
       "2026-12-06 06:03:51",
       {"2027-01-01 00:00:00 +0000", "2027-07-01 00:00:00 +0000"}},
      {"semi-annually",
       "2026-12-06 06:03:51",
       {"2027-01-01 00:00:00 +0000", "2027-07-01 00:00:00 +0000"}},
      {"mon..fri 02:00",
       "2026-12-04 03:00:00",
       {"2026-12-07 02:00:00 +0000", "2026-12-08 02:00:00 +0000", "2026-12-09 02:00:00 +0000",
        "2026-12-10 02:00:00 +0000", "2026-12-11 02:00:00 +0000", "2026-12-14 02:00:00 +0000"}},
      {"Mon-Fri 02:00", "2026-12-05 03:00:00", {"2026-12-07 02:00:00 +0000"}},
      {"sat,sun 10:00",
       "2026-12-04 00:00:00",
       {"2026-12-05 10:00:00 +0000", "2026-12-06 10:00:00 +0000", "2026-12-12 10:00:00 +0000"}},
      {"mon,wed..fri 1,3,5:00",
       "2026-12-06 00:00:00",
       {"2026-12-07 01:00:00 +0000", "2026-12-07 03:00:00 +0000", "2026-12-07 05:00:00 +0000",
        "2026-12-09 01:00:00 +0000"}},
      {"*-*-01 03:00",
       "2026-12-06 06:03:51",
       {"2027-01-01 03:00:00 +0000", "2027-02-01 03:00:00 +0000"}},
      // The first Saturday of each month.
      {"sat *-1..7 15:00",
       "2026-12-06 06:03:51",
       {"2027-01-02 15:00:00 +0000", "2027-02-06 15:00:00 +0000", "2027-03-06 15:00:00 +0000"}},
      {"0/15",
       "2026-12-06 06:03:51",
       {"2026-12-06 06:15:00 +0000", "2026-12-06 06:30:00 +0000", "2026-12-06 06:45:00 +0000",
        "2026-12-06 07:00:00 +0000"}},
      {"*:0/15", "2026-12-06 06:03:51", {"2026-12-06 06:15:00 +0000", "2026-12-06 06:30:00 +0000"}},
      {"*/5", "2026-12-06 06:03:51", {"2026-12-06 06:05:00 +0000", "2026-12-06 06:10:00 +0000"}},
      {"5", "2026-12-06 06:03:51", {"2026-12-06 06:05:00 +0000", "2026-12-06 07:05:00 +0000"}},
      {"*:*:0/20",
       "2026-12-06 06:03:51",
       {"2026-12-06 06:04:00 +0000", "2026-12-06 06:04:20 +0000"}},
      {"8..17/3:00",
       "2026-12-06 09:00:00",
       {"2026-12-06 11:00:00 +0000", "2026-12-06 14:00:00 +0000", "2026-12-06 17:00:00 +0000",
        "2026-12-07 08:00:00 +0000"}},
      {"01,05..06,12/05:30",
       "2026-12-06 00:00:00",
       {"2026-12-06 01:30:00 +0000", "2026-12-06 05:30:00 +0000", "2026-12-06 06:30:00 +0000",
        "2026-12-06 12:30:00 +0000", "2026-12-06 17:30:00 +0000", "2026-12-06 22:30:00 +0000",
        "2026-12-07 01:30:00 +0000"}},
      {"2027-03-04 05:06:07", "2026-12-06 00:00:00", {"2027-03-04 05:06:07 +0000", "never"}},
      {"*-02-29",
       "2026-12-06 00:00:00",
       {"2028-02-29 00:00:00 +0000", "2032-02-29 00:00:00 +0000"}},
      {"2026..2030/2-02-29", "2026-01-01 00:00:00", {"2028-02-29 00:00:00 +0000", "never"}},
      // systemd's "~": the last day, the 3rd last day of February, the last Monday of May.
      {"*-*~1 23:00",
       "2026-12-06 00:00:00",
       {"2026-12-31 23:00:00 +0000", "2027-01-31 23:00:00 +0000", "2027-02-28 23:00:00 +0000"}},
      {"*-02~03",
       "2026-12-06 00:00:00",
       {"2027-02-26 00:00:00 +0000", "2028-02-27 00:00:00 +0000"}},
      {"Mon *-05~07/1",
       "2026-01-01 00:00:00",
       {"2026-05-25 00:00:00 +0000", "2027-05-31 00:00:00 +0000"}},
      {"*-05~07/2",
       "2026-01-01 00:00:00",
       {"2026-05-25 00:00:00 +0000", "2026-05-27 00:00:00 +0000", "2026-05-29 00:00:00 +0000",
        "2026-05-31 00:00:00 +0000", "2027-05-25 00:00:00 +0000"}},
      {"*-*~1..6/2",
       "2026-01-01 00:00:00",
       {"2026-01-27 00:00:00 +0000", "2026-01-29 00:00:00 +0000", "2026-01-31 00:00:00 +0000",
        "2026-02-24 00:00:00 +0000"}},
      // Cron lines.
      {"0 2 * * *",
       "2026-12-06 06:03:51",
       {"2026-12-07 02:00:00 +0000", "2026-12-08 02:00:00 +0000"}},
      {"*/15 * * * *",
       "2026-12-06 06:03:51",
       {"2026-12-06 06:15:00 +0000", "2026-12-06 06:30:00 +0000"}},
      {"0 3 1 * *",
       "2026-12-06 06:03:51",
       {"2027-01-01 03:00:00 +0000", "2027-02-01 03:00:00 +0000"}},
      // Both day fields restricted: the 1st, the 15th and every Friday.
      {"30 4 1,15 * 5",
       "2026-12-06 06:03:51",
       {"2026-12-11 04:30:00 +0000", "2026-12-15 04:30:00 +0000", "2026-12-18 04:30:00 +0000",
        "2026-12-25 04:30:00 +0000", "2027-01-01 04:30:00 +0000", "2027-01-08 04:30:00 +0000",
        "2027-01-15 04:30:00 +0000"}},
      // "*/2" starts with "*", so it is not restricted: every other day AND a Monday.
      {"0 0 */2 * mon",
       "2026-12-01 00:00:00",
       {"2026-12-07 00:00:00 +0000", "2026-12-21 00:00:00 +0000"}},
      {"*/10 9-17 * * mon-fri",
       "2026-12-06 06:03:51",
       {"2026-12-07 09:00:00 +0000", "2026-12-07 09:10:00 +0000", "2026-12-07 09:20:00 +0000"}},
      {"*/10 9-17 * * mon-fri",
       "2026-12-07 17:45:00",
       {"2026-12-07 17:50:00 +0000", "2026-12-08 09:00:00 +0000"}},
      {"0 12 * jan,jul sun",
       "2026-12-06 13:00:00",
       {"2027-01-03 12:00:00 +0000", "2027-01-10 12:00:00 +0000"}},
      {"0 0 * * 7", "2026-12-06 13:00:00", {"2026-12-13 00:00:00 +0000"}},
      {"0 0 * * 0", "2026-12-06 13:00:00", {"2026-12-13 00:00:00 +0000"}},
      {"0 0 * * fri-sun",
       "2026-12-06 13:00:00",
       {"2026-12-11 00:00:00 +0000", "2026-12-12 00:00:00 +0000", "2026-12-13 00:00:00 +0000",
        "2026-12-18 00:00:00 +0000"}},
      {"5/20 * * * *",
       "2026-12-06 06:03:51",
       {"2026-12-06 06:05:00 +0000", "2026-12-06 06:25:00 +0000", "2026-12-06 06:45:00 +0000",
        "2026-12-06 07:05:00 +0000"}},
      {"@daily", "2026-12-06 06:03:51", {"2026-12-07 00:00:00 +0000"}},
      {"@hourly", "2026-12-06 06:03:51", {"2026-12-06 07:00:00 +0000"}},
      {"@weekly", "2026-12-06 06:03:51", {"2026-12-13 00:00:00 +0000"}},
  };
  for (const RunCase& c : cases) {
    EXPECT_EQ(Runs(c.schedule, Utc(std::string(c.from)), static_cast<int>(c.runs.size())), c.runs)
        << c.schedule << " after " << c.from;
  }
}

TEST_F(CalendarTest, NextAfterIsStrictlyAfter) {
  const Schedule daily = Parse("daily");
  EXPECT_EQ(Local(daily.NextAfter(Utc("2026-12-07 00:00:00"))), "2026-12-08 00:00:00 +0000");
  EXPECT_EQ(Local(daily.NextAfter(Utc("2026-12-06 23:59:59"))), "2026-12-07 00:00:00 +0000");
  const Schedule every_second = Parse("*:*:*");
  EXPECT_EQ(Local(every_second.NextAfter(Utc("2026-12-31 23:59:59"))), "2027-01-01 00:00:00 +0000");
}

TEST_F(CalendarTest, SchedulesThatNeverMatchEndTheSearch) {
  EXPECT_EQ(Parse("*-02-30").NextAfter(Utc("2026-01-01 00:00:00")), std::nullopt);
  EXPECT_EQ(Parse("*-04-31 12:00").NextAfter(Utc("2026-01-01 00:00:00")), std::nullopt);
  EXPECT_EQ(Parse("2020-*-*").NextAfter(Utc("2026-01-01 00:00:00")), std::nullopt);
  EXPECT_EQ(Parse("0 0 30 2 *").NextAfter(Utc("2026-01-01 00:00:00")), std::nullopt);
  // Rare, but there: a 29 February on a Monday, and the last year systemd knows.
  EXPECT_EQ(Local(Parse("mon *-02-29").NextAfter(Utc("2026-01-01 00:00:00"))),
            "2044-02-29 00:00:00 +0000");
  EXPECT_EQ(Local(Parse("2199-12-31 23:59:59").NextAfter(Utc("2026-01-01 00:00:00"))),
            "2199-12-31 23:59:59 +0000");
}

// Europe/Berlin: 2026-03-29 02:00 CET becomes 03:00 CEST (01:00 UTC);
// 2026-10-25 03:00 CEST becomes 02:00 CET (01:00 UTC).
TEST_F(CalendarTest, SpringForwardGapRunsOnceAtTheChange) {
  UseZone("Europe/Berlin");
  EXPECT_EQ(Runs("02:30", Utc("2026-03-27 12:00:00"), 3),
            (Times{"2026-03-28 02:30:00 +0100", "2026-03-29 03:00:00 +0200",
                   "2026-03-30 02:30:00 +0200"}));
  const Schedule at_0230 = Parse("02:30");
  EXPECT_EQ(Epoch(at_0230.NextAfter(Utc("2026-03-28 12:00:00"))), 1774746000);  // 01:00 UTC
  EXPECT_EQ(Epoch(at_0230.NextAfter(TimePoint(std::chrono::seconds(1774746000)))), 1774830600);
  // The slots at 02:00 and 02:30 fall into the gap and meet 03:00: one run.
  EXPECT_EQ(Runs("*:0/30", Utc("2026-03-29 00:10:00"), 4),
            (Times{"2026-03-29 01:30:00 +0100", "2026-03-29 03:00:00 +0200",
                   "2026-03-29 03:30:00 +0200", "2026-03-29 04:00:00 +0200"}));
  EXPECT_EQ(Runs("02:*", Utc("2026-03-29 00:30:00"), 2),
            (Times{"2026-03-29 03:00:00 +0200", "2026-03-30 02:00:00 +0200"}));
  // The second before the change: the gap's run is at the change itself.
  EXPECT_EQ(Epoch(at_0230.NextAfter(Utc("2026-03-29 00:59:59"))), 1774746000);
  EXPECT_EQ(Epoch(Parse("*:*:*").NextAfter(Utc("2026-03-29 00:59:59"))), 1774746000);
}

TEST_F(CalendarTest, FallBackOverlapRunsOnceTheFirstTime) {
  UseZone("Europe/Berlin");
  EXPECT_EQ(Runs("02:30", Utc("2026-10-24 12:00:00"), 2),
            (Times{"2026-10-25 02:30:00 +0200", "2026-10-26 02:30:00 +0100"}));
  const Schedule at_0230 = Parse("02:30");
  EXPECT_EQ(Epoch(at_0230.NextAfter(Utc("2026-10-24 12:00:00"))), 1792888200);  // 00:30 UTC
  EXPECT_EQ(Epoch(at_0230.NextAfter(TimePoint(std::chrono::seconds(1792888200)))), 1792978200);
  // 02:00 and 02:30 CET, the second pass, do not run again (as with systemd).
  EXPECT_EQ(
      Runs("*:0/30", Utc("2026-10-24 23:10:00"), 5),
      (Times{"2026-10-25 01:30:00 +0200", "2026-10-25 02:00:00 +0200", "2026-10-25 02:30:00 +0200",
             "2026-10-25 03:00:00 +0100", "2026-10-25 03:30:00 +0100"}));
  // From inside the second pass, the next run is after it.
  EXPECT_EQ(Local(Parse("*:0/30").NextAfter(Utc("2026-10-25 01:15:00"))),
            "2026-10-25 03:00:00 +0100");
  EXPECT_EQ(Local(Parse("*:*:*").NextAfter(Utc("2026-10-25 01:00:00"))),
            "2026-10-25 03:00:00 +0100");
  EXPECT_EQ(Local(Parse("*:*:*").NextAfter(Utc("2026-10-25 00:59:58"))),
            "2026-10-25 02:59:59 +0200");
}

// America/New_York: 2026-03-08 02:00 EST becomes 03:00 EDT (07:00 UTC);
// 2026-11-01 02:00 EDT becomes 01:00 EST (06:00 UTC).
TEST_F(CalendarTest, NewYorkChangesFollowTheSameRule) {
  UseZone("America/New_York");
  EXPECT_EQ(Runs("02:30", Utc("2026-03-07 12:00:00"), 3),
            (Times{"2026-03-08 03:00:00 -0400", "2026-03-09 02:30:00 -0400",
                   "2026-03-10 02:30:00 -0400"}));
  EXPECT_EQ(Epoch(Parse("02:30").NextAfter(Utc("2026-03-07 12:00:00"))), 1772953200);
  EXPECT_EQ(Runs("01:30", Utc("2026-10-31 12:00:00"), 2),
            (Times{"2026-11-01 01:30:00 -0400", "2026-11-02 01:30:00 -0500"}));
  EXPECT_EQ(Epoch(Parse("01:30").NextAfter(Utc("2026-10-31 12:00:00"))), 1793511000);
  EXPECT_EQ(Runs("0 2 * * *", Utc("2026-03-07 12:00:00"), 2),
            (Times{"2026-03-08 03:00:00 -0400", "2026-03-09 02:00:00 -0400"}));
}

TEST_F(CalendarTest, MissedRunIsTheLatestDueSlot) {
  const Schedule daily = Parse("daily");
  // Down for three days: one catch-up run, the latest missed midnight.
  EXPECT_EQ(Local(MissedRun(daily, Utc("2026-12-01 00:00:00"), Utc("2026-12-04 09:00:00"))),
            "2026-12-04 00:00:00 +0000");
  // Nothing due since the last run.
  EXPECT_EQ(MissedRun(daily, Utc("2026-12-04 00:00:00"), Utc("2026-12-04 09:00:00")), std::nullopt);
  // A slot exactly at `now` is due; one exactly at `last_run` already ran.
  EXPECT_EQ(Local(MissedRun(daily, Utc("2026-12-03 00:00:00"), Utc("2026-12-04 00:00:00"))),
            "2026-12-04 00:00:00 +0000");
  EXPECT_EQ(MissedRun(daily, Utc("2026-12-04 00:00:00"), Utc("2026-12-04 00:00:00")), std::nullopt);
  // A year of missed minutes is still one run, found without visiting each.
  EXPECT_EQ(
      Local(MissedRun(Parse("minutely"), Utc("2025-12-01 00:00:00"), Utc("2026-12-04 09:10:30"))),
      "2026-12-04 09:10:00 +0000");
  EXPECT_EQ(Local(MissedRun(Parse("30 4 1,15 * 5"), Utc("2026-12-01 00:00:00"),
                            Utc("2026-12-17 00:00:00"))),
            "2026-12-15 04:30:00 +0000");
  EXPECT_EQ(MissedRun(Parse("*-02-30"), Utc("2026-01-01 00:00:00"), Utc("2027-01-01 00:00:00")),
            std::nullopt);
}

TEST_F(CalendarTest, MissedRunAcrossTheGap) {
  UseZone("Europe/Berlin");
  EXPECT_EQ(
      Local(MissedRun(Parse("02:30"), Utc("2026-03-28 12:00:00"), Utc("2026-03-29 06:00:00"))),
      "2026-03-29 03:00:00 +0200");
}

TEST_F(CalendarTest, WallTimesMapByTheDaylightSavingRule) {
  UseZone("Europe/Berlin");
  const int64_t gap_wall = Utc("2026-03-29 02:30:00").time_since_epoch().count();
  EXPECT_EQ(InstantOfWallTime(gap_wall), Utc("2026-03-29 01:00:00"));
  EXPECT_EQ(InstantOfWallTime(gap_wall - 1800),
            Utc("2026-03-29 01:00:00"));  // 02:00, the gap's start
  EXPECT_EQ(InstantOfWallTime(gap_wall - 1801), Utc("2026-03-29 00:59:59"));
  const int64_t overlap_wall = Utc("2026-10-25 02:30:00").time_since_epoch().count();
  EXPECT_EQ(InstantOfWallTime(overlap_wall), Utc("2026-10-25 00:30:00"));
  EXPECT_EQ(InstantOfWallTime(overlap_wall + 1800), Utc("2026-10-25 02:00:00"));  // 03:00 CET
  EXPECT_EQ(WallTimeOf(Utc("2026-10-25 01:30:00")), overlap_wall);
  // In the second pass the search starts where the repeated hour ends.
  EXPECT_EQ(FirstWallTimeAfter(Utc("2026-10-25 01:30:00")), overlap_wall + 1800);
  EXPECT_EQ(FirstWallTimeAfter(Utc("2026-10-25 00:30:00")), overlap_wall + 1);
  EXPECT_EQ(FirstWallTimeAfter(Utc("2026-03-29 00:59:59")), gap_wall - 1800);
}

TEST(ClockTest, FakeClockStandsStillUntilMoved) {
  FakeClock clock(TimePoint(std::chrono::seconds(1'800'000'000)));
  EXPECT_EQ(clock.Now().time_since_epoch().count(), 1'800'000'000);
  clock.Advance(std::chrono::hours(1));
  EXPECT_EQ(clock.Now().time_since_epoch().count(), 1'800'003'600);
  clock.Set(TimePoint(std::chrono::seconds(5)));
  EXPECT_EQ(clock.Now().time_since_epoch().count(), 5);
  const Clock& system = SystemClock();
  EXPECT_GT(system.Now().time_since_epoch().count(), 1'700'000'000);
}

}  // namespace
}  // namespace coffer::jobs
