// coffer run JOB: runs one job of the jobs file now, as a timer would
// (jobs/runner.h): its lock, pre-hook, backup, post-hook, retention, gc, the
// record of the run, then the job's notices (jobs/notifier.h). With --verify
// or --restore-test it runs the job's check instead, under the same lock,
// recorded and notified the same way.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "jobs/notifier.h"
#include "jobs/process.h"
#include "jobs/run_record.h"
#include "jobs/runner.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/job_steps.h"
#include "tools/new_snapshot.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct RunArgs {
  std::string job;
  bool wait = false;
  bool json = false;
  bool verify = false;
  bool restore_test = false;
};

// A jobs file that cannot be used is a usage error (2), whatever the reason:
// nothing of it runs.
int FailJobsFile(const Status& status) {
  fmt::print(stderr, "coffer: {}\n", status.message());
  return kExitUsage;
}

std::string JobNames(const jobs::JobFile& file) {
  std::string names;
  for (const auto& job : file.jobs) names += (names.empty() ? "" : ", ") + job.name;
  return names.empty() ? "none" : names;
}

int ExitCodeOf(const jobs::RunRecord& record) {
  if (record.already_running) return kExitJobRunning;
  switch (record.outcome) {
    case jobs::Outcome::kSuccess: return kExitOk;
    case jobs::Outcome::kWarning: return kExitIncomplete;
    case jobs::Outcome::kFailure: return kExitError;
  }
  return kExitError;
}

