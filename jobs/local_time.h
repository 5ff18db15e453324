// Local wall-clock time and back, in the process's time zone (TZ, through
// localtime_r), with the daylight saving rule every schedule follows.
//
// A wall time is written as the seconds since the epoch that the same date
// and clock reading would have in UTC (so calendar arithmetic on it is plain
// std::chrono arithmetic and knows nothing of time zones).
//
// The rule, for a wall time that does not name exactly one instant:
// - in a gap (clocks spring forward, 02:30 on 2026-03-29 in Europe/Berlin
//   never happens), it is the first instant after the gap: the moment of
//   the change (01:00 UTC, shown as 03:00 CEST). Every wall time of the gap
//   maps to that one instant, so a schedule runs once there, not once per
//   missed slot;
// - in an overlap (clocks fall back, 02:30 on 2026-10-25 happens twice), it
//   is the first of the two instants (00:30 UTC, 02:30 CEST).
// The mapping never decreases as the wall time grows, which is what lets
// the evaluator search wall times and still return the first instant.
//
// systemd agrees on overlaps; in a gap it skips the run instead (a timer
// for 02:30 does not fire on the day the clocks spring forward). A backup
// that silently skips a day is worse than one that runs 30 minutes early,
// so here the run happens at the change, as cron does.
//
// Assumes at most one offset change within a day of any instant, true of
// every zone in the tz database since 1970. Thread-safe if nobody changes
// TZ meanwhile (tests do, with tzset(), before they evaluate).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "jobs/clock.h"

namespace coffer::jobs {

// The wall time showing at `instant`.
int64_t WallTimeOf(TimePoint instant);

// The instant a wall time names, by the rule above.
TimePoint InstantOfWallTime(int64_t wall);

// The smallest wall time whose instant (InstantOfWallTime) is after
// `instant`: where a search for the next scheduled wall time starts.
// Usually WallTimeOf(instant) + 1; in the repeated hour after clocks fall
// back, the end of that hour (its wall times already ran the first time).
int64_t FirstWallTimeAfter(TimePoint instant);

// An instant as "2026-12-06T02:00:00Z" (RFC 3339, UTC, whole seconds), as the
// record of runs and the notices write it, and back (nullopt unless exactly
// that form).
std::string FormatUtc(TimePoint instant);
std::optional<TimePoint> ParseUtc(std::string_view text);

// An instant in local time (the zone of TZ) as strftime(3) `format` writes
// it, e.g. "%a %Y-%m-%d %H:%M:%S %z" for "Sun 2026-12-06 02:00:00 +0100".
// At most 63 bytes.
std::string FormatLocalTime(TimePoint instant, const char* format);

}  // namespace coffer::jobs
