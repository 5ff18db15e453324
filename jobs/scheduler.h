// The scheduler behind `coffer scheduler`: a foreground loop that runs each
// job of the jobs file at the times of its schedules, keeps each job's last
// runs across restarts and survives a failing job.
//
// A job has up to three schedules, each a task of its own: `schedule` (the
// backup, `coffer run NAME`), `verify` (`coffer run NAME --verify`) and
// `restore-test` (`coffer run NAME --restore-test`). Everything below holds
// for each task on its own: its last run, its catch-up, its random delay.
//
// Everything that touches the world goes through a seam, so that the loop is
// tested with literal times and no waiting: the Clock (jobs/clock.h), a
// Sleeper (waits until a time, or until told to stop or reload), a JobStarter
// (runs one task and says how it ended) and the seed of the random delay.
// tools/cmd_scheduler.cc has the real ones: a sleeper woken by SIGTERM,
// SIGINT and SIGHUP, and a starter that runs each task as a child process
// `coffer run NAME [--verify|--restore-test]`, so that a job that crashes (or leaks, or hangs in a
// library) cannot take the daemon down with it.
//
// The rules:
// - The last run of a task is the start of its job's newest line of its kind
//   in the record of runs (STATE_DIR/jobs/NAME.runs.jsonl,
//   jobs/run_record.h), whoever ran it
//   (this scheduler, a timer, `coffer run` by hand): ReadLastRuns. That file
//   is the state kept across restarts; there is no other.
// - At start, a job with `catch-up = true` whose schedule had a time between
//   its last run and now (MissedRun) runs once, however many times it
//   missed (systemd's Persistent=). A job without catch-up skips what it
//   missed. A job that never ran has nothing to catch up.
// - Each job's next run is its schedule's first time after max(now, last
//   run) (Schedule::NextAfter), plus a random delay drawn afresh for each run,
//   uniformly in whole seconds of [0, random-delay] (systemd's
//   RandomizedDelaySec=). A catch-up gets a delay too: after a power cut,
//   many hosts coming back should not all hit one server at once.
// - One task runs at a time. Tasks due at the same instant run one after
//   another in the order of the jobs file (a job's backup before its verify
//   before its restore test); a task that fell due while another ran starts
//   as soon as that one ends (late, once), not skipped.
// - A task is never started twice at once: while it runs nothing else starts,
//   and its next run is computed when it ends, from the end, so the times
//   its schedule had while it ran are skipped (and logged). A run that finds
//   the job already running (`coffer run` by hand holds its lock, the
//   runner's JobLock) is logged and that time is skipped.
// - A failing job is logged; the loop goes on.
// - Stop (SIGTERM, SIGINT): the loop ends at once. A running job is sent
//   SIGTERM and waited for: a backup cut short is safe, nothing of it is
//   committed before its end, and the next start catches up when the job
//   asks for it. Reload (SIGHUP): the jobs file is read again; a file that
//   cannot be read or is not valid keeps the old jobs and logs its
//   problems. Tasks whose schedule and random delay did not change keep
//   their planned time; the others are planned afresh (no catch-up).
// - Log lines (to stderr, which is the journal under systemd) name the task
//   ("web", "web verify", "web restore-test"), what happened and when it
//   runs next, in local time.
// - RunOnce (`coffer scheduler --once`, for tests and a cron setup): runs
//   what is due now, that is what the loop would run at its start (the
//   catch-ups) and each job one of whose times fell in the last minute
//   (kOnceWindow) and after its last run, each with its random delay, in
//   the order of their times, then returns.
//
// Time zones and daylight saving follow jobs/calendar.h: a 02:30 schedule
// runs at 03:00 CEST on the day the clocks spring forward (2026-03-29 in
// Europe/Berlin) and once, at the first 02:30, when they fall back.
//
// Thread safety: a Scheduler is used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/calendar.h"
#include "jobs/clock.h"
#include "jobs/job_file.h"
#include "jobs/outcome.h"
#include "jobs/run_record.h"
#include "store/base/status.h"

