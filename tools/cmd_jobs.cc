// coffer jobs: the jobs file and what became of its runs. `check` reads the
// file as `coffer run` will, `next` says when each job runs next, `log`
// lists past runs from the record of runs (jobs/run_record.h), `systemd`
// writes the timers that run the jobs (jobs/systemd_units.h).
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "jobs/calendar.h"
#include "jobs/process.h"
#include "jobs/run_record.h"
#include "jobs/scheduler.h"
#include "jobs/systemd_units.h"
#include "store/model/snapshot_name.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/job_steps.h"
#include "tools/job_text.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

namespace fs = std::filesystem;

struct NextArgs {
  std::string job;
  int count = 1;
  std::string from;
  bool json = false;
};

struct SystemdArgs {
  std::string dir = "/etc/systemd/system";
  std::string user;
};

struct LogArgs {
  std::string job;
  int last = 20;
  bool json = false;
};

int RunCheck(const GlobalOptions& global) {
  auto file = ReadJobsFile(global);
  // The reader's problems are FILE:LINE:COLUMN lines already.
  if (!file.ok()) return FailJobsFile(file.status());
  const size_t count = file->jobs.size();
  fmt::print("{} job{}, all valid\n", count, count == 1 ? "" : "s");
  return kExitOk;
}

int RunNext(const GlobalOptions& global, const NextArgs& args) {
  if (args.count < 1) return Fail(Status::InvalidArgument("--count must be 1 or more"));
  jobs::TimePoint from = jobs::SystemClock().Now();
  if (!args.from.empty()) {
    auto parsed = model::ParseTime(args.from);
    if (!parsed.ok()) return Fail(parsed.status().WithContext("--from"));
    from = jobs::TimePoint(std::chrono::seconds(*parsed / model::kNanosPerSecond));
  }
  auto file = ReadJobsFile(global);
  if (!file.ok()) return FailJobsFile(file.status());
  auto chosen_jobs = ChooseJobs(*file, args.job);
  if (!chosen_jobs.ok()) return Fail(chosen_jobs.status());
  const std::vector<const jobs::Job*>& chosen = *chosen_jobs;
  // Each job's backup schedule, then its checks' (which have no line when
  // they have no schedule).
  struct Line {
    const jobs::Job* job;
    jobs::RunKind kind;
    const std::string* schedule;
  };
  std::vector<Line> lines;
  for (const jobs::Job* job : chosen) {
    lines.push_back({job, jobs::RunKind::kBackup, &job->schedule});
    if (!job->verify.empty()) lines.push_back({job, jobs::RunKind::kVerify, &job->verify});
    if (!job->restore_test.empty()) {
      lines.push_back({job, jobs::RunKind::kRestoreTest, &job->restore_test});
    }
  }
  size_t width = 3;
  for (const Line& line : lines) {
    width = std::max(width, jobs::TaskName({line.job->name, line.kind}).size());
  }
  nlohmann::json list = nlohmann::json::array();
  for (const Line& line : lines) {
    const jobs::Job& job = *line.job;
    const std::string name = jobs::TaskName({job.name, line.kind});
    nlohmann::json item = {{"job", job.name},
                           {"kind", jobs::RunKindName(line.kind)},
                           {"schedule", *line.schedule},
                           {"random_delay_s", job.random_delay.count()}};
    nlohmann::json next = nlohmann::json::array();
    if (line.schedule->empty()) {
      if (!args.json) fmt::print("{:<{}}  no schedule: runs only by coffer run\n", name, width);
    } else {
      auto schedule = jobs::ParseSchedule(*line.schedule);
      if (!schedule.ok()) return Fail(schedule.status());  // the reader checked it
      jobs::TimePoint after = from;
      for (int i = 0; i < args.count; ++i) {
        auto when = schedule->NextAfter(after);
        if (!when) {
          if (!args.json && i == 0) fmt::print("{:<{}}  never ({})\n", name, width, *line.schedule);
          break;
        }
        const LocalText text = FormatLocal(*when);
        next.push_back(text.rfc3339);
        if (!args.json) {
          std::string delay;
          if (job.random_delay.count() > 0) {
            delay = fmt::format(" (+ up to {} at random)", jobs::FormatSpan(job.random_delay));
          }
          fmt::print("{:<{}}  {}  {}{}\n", name, width, text.shown, *line.schedule, delay);
        }
        after = *when;
      }
    }
    item["next"] = next;
    list.push_back(item);
  }
  if (args.json) fmt::print("{}\n", list.dump(2));
  return kExitOk;
}

