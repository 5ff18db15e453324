// Schedules and durations as a jobs file holds them (jobs/calendar.h,
// jobs/duration.h), evaluated in Europe/Berlin so that daylight saving
// changes are in reach.
//
// Input: the text. Properties: an error is kInvalidArgument and names a
// column (or says the text is empty); from a few fixed instants (before the
// spring gap, inside the repeated autumn hour, 1970, 2199), NextAfter is
// later than the instant or nullopt, and nothing is scheduled between the
// two; the catch-up run lies in its window and is the last one there; the
// OnCalendar lines parse back, to the same schedule when there is one line
// and to lines that fire together exactly when the schedule does when there
// are two; a duration is between 0 and 10^12 seconds.
#include <stdlib.h>
#include <time.h>

#include <string>

#include "fuzz/fuzz_util.h"
#include "jobs/calendar.h"
#include "jobs/duration.h"

using namespace coffer;
using jobs::TimePoint;

namespace {

TimePoint At(int64_t seconds) {
  return TimePoint(std::chrono::seconds(seconds));
}

std::string Show(std::optional<TimePoint> t) {
  return t ? std::to_string(t->time_since_epoch().count()) : "never";
}

void CheckError(const Status& status, std::string_view what) {
  if (status.code() != Code::kInvalidArgument)
    fuzz::Fail(std::string(what) + ": not kInvalidArgument");
  const std::string& message = status.message();
  if (message.find(" at column ") == std::string::npos &&
      message.find("is empty") == std::string::npos) {
    fuzz::Fail(std::string(what) + " names no column: " + message);
  }
}

// The earliest next run of any of `lines`.
std::optional<TimePoint> EarliestNext(const std::vector<jobs::Schedule>& lines, TimePoint after) {
  std::optional<TimePoint> earliest;
  for (const jobs::Schedule& line : lines) {
    std::optional<TimePoint> next = line.NextAfter(after);
    if (next && (!earliest || *next < *earliest)) earliest = next;
  }
  return earliest;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("TZ", "Europe/Berlin", 1);
  tzset();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  Result<std::chrono::seconds> duration = jobs::ParseDuration(text);
  if (!duration.ok()) {
    CheckError(duration.status(), "ParseDuration");
  } else if (duration->count() < 0 || duration->count() > 1'000'000'000'000) {
    fuzz::Fail("ParseDuration gave " + std::to_string(duration->count()) + " s");
  }

  Result<jobs::Schedule> schedule = jobs::ParseSchedule(text);
  if (!schedule.ok()) {
    CheckError(schedule.status(), "ParseSchedule");
    return 0;
  }

  const std::vector<std::string> lines = schedule->ToOnCalendar();
  if (lines.size() != (schedule->either_day() ? 2u : 1u))
    fuzz::Fail("wrong number of OnCalendar lines");
  std::vector<jobs::Schedule> reparsed;
  for (const std::string& line : lines) {
    Result<jobs::Schedule> again = jobs::ParseSchedule(line);
    if (!again.ok())
      fuzz::Fail("OnCalendar line '" + line + "' does not parse: " + again.status().message());
    reparsed.push_back(std::move(again).value());
  }
  if (lines.size() == 1 && !(reparsed[0] == *schedule)) {
    fuzz::Fail("OnCalendar line '" + lines[0] + "' parses to another schedule");
  }

  const TimePoint instants[] = {
      At(1774745999),  // 2026-03-29 00:59:59 UTC, the second before Berlin springs forward
      At(1792890900),  // 2026-10-25 01:15:00 UTC, inside the repeated hour's second pass
      At(0),           // 1970
      At(7258117000),  // 2199-12-31, the end of systemd's years
  };
  for (TimePoint t : instants) {
    const std::optional<TimePoint> next = schedule->NextAfter(t);
    if (next && *next <= t)
      fuzz::Fail("NextAfter(" + Show(t) + ") = " + Show(next) + " is not after it");
    if (next && schedule->NextAfter(*next - std::chrono::seconds(1)) != next) {
      fuzz::Fail("a run between " + Show(t) + " and NextAfter = " + Show(next));
    }
    if (lines.size() == 2 && EarliestNext(reparsed, t) != next) {
      fuzz::Fail("the two OnCalendar lines next fire at " + Show(EarliestNext(reparsed, t)) +
                 ", the schedule at " + Show(next));
    }
  }

  // Catch-up over the autumn change: the last run in (last_run, now].
  const TimePoint last_run = At(1792800000);  // 2026-10-24
  const TimePoint now = At(1793000000);       // 2026-10-27
  const std::optional<TimePoint> missed = jobs::MissedRun(*schedule, last_run, now);
  if (missed) {
    if (*missed <= last_run || *missed > now)
      fuzz::Fail("MissedRun " + Show(missed) + " outside its window");
    const std::optional<TimePoint> after = schedule->NextAfter(*missed);
    if (after && *after <= now) fuzz::Fail("MissedRun " + Show(missed) + " is not the latest due");
  } else {
    const std::optional<TimePoint> next = schedule->NextAfter(last_run);
    if (next && *next <= now) fuzz::Fail("MissedRun missed " + Show(next));
  }
  return 0;
}
