#include "jobs/duration.h"

#include <array>
#include <cstdint>
#include <string>

namespace coffer::jobs {
namespace {

constexpr int64_t kMaxSeconds = 1'000'000'000'000;

struct Unit {
  std::string_view name;
  int64_t seconds;
};
constexpr std::array<Unit, 26> kUnits = {{
    {"s", 1},        {"sec", 1},         {"second", 1},
    {"seconds", 1},  {"m", 60},          {"min", 60},
    {"minute", 60},  {"minutes", 60},    {"h", 3600},
    {"hr", 3600},    {"hour", 3600},     {"hours", 3600},
    {"d", 86400},    {"day", 86400},     {"days", 86400},
    {"w", 604800},   {"week", 604800},   {"weeks", 604800},
    {"M", 2629800},  {"month", 2629800}, {"months", 2629800},
    {"y", 31557600}, {"year", 31557600}, {"years", 31557600},
    {"ms", 0},       {"msec", 0},  // systemd's, refused below: not whole seconds
}};

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsSpace(char c) {
  return c == ' ' || c == '\t';
}
bool IsUnitChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  auto error = [&](size_t at, const std::string& what) {
    return Status::InvalidArgument("\"" + std::string(text) + "\": " + what + " at column " +
                                   std::to_string(at + 1));
  };
  size_t i = 0;
  while (i < text.size() && IsSpace(text[i])) ++i;
  if (i == text.size())
    return Status::InvalidArgument("\"" + std::string(text) + "\": the duration is empty");
  int64_t total = 0;
  while (i < text.size()) {
    const size_t number_at = i;
    int64_t whole = 0;
    while (i < text.size() && IsDigit(text[i])) {
      whole = whole * 10 + (text[i] - '0');
      if (whole > kMaxSeconds) return error(number_at, "duration too long");
      ++i;
    }
    int64_t fraction = 0;
    int64_t fraction_scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      while (i < text.size() && IsDigit(text[i])) {
        if (fraction_scale == 1'000'000'000) return error(i, "too many decimals");
        fraction = fraction * 10 + (text[i] - '0');
        fraction_scale *= 10;
        ++i;
      }
    }
    if (i == number_at) {
      const std::string found = "unexpected \"" + std::string(1, text[i]) + "\"";
      return error(i, found + ", expected a number");
    }
    if (i == number_at + 1 && text[number_at] == '.') return error(number_at, "expected a number");
    while (i < text.size() && IsSpace(text[i])) ++i;
    const size_t unit_at = i;
    while (i < text.size() && IsUnitChar(text[i])) ++i;
    const std::string_view unit_name = text.substr(unit_at, i - unit_at);
    int64_t unit = 1;  // no unit: seconds
    if (!unit_name.empty()) {
      unit = -1;
      for (const Unit& known : kUnits) {
        if (known.name == unit_name) unit = known.seconds;
      }
      if (unit < 0) return error(unit_at, "unknown unit \"" + std::string(unit_name) + "\"");
      if (unit == 0)
        return error(unit_at,
                     "durations are whole seconds, \"" + std::string(unit_name) + "\" is less");
    }
    if (whole > kMaxSeconds / unit) return error(number_at, "duration too long");
    // fraction < 10^9 and unit < 2^25: the product fits.
    if (fraction * unit % fraction_scale != 0)
      return error(number_at, "not a whole number of seconds");
    total += whole * unit + fraction * unit / fraction_scale;
    if (total > kMaxSeconds) return error(number_at, "duration too long");
    while (i < text.size() && IsSpace(text[i])) ++i;
  }
  return std::chrono::seconds(total);
}

}  // namespace coffer::jobs
