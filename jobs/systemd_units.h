// systemd units for the jobs of a jobs file: what `coffer jobs systemd`
// writes, so that systemd timers run the jobs instead of `coffer scheduler`.
//
// Per job, for each of its schedules, a oneshot service that runs the job
// through the coffer binary and a timer that starts it:
//   schedule       coffer-job-NAME.service / .timer
//                  ExecStart=COFFER --jobs FILE [--state-dir DIR] run NAME
//   verify         coffer-job-NAME-verify.service / .timer       ... run NAME --verify
//   restore-test   coffer-job-NAME-restore-test.service / .timer ... run NAME --restore-test
// A schedule that is not set gives no units; a job with none of the three
// gives none at all (it runs only by `coffer run NAME`), which is not an
// error. The units come in that order, each service before its timer.
//
// The service (Type=oneshot, so a run is "active" until it ends and systemd
// never starts it twice at once):
//   - Nice=19, CPUSchedulingPolicy=batch, IOSchedulingClass=best-effort and
//     IOSchedulingPriority=7: a backup yields to everything else. Not the
//     idle I/O class: on a disk that is never idle it starves the backup
//     for hours, while a pre-hook's database dump holds its transaction
//     open (borgmatic's units choose the same).
//   - TimeoutStartSec=infinity: how long a backup takes depends on what
//     changed; the job's own hook-timeout bounds its hooks. (It is also
//     systemd's default for oneshot services; written out to be plain.)
//   - No Restart=: a failed run is reported by the job's notices and by
//     `coffer status`, and runs again at its next time. A run that ends with
//     a warning (exit code 3: stored, but something could not be read) fails
//     the unit like an error, so that `systemctl --failed` shows it too.
//   - After= and Wants=network-online.target only when the job backs up to
//     a server (`server`); a local repository does not wait for the network.
//   - User= when SystemdUnitOptions::user is set; otherwise the units run as
//     the manager that loads them (root for system units).
//   - No sandboxing (ProtectSystem= and friends): a backup reads everything,
//     a restore test writes a sample, and hooks run what the jobs file says.
// The timer:
//   - OnCalendar=, one line per Schedule::ToOnCalendar() line (two for a cron
//     line that restricts both day fields; the timer fires when either does);
//   - Persistent=true when the job has catch-up, else Persistent=false;
//   - RandomizedDelaySec= when the job has a random-delay (a systemd time
//     span, "10min", "1h 30min"), else no line;
//   - [Install] WantedBy=timers.target.
// catch-up and random-delay apply to all three timers of a job: a verify or a
// restore test missed while the machine was off runs once when it is back,
// as the backup does.
//
// One difference from `coffer scheduler`, documented in jobs/calendar.h: in
// the spring-forward gap of daylight saving time systemd skips a scheduled
// time that does not exist that day, where Coffer's scheduler runs it at the
// change. Schedules clear of the hour after 01:00 (Europe) or 02:00 (North
// America) are unaffected.
//
// Every unit's first line is the marker
//   # Written by coffer jobs systemd; edits are lost when it runs again.
// WriteUnits replaces and removes only files that carry it.
//
// Escaping. Unit names are job names, which the jobs file restricts to
// [A-Za-z0-9][A-Za-z0-9_.-]* (safe in unit names as they are). Values are
// written as systemd reads them: in ExecStart= every argument that is not
// plainly safe is double-quoted with C escapes, '%' is written "%%"
// (specifiers) and '$' "$$" (environment variables); in Description= '%' is
// "%%". Paths must be absolute and free of control characters; the coffer
// binary's also of quotes and '\' (systemd refuses them in a program's
// path) and of '$' (systemd substitutes variables in argv[0] but not in the
// program's path, so no spelling is right for both). The user is a systemd
// user name or a number.
//
// Pure apart from WriteUnits; safe from any thread.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "jobs/job_file.h"
#include "store/base/status.h"

namespace coffer::jobs {

// The first line of every unit this unit writes.
inline constexpr std::string_view kSystemdUnitMarker =
    "# Written by coffer jobs systemd; edits are lost when it runs again.";

struct SystemdUnitOptions {
  std::filesystem::path coffer;     // the coffer binary, absolute (ExecStart's program)
  std::filesystem::path jobs_file;  // absolute; passed as --jobs
  std::filesystem::path state_dir;  // absolute; passed as --state-dir; empty: not passed
  std::string user;                 // User= of the services; empty: none
};

// One unit file: its name ("coffer-job-web.timer") and its whole text.
struct UnitFile {
  std::string name;
  std::string text;
  bool operator==(const UnitFile&) const = default;
};

// The units of one job (see above), or kInvalidArgument for options that are
// not valid (a relative path, a control character, a bad user name), a job
// name units cannot have, or a schedule ParseSchedule refuses.
Result<std::vector<UnitFile>> SystemdUnitsFor(const Job& job, const SystemdUnitOptions& options);

// The units of every job of `file`, in its order. kInvalidArgument as above,
// and when two jobs would share a unit name (a job "web" with a verify
// schedule and a job "web-verify").
Result<std::vector<UnitFile>> SystemdUnitsFor(const JobFile& file,
                                              const SystemdUnitOptions& options);

// Writes `units` into `dir` (which must exist), each atomically (a temporary
// file in `dir`, fsync, rename) with mode 0644, then removes every file of
// `dir` named coffer-job-*.service or coffer-job-*.timer that is not among
// `units` and is a regular file whose first line is kSystemdUnitMarker: the
// units of jobs that are gone or no longer scheduled. Any other file is
// left alone, and a unit name that is already taken by a file without the
// marker (or by anything but a regular file) is kAlreadyExists, checked
// before anything is written. The names of the removed files, sorted, go to
// `removed` when it is not null (the caller disables their timers).
// `dir` holds the units of one jobs file: those of another would be stale.
// Errors of the file system are as Status::FromErrno makes them (kNoSpace,
// kNotFound for a missing `dir`, else kIoError), naming the file.
Status WriteUnits(const std::vector<UnitFile>& units, const std::filesystem::path& dir,
                  std::vector<std::string>* removed = nullptr);

}  // namespace coffer::jobs
