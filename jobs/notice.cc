#include "jobs/notice.h"

#include <time.h>

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "store/base/utf8.h"

namespace coffer::jobs {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
// A mail line may hold 998 bytes (RFC 5322); the text keeps well below.
constexpr size_t kTextLineBytes = 600;
constexpr size_t kSubjectReasonBytes = 160;

// `text` as valid UTF-8 on one line: bad bytes become U+FFFD, control
// characters (line breaks and tabs included) a space, so that a reason or a
// log line can neither break a mail header nor fake another line.
std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8SequenceLength(text, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (n == 1 && (c < 0x20 || c == 0x7F)) {
      out += ' ';
    } else {
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

// The first `max_bytes` bytes of valid UTF-8 `text`, cut at a character's
// start, with "…" when something was cut.
std::string CutAtCharacter(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "\xE2\x80\xA6";
}

std::string_view TrimLineEnd(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

std::string FormatDuration(std::chrono::seconds duration) {
  int64_t s = std::max<int64_t>(0, duration.count());
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60);
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {} ({} bytes)", value, kUnits[unit], bytes);
}

std::string_view OutcomeVerb(Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess: return "succeeded";
    case Outcome::kWarning: return "ended with warnings";
    case Outcome::kFailure: return "failed";
  }
  return "failed";
}

}  // namespace

bool ShouldNotify(const NotifyOn& on, Outcome outcome) {
  switch (outcome) {
    case Outcome::kSuccess: return on.success;
    case Outcome::kWarning: return on.warning;
    case Outcome::kFailure: return on.failure;
  }
  return true;
}

std::vector<std::string> LogTail(const std::vector<std::string>& lines) {
  std::vector<std::string> tail;
  size_t bytes = 0;
  for (auto it = lines.rbegin(); it != lines.rend() && tail.size() < kLogTailLines; ++it) {
    std::string_view line = TrimLineEnd(*it);
    if (bytes + line.size() > kLogTailBytes) {
      // The newest line alone is too long: keep its end, where errors are.
      if (tail.empty()) tail.emplace_back(line.substr(line.size() - kLogTailBytes));
      break;
    }
    bytes += line.size();
    tail.emplace_back(line);
  }
  std::reverse(tail.begin(), tail.end());
  return tail;
}

std::vector<std::string> LogTail(std::string_view log) {
  // Only the end matters; splitting a huge log in full would be wasted work.
  std::vector<std::string> lines;
  if (!log.empty() && log.back() == '\n') log.remove_suffix(1);
  if (log.empty()) return lines;
  size_t end = log.size();
  while (lines.size() < kLogTailLines) {
    size_t newline = end == 0 ? std::string_view::npos : log.rfind('\n', end - 1);
    size_t begin = newline == std::string_view::npos ? 0 : newline + 1;
    lines.emplace_back(log.substr(begin, end - begin));
    if (newline == std::string_view::npos) break;
    end = newline;
  }
  std::reverse(lines.begin(), lines.end());
  return LogTail(lines);
}

std::string FormatAgo(std::chrono::seconds age) {
  int64_t s = age.count();
  auto plural = [](int64_t n, std::string_view unit) {
    return fmt::format("{} {}{} ago", n, unit, n == 1 ? "" : "s");
  };
  if (s < 60) return "just now";
  if (s < 2 * 3600) return plural(s / 60, "minute");
  if (s < 2 * 86400) return plural(s / 3600, "hour");
  return plural(s / 86400, "day");
}

std::string NoticeJson(const Notice& notice) {
  // ordered_json: the keys in the documented order, which is what people see
  // first when they look at one.
  nlohmann::ordered_json j;
  j["version"] = 1;
  j["job"] = notice.job;
  j["host"] = notice.host;
  j["outcome"] = OutcomeName(notice.outcome);
  j["reason"] = OneLine(notice.reason);
  j["started"] = FormatUtc(notice.started);
  j["duration_seconds"] = notice.duration.count();
  j["snapshot"] = notice.snapshot.empty() ? nlohmann::ordered_json(nullptr)
                                          : nlohmann::ordered_json(notice.snapshot);
  j["bytes_added"] = notice.bytes_added;
  j["log_tail"] = LogTail(notice.log_tail);
  j["last_success"] = notice.last_success ? nlohmann::ordered_json(FormatUtc(*notice.last_success))
                                          : nlohmann::ordered_json(nullptr);
  j["kind"] = notice.kind;
  // Log lines are whatever the job printed, file names included: never let
  // one byte that is not UTF-8 throw away the whole notice.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string NoticeSubject(const Notice& notice) {
  const std::string what = notice.kind == "backup" ? notice.job : notice.job + " " + notice.kind;
  std::string subject = fmt::format("[coffer] {} on {}: {}", OneLine(what), OneLine(notice.host),
                                    OutcomeVerb(notice.outcome));
  std::string reason = OneLine(notice.reason);
  if (!reason.empty()) {
    subject += " \xE2\x80\x94 ";  // an em dash
    subject += CutAtCharacter(reason, kSubjectReasonBytes);
  }
  return subject;
}

std::string NoticeText(const Notice& notice, TimePoint now) {
  std::string text = NoticeSubject(notice) + "\n\n";
  auto line = [&](std::string_view label, std::string_view value) {
    text += fmt::format("{:<14}{}\n", label, CutAtCharacter(OneLine(value), kTextLineBytes));
  };
  line("Job:", notice.job);
  line("Run:", notice.kind);
  line("Host:", notice.host);
  line("Outcome:", OutcomeName(notice.outcome));
  if (!notice.reason.empty()) line("Reason:", notice.reason);
  line("Started:", FormatUtc(notice.started));
  line("Duration:", FormatDuration(notice.duration));
  line("Snapshot:", notice.snapshot.empty() ? "none" : notice.snapshot);
  line("Added:", FormatBytes(notice.bytes_added));
  if (notice.last_success) {
    line("Last success:", fmt::format("{} ({})", FormatUtc(*notice.last_success),
                                      FormatAgo(now - *notice.last_success)));
  } else {
    line("Last success:", "never");
  }
  std::vector<std::string> tail = LogTail(notice.log_tail);
  if (!tail.empty()) {
    text += "\nThe last lines of the job's log:\n";
    for (const std::string& log_line : tail) {
      text += "  " + CutAtCharacter(OneLine(log_line), kTextLineBytes) + "\n";
    }
  }
  return text;
}

}  // namespace coffer::jobs
