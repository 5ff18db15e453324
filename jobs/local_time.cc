#include "jobs/local_time.h"

#include <time.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace coffer::jobs {
namespace {

constexpr int64_t kDay = 86400;

// The zone's offset east of UTC at `instant`, in seconds.
int64_t OffsetAt(int64_t instant) {
  const time_t t = static_cast<time_t>(instant);
  struct tm local {};
  if (localtime_r(&t, &local) == nullptr) return 0;  // beyond what libc converts
  return local.tm_gmtoff;
}

int64_t WallOf(int64_t instant) {
  return instant + OffsetAt(instant);
}

}  // namespace

int64_t WallTimeOf(TimePoint instant) {
  return WallOf(instant.time_since_epoch().count());
}

TimePoint InstantOfWallTime(int64_t wall) {
  // The offsets in force a day either side of the wall time (no offset is
  // a day or more), and those at the instants they point to, cover every
  // offset the wall time can have been shown under.
  std::vector<int64_t> offsets = {OffsetAt(wall - kDay), OffsetAt(wall + kDay)};
  offsets.push_back(OffsetAt(wall - offsets[0]));
  offsets.push_back(OffsetAt(wall - offsets[1]));
  std::optional<int64_t> first;
  for (int64_t offset : offsets) {
    const int64_t candidate = wall - offset;
    if (OffsetAt(candidate) == offset && (!first || candidate < *first)) first = candidate;
  }
  if (first) return TimePoint(std::chrono::seconds(*first));

  // A gap: no instant shows `wall`. The answer is the change itself, the
  // first instant whose wall time is past `wall`. Before the gap the zone
  // is at its smallest offset, after it at its largest.
  const auto [smallest, largest] = std::minmax_element(offsets.begin(), offsets.end());
  int64_t before = wall - *largest;  // shows a wall time before `wall`
  int64_t after = wall - *smallest;  // shows one after it
  while (after - before > 1) {
    const int64_t middle = before + (after - before) / 2;
    (WallOf(middle) > wall ? after : before) = middle;
  }
  return TimePoint(std::chrono::seconds(after));
}

int64_t FirstWallTimeAfter(TimePoint instant) {
  const int64_t next = WallTimeOf(instant) + 1;
  if (InstantOfWallTime(next) > instant) return next;
  // `instant` is in the second pass through a repeated hour: the wall times
  // up to the end of that hour map to their first pass, which is over.
  // InstantOfWallTime never decreases, so search for where it passes.
  int64_t done = next;
  int64_t ahead = next + kDay;
  while (ahead - done > 1) {
    const int64_t middle = done + (ahead - done) / 2;
    (InstantOfWallTime(middle) > instant ? ahead : done) = middle;
  }
  return ahead;
}

std::string FormatUtc(TimePoint time) {
  const time_t seconds = time.time_since_epoch().count();
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string FormatLocalTime(TimePoint time, const char* format) {
  const time_t seconds = time.time_since_epoch().count();
  struct tm local {};
  localtime_r(&seconds, &local);
  char text[64];
  const size_t length = strftime(text, sizeof text, format, &local);
  return std::string(text, length);
}

std::optional<TimePoint> ParseUtc(std::string_view text) {
  if (text.size() != 20 || text.back() != 'Z') return std::nullopt;
  const std::string copy(text);
  struct tm utc {};
  const char* end = strptime(copy.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return TimePoint(std::chrono::seconds(timegm(&utc)));
}

}  // namespace coffer::jobs