int RunLog(const GlobalOptions& global, const LogArgs& args) {
  if (args.last < 1) return Fail(Status::InvalidArgument("--last must be 1 or more"));
  const fs::path folder = jobs::JobsStateFolder(StateDir(global));
  std::vector<fs::path> files;
  if (!args.job.empty()) {
    if (args.job.find('/') != std::string::npos) {
      return Fail(Status::InvalidArgument("invalid job name " + args.job));
    }
    files.push_back(jobs::RunRecordPath(StateDir(global), args.job));
  } else {
    std::error_code error;
    for (const auto& item : fs::directory_iterator(folder, error)) {
      if (item.path().filename().string().ends_with(".runs.jsonl")) files.push_back(item.path());
    }
  }
  std::vector<jobs::RunRecord> runs;
  for (const fs::path& path : files) {
    auto history = jobs::ReadRunRecords(path);
    if (!history.ok()) return Fail(history.status());
    for (const auto& warning : history->warnings)
      fmt::print(stderr, "coffer: warning: {}\n", warning);
    runs.insert(runs.end(), history->runs.begin(), history->runs.end());
  }
  std::stable_sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
    return std::tie(a.start, a.job) < std::tie(b.start, b.job);
  });
  if (runs.size() > static_cast<size_t>(args.last)) {
    runs.erase(runs.begin(), runs.end() - args.last);
  }
  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& run : runs) list.push_back(nlohmann::json::parse(jobs::FormatRunRecord(run)));
    fmt::print("{}\n", list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
    return kExitOk;
  }
  if (runs.empty()) {
    fmt::print(stderr, "no runs recorded{} in {}\n", args.job.empty() ? "" : " of " + args.job,
               folder.string());
    return kExitOk;
  }
  // A check is shown as "JOB verify" or "JOB restore-test".
  auto job_of = [](const jobs::RunRecord& run) {
    return run.kind == jobs::RunKind::kBackup
               ? run.job
               : fmt::format("{} {}", run.job, jobs::RunKindName(run.kind));
  };
  size_t job_width = 3, snapshot_width = 8;
  for (const auto& run : runs) {
    job_width = std::max(job_width, job_of(run).size());
    snapshot_width = std::max(snapshot_width, run.snapshot.size());
  }
  fmt::print("{:<19}  {:<{}}  {:<7}  {:>9}  {:>10}  {:<{}}  {}\n", "Start", "Job", job_width,
             "Outcome", "Duration", "Added", "Snapshot", snapshot_width, "Reason");
  for (const auto& run : runs) {
    fmt::print("{:<19}  {:<{}}  {:<7}  {:>9}  {:>10}  {:<{}}  {}\n", LocalShort(run.start),
               job_of(run), job_width, jobs::OutcomeName(run.outcome),
               HumanDuration(run.duration.count() * 1'000'000), HumanBytes(run.bytes_added),
               run.snapshot.empty() ? "-" : run.snapshot, snapshot_width, run.reason);
  }
  return kExitOk;
}

// The running coffer binary, as the units must name it.
Result<fs::path> ThisBinary() {
  std::error_code error;
  fs::path path = fs::read_symlink("/proc/self/exe", error);
  if (error) return Status::FromErrno(error.value(), "reading /proc/self/exe");
  return path;
}

