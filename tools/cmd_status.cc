// coffer status: how every job (or JOB) of the jobs file is doing, from the
// jobs file and the record of runs alone (jobs/status.h): no repository is
// opened, so it answers after a reboot, while a run holds the repository, and
// without a passphrase. Exits kExitStale when a job has had no success
// within its stale-after, so that cron or a monitoring check can run it;
// --prometheus writes the same for node_exporter's textfile collector.
#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "jobs/local_time.h"
#include "jobs/notice.h"
#include "jobs/process.h"
#include "jobs/run_record.h"
#include "jobs/status.h"
#include "tools/cli.h"
#include "tools/durable_file.h"
#include "tools/exit_codes.h"
#include "tools/job_steps.h"
#include "tools/job_text.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct StatusArgs {
  std::string job;
  bool json = false;
  std::string prometheus;
};

nlohmann::json UtcOrNull(const std::optional<jobs::TimePoint>& time) {
  return time ? nlohmann::json(jobs::FormatUtc(*time)) : nlohmann::json(nullptr);
}

nlohmann::json RunJson(const jobs::RunSummary& run) {
  return {
      {"start", jobs::FormatUtc(run.start)},
      {"end", jobs::FormatUtc(run.end)},
      {"duration_s", static_cast<double>(run.duration.count()) / 1000.0},
      {"outcome", jobs::OutcomeName(run.outcome)},
      {"step", run.step},
      {"reason", run.reason},
      {"snapshot", run.snapshot.empty() ? nlohmann::json(nullptr) : nlohmann::json(run.snapshot)},
      {"bytes_added", run.bytes_added}};
}

nlohmann::json StatusJson(const jobs::JobStatus& s) {
  nlohmann::json item = {
      {"job", s.job},
      {"schedule", s.schedule.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.schedule)},
      {"random_delay_s", s.random_delay.count()},
      {"stale_after_s",
       s.stale_after.count() > 0 ? nlohmann::json(s.stale_after.count()) : nlohmann::json(nullptr)},
      {"stale", s.stale},
      {"runs", s.runs},
      {"last_run", s.last_run ? RunJson(*s.last_run) : nlohmann::json(nullptr)},
      {"last_success", UtcOrNull(s.last_success)},
      {"last_failure", s.last_failure ? RunJson(*s.last_failure) : nlohmann::json(nullptr)},
      {"next_run", UtcOrNull(s.next_run)},
  };
  return item;
}

std::string Ago(jobs::TimePoint now, jobs::TimePoint then) {
  return jobs::FormatAgo(now - then);
}

void PrintTable(const std::vector<jobs::JobStatus>& statuses, jobs::TimePoint now) {
  struct Row {
    std::string job, last_run, last_success, added, next_run, stale, last_failure;
  };
  std::vector<Row> rows;
  rows.push_back({"Job", "Last run", "Last success", "Added", "Next run", "Stale", "Last failure"});
  for (const jobs::JobStatus& s : statuses) {
    Row row;
    row.job = s.job;
    row.last_run = s.last_run ? std::string(jobs::OutcomeName(s.last_run->outcome)) : "never";
    row.last_success = s.last_success ? Ago(now, *s.last_success) : "never";
    row.added = s.last_run ? HumanBytes(s.last_run->bytes_added) : "-";
    if (s.next_run) {
      row.next_run = FormatLocal(*s.next_run).shown;
    } else {
      row.next_run = s.schedule.empty() ? "by hand" : "never";
    }
    row.stale = s.stale_after.count() == 0 ? "-" : s.stale ? "STALE" : "ok";
    if (s.last_failure) {
      const jobs::RunSummary& f = *s.last_failure;
      row.last_failure =
          fmt::format("{} ({}{}{}){}{}", Ago(now, f.end), jobs::OutcomeName(f.outcome),
                      f.step.empty() ? "" : ", ", f.step, f.reason.empty() ? "" : ": ", f.reason);
    } else {
      row.last_failure = "-";
    }
    rows.push_back(std::move(row));
  }
  size_t widths[6] = {};
  for (const Row& row : rows) {
    const std::string* cells[6] = {&row.job,   &row.last_run, &row.last_success,
                                   &row.added, &row.next_run, &row.stale};
    for (int i = 0; i < 6; ++i) widths[i] = std::max(widths[i], cells[i]->size());
  }
  for (const Row& row : rows) {
    fmt::print("{:<{}}  {:<{}}  {:<{}}  {:>{}}  {:<{}}  {:<{}}  {}\n", row.job, widths[0],
               row.last_run, widths[1], row.last_success, widths[2], row.added, widths[3],
               row.next_run, widths[4], row.stale, widths[5], row.last_failure);
  }
}

int RunStatus(const GlobalOptions& global, const StatusArgs& args) {
  auto file = ReadJobsFile(global);
  if (!file.ok()) return FailJobsFile(file.status());
  auto chosen_jobs = ChooseJobs(*file, args.job);
  if (!chosen_jobs.ok()) return Fail(chosen_jobs.status());
  const std::vector<const jobs::Job*>& chosen = *chosen_jobs;

  const std::string state_dir = StateDir(global);
  const jobs::TimePoint now = jobs::SystemClock().Now();
  std::vector<jobs::JobStatus> statuses;
  for (const jobs::Job* job : chosen) {
    auto history = jobs::ReadRunRecords(jobs::RunRecordPath(state_dir, job->name));
    // A record that cannot be read says nothing about the job: that is an
    // error, not a job that never ran.
    if (!history.ok()) return Fail(history.status().WithContext("job " + job->name));
    for (const auto& warning : history->warnings)
      fmt::print(stderr, "coffer: warning: {}\n", warning);
    statuses.push_back(jobs::StatusOf(*job, *history, now));
  }

  int code = kExitOk;
  if (!args.prometheus.empty()) {
    const std::string name = std::filesystem::path(args.prometheus).filename().string();
    if (!name.ends_with(".prom")) {
      fmt::print(
          stderr,
          "coffer: warning: node_exporter's textfile collector reads only *.prom files, not {}\n",
          name);
    }
    if (Status s = ReplaceFileDurably(args.prometheus, jobs::PrometheusText(statuses), 0644);
        !s.ok()) {
      code = Fail(s);
    }
  }

  if (args.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : statuses) list.push_back(StatusJson(s));
    fmt::print("{}\n", list.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  } else if (!global.quiet) {
    if (statuses.empty()) {
      fmt::print("no jobs in the jobs file\n");
    } else {
      PrintTable(statuses, now);
    }
  }

  for (const auto& s : statuses) {
    if (!s.stale) continue;
    fmt::print(stderr, "coffer: job {} is stale: {} (stale-after {})\n", s.job,
               s.last_success ? "last success " + Ago(now, *s.last_success)
                              : std::string("never succeeded"),
               jobs::FormatSpan(s.stale_after));
    if (code == kExitOk) code = kExitStale;
  }
  return code;
}

}  // namespace

void RegisterStatus(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<StatusArgs>();
  CLI::App* cmd = app.add_subcommand("status",
                                     "Show each job's last run, last success and failure, what it "
                                     "added and its next run; exit 15 when a "
                                     "job is stale");
  cmd->add_option("JOB", args->job, "Only this job");
  cmd->add_flag("--json", args->json, "Print the status of each job as JSON");
  cmd->add_option(
         "--prometheus", args->prometheus,
         "Also write the status as a node_exporter textfile (replaced atomically, mode 0644)")
      ->type_name("FILE");
  cmd->callback([&global, args, exit_code] { *exit_code = RunStatus(global, *args); });
}

}  // namespace coffer::tools
