#include "tools/units.h"

#include <time.h>

#include <cctype>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>

#include "store/base/utf8.h"

namespace coffer::tools {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("invalid duration '" + std::string(text) +
                                   "': use e.g. 30s, 5m, 1h30m or seconds");
  };
  if (text.empty()) return bad();
  double total = 0, number = 0, fraction = 0;
  bool have_number = false, in_fraction = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      if (in_fraction) {
        fraction /= 10;
        number += (c - '0') * fraction;
      } else {
        number = number * 10 + (c - '0');
      }
      have_number = true;
      continue;
    }
    if (c == '.' && !in_fraction) {
      in_fraction = true;
      fraction = 1;
      continue;
    }
    double unit;
    switch (c) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: return bad();
    }
    if (!have_number) return bad();
    total += number * unit;
    number = 0;
    have_number = in_fraction = false;
  }
  total += number;                    // a trailing bare number counts as seconds
  if (!(total < 9e15)) return bad();  // more milliseconds than 64 bits hold
  return std::chrono::milliseconds(static_cast<int64_t>(total * 1000));
}

Result<uint64_t> ParseSize(std::string_view text) {
  const std::string given(text);  // the message names all of it, suffix included
  auto bad = [&] {
    return Status::InvalidArgument("invalid size '" + given + "': use e.g. 64M, 1G, 512K");
  };
  if (text.empty()) return bad();
  uint64_t multiplier = 1;
  char last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  if (last == 'K' || last == 'M' || last == 'G') {
    multiplier = last == 'K' ? 1024 : last == 'M' ? 1024 * 1024 : 1024ull * 1024 * 1024;
    text.remove_suffix(1);
  }
  if (text.empty()) return bad();
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad();
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return bad();  // would wrap around
    value = value * 10 + digit;
  }
  if (value > UINT64_MAX / multiplier) return bad();
  return value * multiplier;
}

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  // 1023.96 KiB would print as "1024.0 KiB": move up while the rounded
  // figure reaches the next unit.
  while (v >= 1023.95 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[unit]);
}

std::string HumanDuration(int64_t nanos) {
  double s = static_cast<double>(nanos) / 1e9;
  // Cut to a tenth, not rounded, as minutes are cut to whole seconds below:
  // 59.96 s is "59.9 s", never "60.0 s".
  if (s < 60) return fmt::format("{:.1f} s", std::floor(s * 10) / 10);
  auto total = static_cast<int64_t>(s);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m{:02}s", total / 3600, total / 60 % 60, total % 60);
}

std::string EscapeName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (size_t i = 0; i < name.size();) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out.push_back(static_cast<char>(c));
    } else if (size_t length = c >= 0x80 ? Utf8SequenceLength(name, i) : 0;
               length > 0 && !(c == 0xc2 && static_cast<unsigned char>(name[i + 1]) < 0xa0)) {
      out.append(name.substr(i, length));  // UTF-8 as it is, but no C1 controls
      i += length;
      continue;
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
    ++i;
  }
  return out;
}

std::string ModeString(const pb::Entry& entry) {
  std::string s = "----------";
  switch (entry.type()) {
    case pb::Entry::DIRECTORY: s[0] = 'd'; break;
    case pb::Entry::SYMLINK: s[0] = 'l'; break;
    case pb::Entry::FIFO: s[0] = 'p'; break;
    case pb::Entry::CHAR_DEVICE: s[0] = 'c'; break;
    case pb::Entry::BLOCK_DEVICE: s[0] = 'b'; break;
    default: break;
  }
  uint32_t m = entry.mode();
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if (m & (1u << (8 - i))) s[1 + i] = rwx[i];
  }
  if (m & 04000) s[3] = (m & 0100) ? 's' : 'S';
  if (m & 02000) s[6] = (m & 0010) ? 's' : 'S';
  if (m & 01000) s[9] = (m & 0001) ? 't' : 'T';
  return s;
}

std::string TodayLocal() {
  const time_t now = time(nullptr);
  struct tm local {};
  localtime_r(&now, &local);
  char text[16];
  strftime(text, sizeof text, "%Y-%m-%d", &local);
  return text;
}

}  // namespace coffer::tools