int RunSystemd(const GlobalOptions& global, const SystemdArgs& args) {
  auto file = ReadJobsFile(global);
  if (!file.ok()) return FailJobsFile(file.status());
  auto binary = ThisBinary();
  if (!binary.ok()) {
    fmt::print(stderr, "coffer: {}\n", binary.status().message());
    return kExitError;
  }
  jobs::SystemdUnitOptions options;
  options.coffer = *binary;
  options.jobs_file = fs::absolute(global.jobs_file);
  options.state_dir = fs::absolute(StateDir(global));
  options.user = args.user;
  auto units = jobs::SystemdUnitsFor(*file, options);
  if (!units.ok()) {
    fmt::print(stderr, "coffer: {}\n", units.status().message());
    return kExitUsage;
  }
  std::vector<std::string> removed;
  if (Status s = jobs::WriteUnits(*units, args.dir, &removed); !s.ok()) {
    fmt::print(stderr, "coffer: {}\n", s.message());
    return kExitError;
  }
  std::vector<std::string> timers;
  for (const jobs::UnitFile& unit : *units) {
    fmt::print("wrote {}\n", (fs::path(args.dir) / unit.name).string());
    if (unit.name.ends_with(".timer")) timers.push_back(unit.name);
  }
  for (const std::string& name : removed) fmt::print("removed {} (no such job any more)\n", name);
  if (timers.empty()) {
    fmt::print("no job has a schedule: nothing for systemd to start\n");
    return kExitOk;
  }
  // Starting timers changes the machine: said here, done by the administrator.
  std::string names;
  for (const std::string& t : timers) names += " " + t;
  fmt::print("to start them: systemctl daemon-reload && systemctl enable --now{}\n", names);
  return kExitOk;
}

}  // namespace

void RegisterJobs(CLI::App& app, GlobalOptions& global, int* exit_code) {
  CLI::App* jobs_cmd =
      app.add_subcommand("jobs", "Check the jobs file, show when jobs run next and how they ran");
  jobs_cmd->require_subcommand(1);

  CLI::App* check = jobs_cmd->add_subcommand(
      "check",
      "Read the jobs file and report every problem as FILE:LINE:COLUMN (exit 2); runs nothing");
  check->callback([&global, exit_code] { *exit_code = RunCheck(global); });

  auto next_args = std::make_shared<NextArgs>();
  CLI::App* next =
      jobs_cmd->add_subcommand("next", "Show when each job (or JOB) runs next, in local time");
  next->add_option("JOB", next_args->job, "Only this job");
  next->add_option("--count", next_args->count, "Show the next N runs of each job (default 1)")
      ->type_name("N");
  next->add_option("--from", next_args->from, "Count from TIME (ISO 8601) instead of now")
      ->type_name("TIME");
  next->add_flag("--json", next_args->json, "Print the runs as JSON");
  next->callback([&global, next_args, exit_code] { *exit_code = RunNext(global, *next_args); });

  auto log_args = std::make_shared<LogArgs>();
  CLI::App* log =
      jobs_cmd->add_subcommand("log", "List past runs of every job (or JOB), oldest first");
  log->add_option("JOB", log_args->job, "Only this job");
  log->add_option("--last", log_args->last, "Show the N newest runs (default 20)")->type_name("N");
  log->add_flag("--json", log_args->json,
                "Print the runs as JSON, as the record of runs holds them");
  log->callback([&global, log_args, exit_code] { *exit_code = RunLog(global, *log_args); });

  auto systemd_args = std::make_shared<SystemdArgs>();
  CLI::App* systemd = jobs_cmd->add_subcommand(
      "systemd",
      "Write a systemd service and timer for each scheduled job (then enable the timers)");
  systemd
      ->add_option("--dir", systemd_args->dir,
                   "Where to write the units (default /etc/systemd/system)")
      ->type_name("DIR");
  systemd->add_option("--user", systemd_args->user, "Run the jobs as USER (User= of the services)")
      ->type_name("USER");
  systemd->callback(
      [&global, systemd_args, exit_code] { *exit_code = RunSystemd(global, *systemd_args); });
}

}  // namespace coffer::tools
