#include "jobs/status.h"

#include <array>

#include <fmt/format.h>

#include "jobs/calendar.h"

namespace coffer::jobs {
namespace {

RunSummary SummaryOf(const RunRecord& run) {
  RunSummary summary;
  summary.start = run.start;
  summary.end = run.end;
  summary.duration = run.duration;
  summary.outcome = run.outcome;
  summary.step = run.step;
  summary.reason = run.reason;
  summary.snapshot = run.snapshot;
  summary.bytes_added = run.bytes_added;
  return summary;
}

// One metric family: its samples, written only when there is one.
class Family {
 public:
  Family(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}

  void Add(const std::string& job, std::string value, std::string_view extra_labels = {}) {
    samples_ +=
        fmt::format("{}{{job=\"{}\"{}}} {}\n", name_, EscapeLabelValue(job), extra_labels, value);
  }

  void AppendTo(std::string& out) const {
    if (samples_.empty()) return;
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name_, help_, name_);
    out += samples_;
  }

 private:
  std::string name_;
  std::string help_;
  std::string samples_;
};

std::string Seconds(TimePoint time) {
  return std::to_string(time.time_since_epoch().count());
}

std::string Millis(std::chrono::milliseconds span) {
  const int64_t ms = span.count();
  return fmt::format("{}{}.{:03}", ms < 0 ? "-" : "", (ms < 0 ? -ms : ms) / 1000,
                     (ms < 0 ? -ms : ms) % 1000);
}

}  // namespace

JobStatus StatusOf(const Job& job, const RunHistory& history, TimePoint now) {
  JobStatus status;
  status.job = job.name;
  status.schedule = job.schedule;
  status.random_delay = job.random_delay;
  status.stale_after = job.stale_after;
  for (const RunRecord& run : history.runs) {
    // The record's file is one job's; a line naming another (copied in by
    // hand) is not this job's run.
    if (run.job != job.name) continue;
    // A verify or restore test says nothing of how old the last backup is;
    // one that failed (damage found) is still the job's last failure.
    if (run.kind != RunKind::kBackup) {
      if (run.outcome != Outcome::kSuccess) status.last_failure = SummaryOf(run);
      continue;
    }
    ++status.runs;
    status.last_run = SummaryOf(run);
    if (run.outcome == Outcome::kSuccess) {
      status.last_success = run.end;
    } else {
      status.last_failure = SummaryOf(run);
    }
  }
  if (!job.schedule.empty()) {
    // The reader accepted the schedule; one that does not parse (a jobs file
    // read by another version) has no next run.
    if (auto schedule = ParseSchedule(job.schedule); schedule.ok())
      status.next_run = schedule->NextAfter(now);
  }
  if (job.stale_after.count() > 0) {
    status.stale = !status.last_success || now - *status.last_success > job.stale_after;
  }
  return status;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string PrometheusText(const std::vector<JobStatus>& statuses) {
  Family last_success("coffer_job_last_success_timestamp_seconds",
                      "When the job's last successful run ended, in seconds since the epoch.");
  Family last_failure(
      "coffer_job_last_failure_timestamp_seconds",
      "When the job's last failed run (or run with warnings) ended, in seconds since the epoch.");
  Family last_run("coffer_job_last_run_timestamp_seconds",
                  "When the job's last run ended, in seconds since the epoch.");
  Family run_success("coffer_job_last_run_success", "1 if the job's last run succeeded, 0 if not.");
  Family run_outcome("coffer_job_last_run_outcome",
                     "The outcome of the job's last run: 1 for it, 0 for the others.");
  Family duration("coffer_job_last_run_duration_seconds",
                  "How long the job's last run took, in seconds.");
  Family bytes("coffer_job_last_run_bytes_added",
               "What the job's last run added to the repository after deduplication, in bytes.");
  Family stale_after("coffer_job_stale_after_seconds",
                     "The job's stale-after: how old its last success may be, in seconds.");
  Family stale("coffer_job_stale",
               "1 if the job has a stale-after and no success within it, 0 if not.");
  Family next_run("coffer_job_next_run_timestamp_seconds",
                  "When the job's schedule runs it next, in seconds since the epoch.");
  constexpr std::array kOutcomes = {Outcome::kSuccess, Outcome::kWarning, Outcome::kFailure};

  for (const JobStatus& s : statuses) {
    if (s.last_success) last_success.Add(s.job, Seconds(*s.last_success));
    if (s.last_failure) last_failure.Add(s.job, Seconds(s.last_failure->end));
    if (s.last_run) {
      last_run.Add(s.job, Seconds(s.last_run->end));
      run_success.Add(s.job, s.last_run->outcome == Outcome::kSuccess ? "1" : "0");
      for (Outcome outcome : kOutcomes) {
        run_outcome.Add(s.job, s.last_run->outcome == outcome ? "1" : "0",
                        fmt::format(",outcome=\"{}\"", OutcomeName(outcome)));
      }
      duration.Add(s.job, Millis(s.last_run->duration));
      bytes.Add(s.job, std::to_string(s.last_run->bytes_added));
    }
    if (s.stale_after.count() > 0) stale_after.Add(s.job, std::to_string(s.stale_after.count()));
    stale.Add(s.job, s.stale ? "1" : "0");
    if (s.next_run) next_run.Add(s.job, Seconds(*s.next_run));
  }

  std::string out;
  for (const Family* family : {&last_success, &last_failure, &last_run, &run_success, &run_outcome,
                               &duration, &bytes, &stale_after, &stale, &next_run}) {
    family->AppendTo(out);
  }
  return out;
}

}  // namespace coffer::jobs
