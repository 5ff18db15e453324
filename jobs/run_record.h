// The record of a job's runs: what `coffer jobs log` lists and `coffer
// status` reads after a reboot. One file per job, STATE_DIR/jobs/NAME.runs.jsonl
// (STATE_DIR: --state-dir, COFFER_STATE_DIR, default /var/lib/coffer), one
// JSON object per line and per run, appended when the run ends (O_APPEND,
// then fsync) by the process holding the job's lock, so lines never
// interleave. The full log of each run is STATE_DIR/jobs/NAME/START.log
// (START as below, without the colons, e.g. 2024-05-06T020000Z.log; a run
// started in the same second as the last gets "-2", "-3"...); the last 50
// logs of a job are kept, older ones removed after each run.
//
// A line (one line, no spaces; fields may come in any order):
//   {"v":1,"job":"web","kind":"backup","start":"2024-05-06T02:00:00Z","end":"2024-05-06T02:00:12Z",
//    "duration_s":12.345,"outcome":"warning","step":"post-hook",
//    "reason":"post-hook failed: exited with status 1",
//    "snapshot":"host/web1/2024-05-06T02:00:01Z","bytes_added":1048576,
//    "log":"web/2024-05-06T020000Z.log"}
//   v           1; a line with another version is skipped (a newer Coffer's)
//   job         the job's name
//   kind        what ran: "backup" (`coffer run JOB`), "verify" (`run JOB
//               --verify`) or "restore-test" (`run JOB --restore-test`).
//               Lines written before checks ran as jobs have none: they are
//               backups. A line with another kind (a newer Coffer's) is
//               skipped like a damaged one.
//   start, end  UTC, whole seconds, RFC 3339 with "Z"
//   duration_s  seconds, from a monotonic clock (not end - start)
//   outcome     "success", "warning" (a snapshot was stored, but something
//               else went wrong: unreadable files, the post-hook, retention,
//               gc) or "failure" (nothing was stored). For a check: "warning"
//               when it passed but something else went wrong (its outcome
//               could not be noted in the snapshots, a scratch folder was
//               left), "failure" when it found damage or a mismatch or could
//               not run
//   step        where the warning or failure happened: "setup", "pre-hook",
//               "backup", "post-hook", "retention", "gc", "verify",
//               "restore-test"; "" on success
//   reason      one line saying what went wrong; "" on success
//   snapshot    the snapshot stored (GROUP/TIME), "" if none (always for
//               a check)
//   bytes_added what the backup added to the repository (after dedup)
//   log         the run's log, relative to STATE_DIR/jobs
// Unknown fields are ignored, so later versions may add some. Required:
// v, job, start, outcome; the others default to empty or 0.
//
// Damage: a line that is not such an object (a crash cut the last line
// short, a disk returned garbage) is skipped with a warning naming the file
// and line; it never stops the reading. Before appending, a file whose last
// line lacks its newline gets one, so the new line stays readable.
//
// Thread safety: none needed; functions touch only the files they are given.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/clock.h"
#include "jobs/local_time.h"
#include "jobs/outcome.h"
#include "store/base/status.h"

namespace coffer::jobs {

// What a run of a job does (the record's "kind").
enum class RunKind { kBackup, kVerify, kRestoreTest };
// "backup", "verify", "restore-test".
std::string_view RunKindName(RunKind kind);
// The kind `name` names, if any.
std::optional<RunKind> ParseRunKind(std::string_view name);

// One run of a job: the record's line, and what only the runner's caller
// sees (a notifier's material: the log's last lines, whether it never ran).
struct RunRecord {
  std::string job;
  RunKind kind = RunKind::kBackup;
  TimePoint start;
  TimePoint end;
  std::chrono::milliseconds duration{0};
  Outcome outcome = Outcome::kSuccess;
  std::string step;
  std::string reason;
  std::string snapshot;
  uint64_t bytes_added = 0;
  std::string log;  // relative to STATE_DIR/jobs; "" if there is none

  // Not in the record file:
  std::vector<std::string> log_tail;  // the last lines of the run's log
  // The run did not start: another run of the job holds its lock (reason
  // names it). Such a start is not recorded.
  bool already_running = false;
  // Why the record could not be appended, if it could not ("" if it was).
  std::string record_error;
};

// The record's line for `record`, without the newline.
std::string FormatRunRecord(const RunRecord& record);
// The run a line holds; kInvalidArgument saying what is wrong with it.
Result<RunRecord> ParseRunRecord(std::string_view line);

// Appends `record` to the record file `path` (created 0600), durably.
Status AppendRunRecord(const std::filesystem::path& path, const RunRecord& record);

struct RunHistory {
  std::vector<RunRecord> runs;        // in the file's order (oldest first)
  std::vector<std::string> warnings;  // "FILE:LINE: skipped: WHY", one per damaged line
};
// Every run in the record file `path`; no file is no runs.
Result<RunHistory> ReadRunRecords(const std::filesystem::path& path);

// Where a job's files are, below STATE_DIR/jobs.
std::filesystem::path JobsStateFolder(const std::filesystem::path& state_dir);
std::filesystem::path RunRecordPath(const std::filesystem::path& state_dir, std::string_view job);
std::filesystem::path JobLockPath(const std::filesystem::path& state_dir, std::string_view job);
std::filesystem::path JobLogFolder(const std::filesystem::path& state_dir, std::string_view job);

}  // namespace coffer::jobs
