// A notice: what Coffer says when a job's run ends, as JSON for
// scripts and webhooks and as short text for mail. This unit only formats;
// jobs/notifier.h delivers.
//
// The JSON (NoticeJson) is a contract: people's scripts read it. Its fields
// keep their names and meanings; later versions may add fields, never rename
// or remove one, and raise "version" only if a meaning has to change. One
// object, UTF-8 (bytes that are not UTF-8, e.g. in file names of the log,
// become U+FFFD), keys in this order:
//
//   version           number   1
//   job               string   the job's name ([jobs.NAME])
//   host              string   the host the job ran on
//   outcome           string   "success", "warning" or "failure"
//   reason            string   one line: why it failed or warned; may be empty
//                              on success. Line breaks become spaces.
//   started           string   when the job started, UTC, "2024-03-05T02:00:00Z"
//   duration_seconds  number   how long it ran, whole seconds
//   snapshot          string or null   the snapshot the run stored, if any
//   bytes_added       number   bytes the run added to the repository (after
//                              deduplication and compression); 0 if none
//   log_tail          array of strings  the last lines of the job's log, oldest
//                              first, without line ends: at most kLogTailLines
//                              lines and kLogTailBytes bytes in all
//   last_success      string or null   when the job last succeeded before this
//                              run (UTC, as `started`); null: never, or not known
//                              (a success of the same kind of run)
//   kind              string   what ran: "backup", "verify" or "restore-test"
//
// NoticeText is for people: a subject line, a blank line and a body, which
// says how long ago the last success was ("3 days ago"). Its wording may
// change; scripts should read the JSON.
//
// Thread safety: pure functions over values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/clock.h"
#include "jobs/job_file.h"
#include "jobs/local_time.h"
#include "jobs/outcome.h"

namespace coffer::jobs {

// Whether a job whose notify-on is `on` sends a notice when it ends so.
bool ShouldNotify(const NotifyOn& on, Outcome outcome);

// The log lines a notice carries at most: enough to see the error and what led
// to it, small enough for a mail, a chat message and a webhook's size limit.
inline constexpr size_t kLogTailLines = 30;
inline constexpr size_t kLogTailBytes = 8 * 1024;

struct Notice {
  std::string job;
  std::string host;
  Outcome outcome = Outcome::kFailure;
  std::string reason;  // one line; NoticeJson and NoticeText replace line breaks
  TimePoint started{};
  std::chrono::seconds duration{0};
  std::string snapshot;  // empty: the run stored no snapshot
  uint64_t bytes_added = 0;
  // The job's last log lines, oldest first. Longer tails are cut to their last
  // kLogTailLines lines and kLogTailBytes bytes when formatted (LogTail).
  std::vector<std::string> log_tail;
  std::optional<TimePoint> last_success;  // before this run; none: never (or unknown)
  std::string kind = "backup";            // RunKindName (jobs/run_record.h) of what ran
};

// The last lines of `log` (text with '\n' line ends; a final line without one
// counts), within kLogTailLines lines and kLogTailBytes bytes. Each line loses
// its '\r' and '\n'; a single line longer than kLogTailBytes keeps its end.
std::vector<std::string> LogTail(std::string_view log);
// The same cut applied to lines already split (a Notice's log_tail).
std::vector<std::string> LogTail(const std::vector<std::string>& lines);

// The JSON above, compact, on one line (no line end).
std::string NoticeJson(const Notice& notice);

// "[coffer] JOB on HOST: failed — REASON" ("JOB verify", "JOB restore-test"
// for a check's run) (also "succeeded", "ended with
// warnings"; without " — REASON" when the reason is empty). One line of UTF-8,
// control characters replaced by spaces, at most about 200 bytes.
std::string NoticeSubject(const Notice& notice);

// NoticeSubject, a blank line, then the body: job, host, outcome, reason, start,
// duration, snapshot, bytes added, last success with how long before `now`,
// and the log tail indented by two spaces. Lines end in '\n'; valid UTF-8; no
// line longer than 600 bytes (longer log lines are cut), so it fits a mail.
std::string NoticeText(const Notice& notice, TimePoint now);

// How long `age` is, for people: "just now", "5 minutes ago", "3 hours ago",
// "3 days ago". Negative ages (a clock that moved back) are "just now".
std::string FormatAgo(std::chrono::seconds age);

}  // namespace coffer::jobs