void PrintRecord(const jobs::RunRecord& record, const std::string& state_dir, bool json,
                 bool quiet) {
  const std::string log =
      record.log.empty() ? "" : (jobs::JobsStateFolder(state_dir) / record.log).string();
  if (json) {
    nlohmann::json j = nlohmann::json::parse(jobs::FormatRunRecord(record));
    j["log"] = log;
    j["log_tail"] = record.log_tail;
    j["already_running"] = record.already_running;
    j["exit_code"] = ExitCodeOf(record);
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string line = record.kind == jobs::RunKind::kBackup
                         ? record.job
                         : fmt::format("{} {}", record.job, jobs::RunKindName(record.kind));
  line += fmt::format(": {}", jobs::OutcomeName(record.outcome));
  if (!record.reason.empty()) line += ": " + record.reason;
  if (!record.snapshot.empty()) {
    line += fmt::format("{} {} ({} added)", record.reason.empty() ? ": snapshot" : "; snapshot",
                        record.snapshot, HumanBytes(record.bytes_added));
  }
  if (!record.already_running)
    line += fmt::format(" in {}", HumanDuration(record.duration.count() * 1'000'000));
  if (record.outcome != jobs::Outcome::kSuccess && !record.already_running) {
    // What went wrong is at the end of the log; a timer's output is read in
    // the journal, where the log's file is not at hand.
    for (const auto& text : record.log_tail) fmt::print(stderr, "  | {}\n", text);
  }
  if (!quiet || record.outcome != jobs::Outcome::kSuccess) fmt::print("{}\n", line);
  if (!log.empty() && record.outcome != jobs::Outcome::kSuccess)
    fmt::print(stderr, "log: {}\n", log);
}

// When the job last succeeded before `run`, from the record of runs (none if
// never, or if the record cannot be read).
std::optional<jobs::TimePoint> LastSuccessBefore(const std::string& state_dir,
                                                 const jobs::RunRecord& run) {
  auto history = jobs::ReadRunRecords(jobs::RunRecordPath(state_dir, run.job));
  if (!history.ok()) return std::nullopt;
  std::optional<jobs::TimePoint> last;
  for (const jobs::RunRecord& earlier : history->runs) {
    // Runs in the same second are told apart by their logs' names.
    // A verify's success says nothing of the backups: runs of the same kind.
    const bool this_run = earlier.log == run.log && earlier.start == run.start;
    if (earlier.kind == run.kind && earlier.outcome == jobs::Outcome::kSuccess && !this_run &&
        earlier.start <= run.start) {
      last = earlier.end;
    }
  }
  return last;
}

// Sends the job's notices when its notify-on asks for this outcome. One that
// cannot be delivered is reported on stderr (the journal, under a timer); it
// never changes the run's exit status.
void SendJobNotices(const jobs::Job& job, const jobs::RunRecord& run,
                    const std::string& state_dir) {
  if (run.already_running || !jobs::ShouldNotify(job.notify_on, run.outcome)) return;
  auto notifiers = jobs::NotifiersFor(job);
  if (notifiers.empty()) return;
  jobs::Notice notice;
  notice.job = job.name;
  notice.kind = jobs::RunKindName(run.kind);
  notice.host = ShortHostname();
  notice.outcome = run.outcome;
  notice.reason = run.reason;
  notice.started = run.start;
  notice.duration = std::chrono::duration_cast<std::chrono::seconds>(run.duration);
  notice.snapshot = run.snapshot;
  notice.bytes_added = run.bytes_added;
  notice.log_tail = run.log_tail;
  notice.last_success = LastSuccessBefore(state_dir, run);
  // Each failure is logged by the sink (a line that starts with "coffer: "
  // already); the summary adds nothing to that.
  (void)jobs::SendNotices(notice, notifiers,
                          [](std::string_view line) { fmt::print(stderr, "{}\n", line); });
}

int RunOneJob(const GlobalOptions& global, const RunArgs& args) {
  auto file = ReadJobsFile(global);
  if (!file.ok()) return FailJobsFile(file.status());
  const jobs::Job* job = file->Find(args.job);
  if (job == nullptr) {
    return FailJobsFile(Status::InvalidArgument(
        fmt::format("no job {} in the jobs file (its jobs: {})", args.job, JobNames(*file))));
  }
  // Stopped (by the scheduler, systemd or Ctrl-C) in the middle of a hook or
  // a dump command, the run takes them down with it: they run in process
  // groups of their own, which the signal would not reach.
  jobs::PassTerminationToChildGroups();
  const std::string state_dir = StateDir(global);
  ToolRepositorySteps steps(global);
  jobs::RunContext context;
  context.state_dir = state_dir;
  context.steps = &steps;
  context.wait_for_lock = args.wait;
  context.kind = args.verify         ? jobs::RunKind::kVerify
                 : args.restore_test ? jobs::RunKind::kRestoreTest
                                     : jobs::RunKind::kBackup;
  context.default_group = "host/" + ShortHostname();
  const jobs::RunRecord record = jobs::RunJob(*job, context);
  if (!record.record_error.empty()) {
    fmt::print(stderr, "coffer: warning: the run could not be recorded: {}\n", record.record_error);
  }
  PrintRecord(record, state_dir, args.json, global.quiet);
  SendJobNotices(*job, record, state_dir);
  return ExitCodeOf(record);
}

}  // namespace

void RegisterRun(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run a job of the jobs file now: pre-hook, backup, post-hook, retention, gc (or its verify "
      "or restore test)");
  cmd->add_option("JOB", args->job, "The job's name ([jobs.NAME] in the jobs file)")->required();
  cmd->add_flag(
      "--wait", args->wait,
      "If the job is already running, wait for that run to end instead of failing (exit 14)");
  cmd->add_flag("--json", args->json, "Print the run's summary as JSON on stdout");
  CLI::Option* verify = cmd->add_flag(
      "--verify", args->verify,
      "Instead of the backup, verify every snapshot of the job's group (as coffer verify)");
  cmd->add_flag("--restore-test", args->restore_test,
                "Instead of the backup, restore a sample of the latest snapshot of the job's group "
                "and compare it (as coffer restore-test)")
      ->excludes(verify);
  cmd->footer(
      "Exit status: 0 success, 3 a snapshot was stored with a warning (unreadable files, a failed "
      "post-hook, retention or gc) or a check passed with one (its outcome could not be noted), "
      "1 failure (nothing stored; a check found damage or a mismatch, or could not run), 2 a bad "
      "jobs file or no such job, 14 the job is already running.");
  cmd->callback([&global, args, exit_code] { *exit_code = RunOneJob(global, *args); });
}

}  // namespace coffer::tools
