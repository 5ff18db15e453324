// The values people type and read: durations and sizes as options take
// them, and sizes, durations, names, modes and dates as commands print them.
// Pure (TodayLocal reads the clock and TZ), so tests/tools checks them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "store/base/status.h"
#include "store/model/coffer.pb.h"

namespace coffer::tools {

// "30s", "5m", "1h30m", "2d", "1.5h", or plain seconds.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
// "64M", "1G", "512K", or plain bytes (powers of 1024).
Result<uint64_t> ParseSize(std::string_view text);

std::string HumanBytes(uint64_t bytes);    // "1.2 GiB"
std::string HumanDuration(int64_t nanos);  // "6.2 s", "2m05s", "1h02m03s"
// Bytes as a person can read them, one name per line: control bytes and
// bytes that are not well-formed UTF-8 as \n, \t or \xNN, a backslash doubled.
std::string EscapeName(std::string_view name);
// "drwxr-xr-x" from an entry's type and mode.
std::string ModeString(const pb::Entry& entry);

// Today's date in the local time zone (TZ), YYYY-MM-DD.
std::string TodayLocal();

}  // namespace coffer::tools
