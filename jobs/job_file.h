// The jobs file: what Coffer runs unattended (/etc/coffer/jobs.toml by
// default), read into plain values. Reading is all this unit does: it runs
// nothing, opens no repository and reads no other file, so `coffer jobs check`
// can report every problem of a file before anything runs.
//
// The file is TOML. Each job is a table [jobs.NAME]; an optional [defaults]
// table holds keys that apply to every job that does not set them itself
// (typically one repository and passphrase file for all jobs). A job's own
// value always wins, lists included: a job's `exclude` replaces the default
// list, it is not added to it. Anything else at the top level is an error.
//
//   [defaults]
//   repository = "/srv/backup"
//   passphrase-file = "/etc/coffer/pass"
//   keep-daily = 7
//
//   [jobs.web]
//   paths = ["/etc", "/srv/www"]
//   schedule = "mon..fri 02:00"
//
// NAME uses letters, digits, '-', '_' and '.', starts with a letter or a
// digit and has at most 64 characters (it names systemd units and the record
// of runs). Key names are exactly those below; an unknown key is an error
// (with the nearest known key as a hint), never ignored.
//
// The keys. A "path" is an absolute path (a job runs from a timer, whose
// working folder nobody chose). A "command" is a string, run by /bin/sh -c,
// or a list of strings, run directly without a shell (argv). A "duration" is
// a string such as "90s", "10m", "1h30m", "36h", "2d" (systemd time spans),
// or a whole number of seconds. A "schedule" is a Proxmox/systemd calendar
// event ("daily", "mon..fri 02:00", "*-*-01 03:00") or a five-field cron
// line ("0 2 * * *"). A "list" may also be written as one string, a list of
// one. An empty string as any key's value means that key's default: it
// undoes a value from [defaults].
//
// Where the repository is:
//   repository         path     -        the repository folder; each job needs
//                                        it or `server`, not both
//   server             string   -        tcp://HOST:PORT of a remote server (as --server)
//   tls-ca             path     -        the CA of the server's certificate (as --tls-ca);
//                                        with `server` only
//   token-file         path     -        the token for the server (as --token-file);
//                                        with `server` only
//   passphrase-file    path     -        the repository's passphrase (as --passphrase-file);
//                                        without it, COFFER_PASSPHRASE_FILE or
//                                        COFFER_PASSPHRASE of the runner's environment
//   key-file           path     -        the key kept outside the repository (as --key-file)
//   allow-unencrypted  boolean  false    accept an unencrypted repository
// What to back up, exactly one of `paths`, `command` and `import` (none of
// them may be in [defaults]):
//   paths              list of paths     files and folders (as `coffer backup PATH...`);
//                                        at least one
//   exclude            list     []       patterns to skip (as --exclude); with `paths` only
//   exclude-file       list of paths []  files of patterns (as --exclude-file); with `paths` only
//   one-file-system    boolean  false    do not cross filesystems (as -x); with `paths` only
//   image              boolean  false    the paths are disk images (as --image); with `paths` only
//   command            command           a command whose standard output is stored as one
//                                        file, e.g. a database dump (as --stdin-from-command);
//                                        it fails the job when it fails
//   stdin-name         string   "stdin"  the file name of the command's output (as
//                                        --stdin-name): no '/'; with `command` only
//   import             path              a vzdump dump folder whose archives are imported
//                                        (as `coffer import FOLDER`), for Proxmox VE hosts
//   group              string   host/<short hostname>   TYPE/NAME of the snapshots (as
//                                        --group); an import files each archive under its
//                                        guest (ct/VMID, vm/VMID) unless `group` is given
//   tags               list     []       tags of each snapshot (as --tag)
// When:
//   schedule           schedule -        when the job runs; without one it runs only by
//                                        `coffer run NAME`
//   catch-up           boolean  false    run once after downtime that missed a run
//                                        (systemd's Persistent=)
//   random-delay       duration 0        wait up to this long, at random, before each run
//                                        (systemd's RandomizedDelaySec=)
// Hooks, run around the backup with an environment that says what is happening:
//   pre-hook           command  -        before the backup; its failure fails the job and
//                                        nothing is stored
//   post-hook          command  -        after the backup; its failure is reported, the
//                                        snapshot stays
//   hook-timeout       duration 1h       after this long a hook is killed (with its
//                                        children) and counts as failed; more than 0
// Retention, after a successful backup, in the job's group (as `coffer prune`):
//   keep-last, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly
//                      integer  0        whole numbers, 0 or more, meaning what prune's
//                                        --keep-* mean; 0 is "not given", and a job without
//                                        any above 0 prunes nothing
//   gc                 boolean  false    run `coffer gc` after the prune
// Checks:
//   verify             schedule -        when to verify the job's group (`coffer run NAME
//   --verify`) restore-test       schedule -        when to restore a sample of the latest snapshot
//                                        and compare it (e.g. "quarterly")
//   restore-test-files integer  50       how many files the restore test samples (as
//                                        `coffer restore-test --files`); 1 or more
//   restore-test-percent number -        or what share of the files, above 0 and at most
//                                        100 (as --percent); not with restore-test-files
//   stale-after        duration -        `coffer status` fails when the last success is
//                                        older than this; more than 0
// Notices:
//   notify-command     command  -        run with a JSON summary on its standard input
//   notify-webhook     string   -        an http:// or https:// URL the summary is POSTed to
//   notify-mail        list     []       addresses sendmail(8) mails the notice to
//   notify-on          list     ["failure"]   when to notify: any of "failure", "warning"
//                                        (a backup that could not read everything, a
//                                        post-hook that failed), "success"
//
// Errors: every problem of the file is reported, each as one line
// "FILE:LINE:COLUMN: what is wrong" (FILE as the caller names it, LINE and
// COLUMN from 1, pointing at the value, the key or the job's table), in the
// order of the file. A TOML syntax error stops the reading: it is the only
// problem reported. So does a non-ASCII character in a key, outside strings
// and comments, or starting the line after a line-ending '\' in a
// multi-line string: toml++ 3.3 misreads some there (string values and
// comments may hold any text).
//
// Schedules and durations are checked through JobFileValidators, so that this
// unit does not depend on the calendar code; the tools pass the real parsers
// (jobs/calendar.h, jobs/duration.h), tests pass stand-ins.
//
// Thread safety: the functions are pure (ReadJobFile reads one file); any
// number of threads may call them at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/status.h"
#include "store/retention/prune_planner.h"

