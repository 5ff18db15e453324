#include "store/model/snapshot_name.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <ctime>

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

}  // namespace

Result<int64_t> ParseTime(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("cannot parse time '" + std::string(text) +
                                   "': expected ISO 8601 like 2026-11-24T02:00:00Z");
  };
  std::string_view s = text;
  struct tm tm {};
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
      offset_seconds = sign * (oh * 3600 + om * 60);
    } else {
      return bad();  // a time without a zone is ambiguous
    }
    if (!s.empty()) return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return bad();
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const int64_t seconds = static_cast<int64_t>(timegm(&tm)) - offset_seconds;
  // Nanoseconds in 64 bits: 1677-09-21 to 2262-04-11.
  if (seconds < INT64_MIN / kNanosPerSecond || seconds > INT64_MAX / kNanosPerSecond) return bad();
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
  if ((type == "ct" || type == "vm") &&
      !std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return bad("a VMID is a number");
  return Status::Ok();
}

Result<SnapshotSelector> ParseSnapshotName(std::string_view name) {
  SnapshotSelector sel;
  size_t slash = name.rfind('/');
  if (slash == std::string_view::npos) {
    if (name.size() < 4 || name.size() > 64 ||
        !std::all_of(name.begin(), name.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
      return Status::InvalidArgument("invalid snapshot name '" + std::string(name) +
                                     "': expected GROUP/TIME, GROUP/latest or an id prefix");
    sel.kind = SnapshotSelector::Kind::kIdPrefix;
    sel.id_prefix.resize(name.size());
    std::transform(name.begin(), name.end(), sel.id_prefix.begin(),
                   [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    return sel;
  }
  sel.group = std::string(name.substr(0, slash));
  COFFER_RETURN_IF_ERROR(ValidateGroup(sel.group));
  std::string_view last = name.substr(slash + 1);
  if (last == "latest") {
    sel.kind = SnapshotSelector::Kind::kLatest;
    return sel;
  }
  COFFER_ASSIGN_OR_RETURN(sel.time_ns, ParseTime(last));
  sel.kind = SnapshotSelector::Kind::kExact;
  return sel;
}

}  // namespace coffer::model
