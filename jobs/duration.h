// Durations as a jobs file writes them (random-delay, hook-timeout,
// stale-after), in systemd's time span syntax (systemd.time(7)).
//
// A duration is one or more "NUMBER[UNIT]", optionally separated by spaces,
// which add up: "90s", "10m", "1h30m", "1h 30min", "36h", "2d", "1.5h",
// "2 weeks". A number without a unit is seconds. Units, any of each line:
//   s sec second seconds | m min minute minutes | h hr hour hours
//   d day days | w week weeks | M month months (30.44 days, as systemd)
//   y year years (365.25 days)
// Units are case-sensitive only where systemd's are ("m" minutes, "M"
// months). The result is whole seconds, at most 10^12: "1.5s" and "500ms"
// are refused. An error names what is wrong and its column (from 1).
//
// Pure; safe from any thread. (tools/units.h has the command line's
// ParseDuration, in milliseconds, for --lock-wait and friends.)
#pragma once

#include <chrono>
#include <string_view>

#include "store/base/status.h"

namespace coffer::jobs {

Result<std::chrono::seconds> ParseDuration(std::string_view text);

}  // namespace coffer::jobs