namespace coffer::jobs {

// One of a job's schedules: what runs, and for which job.
struct Task {
  std::string job;
  RunKind kind = RunKind::kBackup;
  auto operator<=>(const Task&) const = default;
};
// "web", "web verify", "web restore-test": as log lines and `coffer jobs
// next` name it.
std::string TaskName(const Task& task);

// A planned run.
struct Due {
  std::string job;
  TimePoint at;           // when it starts: its schedule's time plus the random delay
  bool catch_up = false;  // it makes up for a time missed while the scheduler was down
  TimePoint slot;         // the schedule's time it runs for (at without the delay)
  RunKind kind = RunKind::kBackup;
};

// How a run ended, as the scheduler needs to know it.
struct RunOutcome {
  Outcome outcome = Outcome::kSuccess;
  bool already_running = false;  // another run holds the job's lock; nothing ran
  std::string reason;            // one line, "" on success
};

// Why SleepUntil returned.
enum class Wake { kTime, kStop, kReload };

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Returns kTime once the clock has reached `until` (at once if it has), or
  // earlier with kStop or kReload when told so. A stop asked for is
  // reported by every later call too; a reload once.
  virtual Wake SleepUntil(TimePoint until) = 0;
};

class JobStarter {
 public:
  virtual ~JobStarter() = default;
  // Runs `job`'s backup or check now and waits for its end.
  virtual RunOutcome Run(const Job& job, RunKind kind) = 0;
};

// Each task's last run: the start of its newest run in the record of runs.
using LastRuns = std::map<Task, TimePoint>;

// The last runs of `file`'s jobs, of every kind, from the record of runs
// below `state_dir` (a task that never ran is not in the map). A record that cannot be read
// or has damaged lines is reported through `log` and read as far as it can.
LastRuns ReadLastRuns(const std::filesystem::path& state_dir, const JobFile& file,
                      const std::function<void(std::string_view)>& log);

struct SchedulerOptions {
  // Where log lines go (one line each, without a newline). Null: dropped.
  std::function<void(std::string_view)> log;
  // The seed of the random delays; nullopt: from std::random_device.
  std::optional<uint64_t> seed;
  // Reads the jobs file again on a reload (Wake::kReload); null: reloads
  // are ignored. And the last runs of the jobs read (ReadLastRuns).
  std::function<Result<JobFile>()> read_jobs;
  std::function<LastRuns(const JobFile&)> read_last_runs;
};

// What RunOnce ran.
struct OnceSummary {
  size_t runs = 0;
  size_t warnings = 0;
  size_t failures = 0;  // already_running counts as neither
  size_t already_running = 0;
};

class Scheduler {
 public:
  // A slot within this long before now is due for RunOnce.
  static constexpr std::chrono::seconds kOnceWindow{60};

  // Jobs without a schedule are left out (a job may have only a verify or a
  // restore-test schedule); a schedule that does not parse (the validator
  // let it through) is logged and its task left out.
  Scheduler(JobFile file, LastRuns last_runs, Clock& clock, Sleeper& sleeper, JobStarter& starter,
            SchedulerOptions options);

  // The loop: sleeps until the next run, runs what is due, until a stop.
  void Run();

  // What is due now (see above), run in order; returns when done or told to
  // stop (then the rest is not run).
  OnceSummary RunOnce();

  // Replaces the jobs (see reload above). Public for tests; the loop calls it
  // on Wake::kReload through options.read_jobs.
  void Reload(JobFile file, const LastRuns& last_runs);

  // Every task's next planned run, soonest first (ties in file order).
  std::vector<Due> Planned() const;
  const LastRuns& last_runs() const { return last_runs_; }

 private:
  struct Entry {
    Job job;
    RunKind kind;
    std::string schedule_text;  // as the jobs file has it
    Schedule schedule;
    std::optional<Due> next;  // nullopt: the schedule never fires again
    Task task() const { return {job.name, kind}; }
    std::string name() const { return TaskName(task()); }
  };

  void Log(std::string_view line) const;
  std::vector<Entry> MakeEntries(const JobFile& file) const;
  // Records a run of `task` that started at `start`, if it is the newest.
  void NoteRun(const Task& task, TimePoint start);
  // Plans entry's next run after `after`, logs it.
  void PlanNext(Entry& entry, TimePoint after);
  // At start: each entry's catch-up or its next run.
  void PlanStart();
  std::chrono::seconds Delay(const Job& job);
  // Runs entry's planned run; returns its outcome and plans the next one.
  RunOutcome RunEntry(Entry& entry);
  std::string When(TimePoint t) const;
  // The index of the entry due first, if any.
  std::optional<size_t> Soonest() const;

  Clock& clock_;
  Sleeper& sleeper_;
  JobStarter& starter_;
  SchedulerOptions options_;
  std::mt19937_64 random_;
  LastRuns last_runs_;
  std::vector<Entry> entries_;
};

}  // namespace coffer::jobs