namespace coffer::jobs {

// How the reader checks the values it does not parse itself. Both must be set.
struct JobFileValidators {
  // OK when the text is a schedule the scheduler can run; else a one-line
  // reason, which the problem report quotes.
  std::function<Status(std::string_view)> schedule;
  // The length of a duration's text (not negative); else a one-line reason.
  std::function<Result<std::chrono::seconds>(std::string_view)> duration;
};

// What a job stores: the files and folders in `paths`, the standard output of
// `command`, or the archives in the dump folder `import`.
enum class SourceKind { kPaths, kCommand, kImport };

// When a job sends a notice (notify-on).
struct NotifyOn {
  bool failure = true;
  bool warning = false;
  bool success = false;
  bool operator==(const NotifyOn&) const = default;
};

// One [jobs.NAME] table with the [defaults] applied. Fields are named after
// their keys; empty strings and lists mean "not set". Commands are argv
// vectors: a command written as a string is {"/bin/sh", "-c", TEXT}.
struct Job {
  std::string name;

  std::string repository;
  std::string server;
  std::string tls_ca;
  std::string token_file;
  std::string passphrase_file;
  std::string key_file;
  bool allow_unencrypted = false;

  SourceKind source = SourceKind::kPaths;
  std::vector<std::string> paths;
  std::vector<std::string> exclude;
  std::vector<std::string> exclude_file;
  bool one_file_system = false;
  bool image = false;
  std::vector<std::string> command;
  std::string stdin_name = "stdin";
  std::string import;
  std::string group;  // empty: host/<short hostname>, or an imported guest's
  std::vector<std::string> tags;

  std::string schedule;  // the text, as the validator accepted it; empty: by hand only
  bool catch_up = false;
  std::chrono::seconds random_delay{0};

  std::vector<std::string> pre_hook;
  std::vector<std::string> post_hook;
  std::chrono::seconds hook_timeout = std::chrono::hours(1);

  retention::KeepPolicy keep;  // prune's; nothing to prune unless keep.KeepsSomething()
  bool gc = false;

  std::string verify;                   // schedule text; empty: never
  std::string restore_test;             // schedule text; empty: never
  uint64_t restore_test_files = 0;      // the sample's size; 0: not given (50)
  double restore_test_percent = 0;      // the sample as a share of the files; 0: not given
  std::chrono::seconds stale_after{0};  // 0: never stale

  std::vector<std::string> notify_command;
  std::string notify_webhook;
  std::vector<std::string> notify_mail;
  NotifyOn notify_on;
};

struct JobFile {
  std::vector<Job> jobs;  // in the order of their tables in the file

  // The job called `name`, or null. Valid while this JobFile is.
  const Job* Find(std::string_view name) const;
};

// The jobs file `path`: kNotFound if it does not exist; kPermissionDenied if
// another user than root or this process's owns it, or every user may write
// it (its hooks run as this process); kInvalidArgument for a file over 1 MiB
// and for the problems ParseJobFile reports, named after `path` as given.
Result<JobFile> ReadJobFile(const std::filesystem::path& path, const JobFileValidators& validators);

// The jobs file whose text is `text`; `file_name` starts each problem's line.
// kInvalidArgument with one problem a line (joined by '\n') when the file is
// not valid; kFailedPrecondition when a validator is missing.
Result<JobFile> ParseJobFile(std::string_view text, std::string_view file_name,
                             const JobFileValidators& validators);

}  // namespace coffer::jobs
