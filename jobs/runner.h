// Running one job now, as a timer would (`coffer run JOB`, later the
// scheduler): the job's lock, the pre-hook, the backup, the post-hook,
// retention and gc, the run's log and its line in the record of runs
// (jobs/run_record.h).
//
// What touches the repository goes through RepositorySteps, which tools/
// implements with the library code the commands call (ingest's Archiver,
// prune's plan, gc's collector), never the coffer binary: this unit knows
// jobs, processes and files, not how a repository is opened. Tests pass
// stand-ins.
//
// The order, and what each failure means:
//   1. The job's lock, an flock on STATE_DIR/jobs/NAME.lock held for the
//      whole run: a second start of the same job fails at once (the record
//      says already_running; nothing is recorded), or with wait_for_lock
//      waits for the first to end. The kernel drops it when a run dies.
//   2. pre-hook: if it fails or times out (then it is killed with its
//      children), the job fails and nothing is stored.
//   3. The backup: its failure fails the job; unreadable files make it a
//      warning (the snapshot is stored, marked incomplete).
//   4. post-hook: runs after every attempt past the lock, also after a
//      failed pre-hook or backup (COFFER_RESULT=failure), so that it can
//      undo what the pre-hook did. Its failure is a warning when a snapshot
//      was stored; the snapshot stays.
//   5. Retention: after a complete backup only (an incomplete snapshot must
//      not push a complete one out), the job's keep-* in the groups it
//      stored to, as `coffer prune --group GROUP` does. Then gc if asked.
//      Their failures are warnings: the new snapshot is stored.
// A check (RunContext::kind verify or restore-test, `coffer run JOB --verify`
// / `--restore-test`) takes the same lock, so it never overlaps the job's
// backup, and has the same log and line in the record of runs (with its
// kind); instead of steps 2-5 it runs the one check, in the job's group:
//   verify        every snapshot of the group is read back (as `coffer
//                 verify`; objects shared between snapshots are read once)
//                 and each one's outcome noted in it. Damage fails the run,
//                 the reason naming it.
//   restore-test  a sample of the group's latest snapshot is restored to a
//                 scratch folder and compared (as `coffer restore-test`),
//                 the outcome noted in the snapshot. A mismatch fails it.
// A check that cannot run (no snapshot, the repository does not open) fails;
// one that passed but whose outcome could not be noted is a warning. Hooks,
// retention and gc belong to backups: a check runs none of them.
//
// Hooks get this process's environment without its secrets
// (jobs/process.h), plus COFFER_JOB, COFFER_PHASE ("pre" or "post"),
// COFFER_REPOSITORY (the folder, or the server's address), COFFER_GROUP (""
// for an import job without `group`: each guest has its own), COFFER_LOG (the
// run's log), and for the post-hook COFFER_RESULT ("success" when a snapshot
// was stored, else "failure") and COFFER_SNAPSHOT (its name, or "").
//
// Thread safety: RunJob may run on several threads for different jobs; the
// lock keeps two runs of one job apart even within one process.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/clock.h"
#include "jobs/job_file.h"
#include "jobs/run_record.h"
#include "store/base/status.h"
#include "store/base/unique_fd.h"

namespace coffer::jobs {

// A run's log: the runner's own lines (with the local time) and, written
// straight to its descriptor, the output of hooks and the dump command.
class RunLog {
 public:
  RunLog(UniqueFd fd, std::filesystem::path path) : fd_(std::move(fd)), path_(std::move(path)) {}
  // Appends "HH:MM:SS TEXT\n"; a log that cannot be written loses the line,
  // never the run.
  void Line(std::string_view text);
  int fd() const { return fd_.get(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  UniqueFd fd_;
  std::filesystem::path path_;
};

// What a backup stored.
struct BackupDone {
  std::string snapshot;             // the newest snapshot stored; "" if none was new
  std::vector<std::string> groups;  // the groups it stored to (retention's)
  uint64_t bytes_added = 0;
  size_t unreadable = 0;  // entries left out: the snapshot is incomplete
  // Archives of an import folder that could not be imported (named in the
  // log): the others were, and the next run tries these again.
  size_t archives_failed = 0;
};

struct RetentionDone {
  size_t kept = 0;
  size_t removed = 0;
};

// What a check (verify or restore test) found.
struct CheckDone {
  size_t snapshots = 0;  // checked
  uint64_t bytes_checked = 0;
  // "" when it passed; else one line naming the damage or the mismatches
  // (the run fails with it as its reason).
  std::string damage;
  // "" or one line saying what else went wrong although the check passed
  // (its outcome could not be noted): the run ends with a warning.
  std::string warning;
};

// The repository side of a run. One object serves one run (it may keep the
// repository open between steps); each step writes what it has to say to
// `log`.
class RepositorySteps {
 public:
  virtual ~RepositorySteps() = default;
  // Backs up what the job names, filed under `group` ("" only for an import
  // job without one: each archive under its guest).
  virtual Result<BackupDone> Backup(const Job& job, const std::string& group, RunLog& log) = 0;
  // The job's keep-* applied to each of `groups`.
  virtual Result<RetentionDone> Prune(const Job& job, const std::vector<std::string>& groups,
                                      RunLog& log) = 0;
  virtual Status CollectGarbage(const Job& job, RunLog& log) = 0;
  // Verifies every snapshot of `group` ("" for an import job without one:
  // every snapshot of the repository) and notes the outcome in each.
  // Damage is reported in CheckDone; an error means the check did not run.
  virtual Result<CheckDone> Verify(const Job& job, const std::string& group, RunLog& log);
  // A restore test of the latest snapshot of `group` ("": the latest of
  // each group), its outcome noted in the snapshot.
  virtual Result<CheckDone> RestoreTest(const Job& job, const std::string& group, RunLog& log);
};

struct RunContext {
  std::filesystem::path state_dir;   // STATE_DIR; the runner makes STATE_DIR/jobs
  RepositorySteps* steps = nullptr;  // required
  RunKind kind = RunKind::kBackup;   // what to run: the backup or one check
  bool wait_for_lock = false;        // wait for a running instance instead of failing
  const Clock* clock = nullptr;      // the record's times; null: the system clock
  std::string default_group;         // for a paths or command job without `group`
  // Hook timeouts come from the job; tests shorten them with these.
  std::chrono::milliseconds hook_timeout_override{0};  // 0: the job's hook-timeout
  std::chrono::milliseconds hook_kill_grace{std::chrono::seconds(10)};
  size_t logs_kept = 50;       // per job, the newest
  size_t log_tail_lines = 20;  // RunRecord::log_tail
};

// Runs `job` once (the order above) and returns what happened; the record
// of runs has its line unless already_running. Never throws; problems of
// the state folder make a failure with step "setup".
RunRecord RunJob(const Job& job, const RunContext& context);

// The job's lock, held while the object lives. kBusy naming the holder's
// pid when another run holds it and !wait.
class JobLock {
 public:
  static Result<JobLock> Acquire(const std::filesystem::path& state_dir, std::string_view job,
                                 bool wait);

 private:
  explicit JobLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// The last `count` lines of the file `path` (at most its last 64 KiB).
std::vector<std::string> LastLines(const std::filesystem::path& path, size_t count);

}  // namespace coffer::jobs
