// Schedules of unattended jobs: systemd/Proxmox calendar events and cron
// lines, when they next fire in local time, and how systemd writes them.
//
// The grammar (ParseSchedule). Text with exactly five fields separated by
// white space, or one word starting with "@", is a cron line; anything else
// is a calendar event, which has at most three parts, so the two never
// meet.
//
// Calendar events, as systemd.time(7) and Proxmox's calendar-events:
//   [WEEKDAYS] [[YEARS-]MONTHS-DAYS] [HOURS:MINUTES[:SECONDS]]
//   - each part is optional, at least one is given; a missing date is every
//     day, a missing time 00:00:00, missing seconds :00;
//   - a part after the weekdays with neither ":" nor "-" is a minute
//     (Proxmox): "0/15" and "*/5" are every 15 and every 5 minutes;
//   - a field is a comma list of "*", "N", "A..B", each optionally with a
//     repetition "/STEP" ("0/15", "8..17/3", "*/5" = "0/5"); STEP counts
//     from the start up to the field's end;
//   - weekdays: mon..sun (or monday..sunday, any case), lists and forward
//     ranges ("mon..fri", "sat,sun", "mon-fri"); the event fires on days that
//     match both the weekdays and the date;
//   - "~" instead of the last "-" counts days from the month's end
//     (systemd): "*-*~1" is the last day, "*-05~07/1" the last 7 days of May;
//   - years 1970..2199, as systemd accepts; whole seconds only; no time zone
//     suffix (schedules are in the local zone);
//   - shorthands minutely, hourly, daily, weekly, monthly, yearly, annually,
//     quarterly, semiannually (or semi-annually), as systemd defines them.
// Cron lines, as Vixie cron and cronie read them:
//   MINUTE HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK, each "*", "N", "A-B", with
//   "/STEP" and commas; months jan..dec, weekdays sun..sat or 0..7 (0 and 7
//   are Sunday); @yearly @annually @monthly @weekly @daily @midnight @hourly.
//   When both day fields are restricted (neither starts with "*"), a day
//   matching either one is enough.
// An error names what is wrong and its column (from 1), e.g.
//   "mon..fry 02:00": unknown weekday "fry" at column 6
//
// Time (NextAfter, MissedRun) is the local time of the process's zone (TZ),
// with the daylight saving rule of jobs/local_time.h: a time that falls
// into a spring-forward gap runs once, at the change; a time repeated when
// the clocks fall back runs once, the first time. systemd skips the gap
// instead. The calendar repeats every 400 years, weekdays included, so a
// schedule that matches nothing in the 400 years after an instant never
// matches again ("*-02-30"): NextAfter gives nullopt.
//
// Schedules are immutable values, safe to share between threads.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/clock.h"
#include "store/base/status.h"

namespace coffer::jobs {

class ScheduleParser;

class Schedule {
 public:
  // The first scheduled instant strictly after `after`, or nullopt if there
  // is none (the schedule never matches again).
  std::optional<TimePoint> NextAfter(TimePoint after) const;

  // The schedule as systemd's OnCalendar= lines, in the normalised form
  // `systemd-analyze calendar` prints ("Mon..Fri *-*-* 02:00:00"). One line,
  // except for a cron line restricting both day fields: systemd has no "either
  // day" rule, so that is two lines (the days of the month, the weekdays),
  // which a timer fires on when either does. Each line parses back.
  std::vector<std::string> ToOnCalendar() const;

  // Cron's rule: both day fields are restricted and either is enough.
  bool either_day() const { return either_day_; }

  bool operator==(const Schedule&) const = default;

 private:
  friend class ScheduleParser;
  static constexpr int kFirstYear = 1970;
  static constexpr int kLastYear = 2199;
  static constexpr int kYearCount = kLastYear - kFirstYear + 1;

  Schedule() = default;
  void Normalize();
  bool YearMatches(int year) const;
  bool DayMatches(int year, unsigned month, unsigned day) const;
  // The first matching second of a day at or after `second_of_day`.
  std::optional<int> TimeOfDayFrom(int second_of_day) const;
  // The first matching wall time (jobs/local_time.h) at or after `wall`.
  std::optional<int64_t> NextWallTimeFrom(int64_t wall) const;

  std::bitset<60> seconds_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;           // bit D: day D of the month (1..31), or the D-th last day
  bool days_from_end_ = false;     // systemd's "~"
  std::bitset<13> months_;         // bit M: month M (1..12)
  std::bitset<kYearCount> years_;  // bit Y: year kFirstYear + Y; all set: every year
  std::bitset<7> weekdays_;        // bit 0: Monday .. bit 6: Sunday
  bool either_day_ = false;
};

// Parses a calendar event or a cron line (the grammar above).
Result<Schedule> ParseSchedule(std::string_view text);

// The latest scheduled instant in (last_run, now], or nullopt if none: what
// a scheduler that was down runs once when it comes back (systemd's
// Persistent=, Proxmox's repeat-missed), however many slots it missed.
std::optional<TimePoint> MissedRun(const Schedule& schedule, TimePoint last_run, TimePoint now);

}  // namespace coffer::jobs
