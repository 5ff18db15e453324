#include "store/ingest/vzdump_name.h"

#include <cstdint>
#include <ctime>

namespace coffer::ingest {
namespace {

// Reads exactly `digits` decimal digits at `pos`.
std::optional<uint64_t> Digits(std::string_view s, size_t& pos, size_t digits) {
  if (s.size() < pos + digits) return std::nullopt;
  uint64_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  pos += digits;
  return value;
}

bool Take(std::string_view s, size_t& pos, std::string_view what) {
  if (s.substr(pos, what.size()) != what) return false;
  pos += what.size();
  return true;
}

// Local calendar time to UTC seconds; nullopt for a date that does not exist.
// In the hour that repeats when DST ends, the earlier of the two; a time DST
// skips (never written by vzdump, which formats a real local time) moves on
// as mktime moves it.
std::optional<int64_t> LocalToUtc(int year, int month, int day, int hour, int minute, int second) {
  static constexpr int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 || day < 1 ||
      day > kDaysIn[month - 1] + (month == 2 && leap ? 1 : 0)) {
    return std::nullopt;  // February 31st is not a date
  }
  struct tm fields {};
  fields.tm_year = year - 1900;
  fields.tm_mon = month - 1;
  fields.tm_mday = day;
  fields.tm_hour = hour;
  fields.tm_min = minute;
  fields.tm_sec = second;
  std::optional<int64_t> found;
  for (int dst : {1, 0, -1}) {
    struct tm attempt = fields;
    attempt.tm_isdst = dst;
    time_t utc = mktime(&attempt);
    if (utc == static_cast<time_t>(-1)) continue;
    const bool as_asked = attempt.tm_mday == day && attempt.tm_hour == hour &&
                          attempt.tm_min == minute && (dst < 0 || attempt.tm_isdst == dst);
    if (dst >= 0 && !as_asked) continue;
    if (dst < 0 && found) break;
    if (!found || utc < *found) found = static_cast<int64_t>(utc);
  }
  return found;
}

// The part every name vzdump gives a backup's files shares,
// "vzdump-{lxc|qemu}-VMID-YYYY_MM_DD-HH_MM_SS": fills guest, vmid, format,
// time_ns and base, and leaves `pos` after it.
bool ParseBase(std::string_view name, size_t& pos, VzdumpName& out) {
  if (!Take(name, pos, "vzdump-")) return false;
  if (Take(name, pos, "lxc-")) {
    out.guest = VzdumpName::Guest::kContainer;
    out.format = "tar";
  } else if (Take(name, pos, "qemu-")) {
    out.guest = VzdumpName::Guest::kVm;
    out.format = "vma";
  } else {
    return false;
  }
  // VMID: 1 to 9 digits, no leading zero.
  size_t end = name.find('-', pos);
  if (end == std::string_view::npos || end == pos || end - pos > 9 || name[pos] == '0') {
    return false;
  }
  auto vmid = Digits(name, pos, end - pos);
  if (!vmid || !Take(name, pos, "-")) return false;
  out.vmid = *vmid;

  auto year = Digits(name, pos, 4);
  if (!year || !Take(name, pos, "_")) return false;
  auto month = Digits(name, pos, 2);
  if (!month || !Take(name, pos, "_")) return false;
  auto day = Digits(name, pos, 2);
  if (!day || !Take(name, pos, "-")) return false;
  auto hour = Digits(name, pos, 2);
  if (!hour || !Take(name, pos, "_")) return false;
  auto minute = Digits(name, pos, 2);
  if (!minute || !Take(name, pos, "_")) return false;
  auto second = Digits(name, pos, 2);
  if (!second || *year < 1970) return false;
  auto utc =
      LocalToUtc(static_cast<int>(*year), static_cast<int>(*month), static_cast<int>(*day),
                 static_cast<int>(*hour), static_cast<int>(*minute), static_cast<int>(*second));
  // Snapshot times are nanoseconds in an int64: up to 2262.
  if (!utc || *utc < 0 || *utc > INT64_MAX / 1'000'000'000) return false;
  out.time_ns = *utc * 1'000'000'000;
  out.base = std::string(name.substr(0, pos));
  return true;
}

constexpr std::string_view kCompressions[] = {"zst", "gz", "lzo"};

}  // namespace

std::string VzdumpName::group() const {
  return (guest == Guest::kContainer ? "ct/" : "vm/") + std::to_string(vmid);
}

std::vector<std::string> VzdumpName::archive_names() const {
  std::vector<std::string> names = {base + "." + format};
  for (std::string_view compression : kCompressions) {
    names.push_back(base + "." + format + "." + std::string(compression));
  }
  return names;
}

std::optional<VzdumpName> ParseVzdumpName(std::string_view name) {
  VzdumpName out;
  size_t pos = 0;
  if (!ParseBase(name, pos, out)) return std::nullopt;
  if (!Take(name, pos, "." + out.format)) return std::nullopt;
  if (pos == name.size()) return out;
  for (std::string_view compression : kCompressions) {
    if (name.substr(pos) == "." + std::string(compression)) {
      out.compression = compression;
      return out;
    }
  }
  return std::nullopt;
}

std::optional<VzdumpName> ParseVzdumpLogName(std::string_view name) {
  VzdumpName out;
  size_t pos = 0;
  if (!ParseBase(name, pos, out) || name.substr(pos) != ".log") return std::nullopt;
  return out;
}

std::optional<VzdumpGuest> GuestOfGroup(std::string_view group) {
  VzdumpGuest out{};
  if (group.starts_with("ct/")) {
    out.guest = VzdumpName::Guest::kContainer;
  } else if (group.starts_with("vm/")) {
    out.guest = VzdumpName::Guest::kVm;
  } else {
    return std::nullopt;
  }
  std::string_view digits = group.substr(3);
  if (digits.empty() || digits.size() > 9 || digits[0] == '0') return std::nullopt;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    out.vmid = out.vmid * 10 + static_cast<uint64_t>(c - '0');
  }
  return out;
}

std::string VzdumpBaseName(const VzdumpGuest& guest, int64_t time_ns) {
  const time_t seconds = static_cast<time_t>(time_ns / 1'000'000'000);
  struct tm local {};
  localtime_r(&seconds, &local);
  char when[32];
  std::strftime(when, sizeof when, "%Y_%m_%d-%H_%M_%S", &local);
  return std::string("vzdump-") +
         (guest.guest == VzdumpName::Guest::kContainer ? "lxc-" : "qemu-") +
         std::to_string(guest.vmid) + "-" + when;
}

}  // namespace coffer::ingest
