#include "store/model/snapshot_name.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <optional>

namespace coffer::model {

std::string FormatTime(int64_t time_ns) {
  time_t seconds = time_ns / kNanosPerSecond;
  if (time_ns < 0 && time_ns % kNanosPerSecond != 0) --seconds;
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

bool TakeDigits(std::string_view& s, size_t n, int* out) {
  if (s.size() < n) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  s.remove_prefix(n);
  return true;
}

bool TakeChar(std::string_view& s, char c) {
  if (s.empty() || s[0] != c) return false;
  s.remove_prefix(1);
  return true;
}

bool IsLeapYear(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int DaysInMonth(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Days from 1970-01-01 to the given date of the proleptic Gregorian
// calendar (negative before it), without the C library's time_t and its
// normalization of out-of-range fields.
int64_t DaysSinceEpoch(int year, int month, int day) {
  const int64_t y = month <= 2 ? year - 1 : year;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t year_of_era = y - era * 400;  // [0, 399]
  const int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

}  // namespace

Result<int64_t> ParseTime(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("cannot parse time '" + std::string(text) +
                                   "': expected ISO 8601 like 2026-11-24T02:00:00Z");
  };
  auto no_such = [&](std::string_view what) {
    return Status::InvalidArgument("invalid time '" + std::string(text) +
                                   "': " + std::string(what));
  };
  std::string_view s = text;
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!TakeDigits(s, 4, &year) || !TakeChar(s, '-') || !TakeDigits(s, 2, &month) ||
      !TakeChar(s, '-') || !TakeDigits(s, 2, &day))
    return bad();
  int offset_seconds = 0;
  if (!s.empty()) {
    if (!TakeChar(s, 'T') && !TakeChar(s, ' ')) return bad();
    if (!TakeDigits(s, 2, &hour) || !TakeChar(s, ':') || !TakeDigits(s, 2, &minute)) return bad();
    if (TakeChar(s, ':') && !TakeDigits(s, 2, &second)) return bad();
    if (TakeChar(s, 'Z')) {
    } else if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
      int sign = s[0] == '-' ? -1 : 1;
      s.remove_prefix(1);
      int oh, om = 0;
      if (!TakeDigits(s, 2, &oh)) return bad();
      TakeChar(s, ':');
      if (!s.empty() && !TakeDigits(s, 2, &om)) return bad();
      if (oh > 23 || om > 59) return no_such("the zone offset is not a time of day");
      offset_seconds = sign * (oh * 3600 + om * 60);
    } else {
      return bad();  // a time without a zone is ambiguous
    }
    if (!s.empty()) return bad();
  }
  // Every field is checked rather than normalized: 2026-02-31 is a typo,
  // not March 3rd. A leap second (:60) is refused too, since a snapshot
  // named with it could never be named back (FormatTime never writes one).
  if (month < 1 || month > 12) return no_such("there is no month " + std::to_string(month));
  if (day < 1 || day > DaysInMonth(year, month)) {
    return no_such("there is no day " + std::to_string(day) + " in that month");
  }
  if (hour > 23 || minute > 59 || second > 59) {
    return no_such("hours go to 23, minutes and seconds to 59");
  }
  const int64_t seconds = DaysSinceEpoch(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                          second - offset_seconds;
  if (seconds < kMinTimeSeconds || seconds > kMaxTimeSeconds) {
    return no_such("outside the times a snapshot can have, " +
                   FormatTime(kMinTimeSeconds * kNanosPerSecond) + " to " +
                   FormatTime(kMaxTimeSeconds * kNanosPerSecond));
  }
  return seconds * kNanosPerSecond;
}

Status ValidateGroup(std::string_view group) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid group '" + std::string(group) + "': " +
                                   std::string(why) + " (expected host/NAME, ct/VMID or vm/VMID)");
  };
  size_t slash = group.find('/');
  if (slash == std::string_view::npos) return bad("no type");
  std::string_view type = group.substr(0, slash), name = group.substr(slash + 1);
  if (type != "host" && type != "ct" && type != "vm") return bad("unknown type");
  if (name.empty() || name.size() > 128) return bad("empty or long name");
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return bad("names use letters, digits, '-', '_' and '.'");
  }
  if ((type == "ct" || type == "vm") && !std::all_of(name.begin(), name.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      }))
    return bad("a VMID is a number");
  return Status::Ok();
}

Status ValidateTag(std::string_view tag) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid tag '" + std::string(tag) + "': " + std::string(why));
  };
  if (tag.empty() || tag.size() > 128) return bad("a tag is 1 to 128 bytes");
  if (tag.find(',') != std::string_view::npos) {
    return bad("a tag holds no comma; give one --tag for each tag");
  }
  // Other bytes pass, UTF-8 or not (a Latin-1 terminal's tag): listings
  // escape what is not printable UTF-8.
  if (std::any_of(tag.begin(), tag.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return bad("a tag holds no control character");
  }
  return Status::Ok();
}

Result<SnapshotSelector> ParseSnapshotName(std::string_view name) {
  SnapshotSelector sel;
  size_t slash = name.rfind('/');
  if (slash == std::string_view::npos) {
    if (name.size() < 4 || name.size() > 64 || !std::all_of(name.begin(), name.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c));
        }))
      return Status::InvalidArgument("invalid snapshot name '" + std::string(name) +
                                     "': expected GROUP/TIME, GROUP/latest or an id prefix");
    sel.kind = SnapshotSelector::Kind::kIdPrefix;
    sel.id_prefix.resize(name.size());
    std::transform(name.begin(), name.end(), sel.id_prefix.begin(), [](char c) {
      return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    });
    return sel;
  }
  sel.group = std::string(name.substr(0, slash));
  const Status group_valid = ValidateGroup(sel.group);
  if (!group_valid.ok() && ValidateGroup(name).ok()) {
    // A group alone (ct/104), as Proxmox Backup Server names a backup group.
    return Status::InvalidArgument("'" + std::string(name) + "' is a group, not a snapshot: give " +
                                   std::string(name) + "/latest or " + std::string(name) + "/TIME");
  }
  COFFER_RETURN_IF_ERROR(group_valid);
  std::string_view last = name.substr(slash + 1);
  if (last == "latest") {
    sel.kind = SnapshotSelector::Kind::kLatest;
    return sel;
  }
  COFFER_ASSIGN_OR_RETURN(sel.time_ns, ParseTime(last));
  sel.kind = SnapshotSelector::Kind::kExact;
  return sel;
}

Result<size_t> SelectSnapshot(const SnapshotSelector& selector, std::string_view name,
                              const std::vector<IndexedSnapshot>& listed) {
  using Kind = SnapshotSelector::Kind;
  std::optional<size_t> found;
  for (size_t i = 0; i < listed.size(); ++i) {
    const IndexedSnapshot& s = listed[i];
    const bool match =
        (selector.kind != Kind::kIdPrefix && s.group == selector.group &&
         (selector.kind == Kind::kLatest || s.time_ns == selector.time_ns)) ||
        (selector.kind == Kind::kIdPrefix && s.id_hex.starts_with(selector.id_prefix));
    if (!match) continue;
    if (found && selector.kind == Kind::kIdPrefix) {
      return Status::InvalidArgument("snapshot id prefix '" + selector.id_prefix +
                                     "' is ambiguous: give more digits");
    }
    found = i;  // for kLatest the last one wins: snapshots are in time order
  }
  if (!found) return Status::NotFound("no snapshot " + std::string(name));
  return *found;
}

}  // namespace coffer::model
