// What `coffer status` says of a job: how its last run ended, when it last
// succeeded and last went wrong, what it added, when it runs next and whether
// it is stale; and the same as a Prometheus text exposition for
// node_exporter's textfile collector. Everything comes from the jobs file and
// the record of runs (jobs/run_record.h), so it is right after a reboot too.
//
// The rules:
// - the last run is the record's last line (the record is appended when a
//   run ends, by the holder of the job's lock, so its order is the order of
//   the runs even if the clock moved back);
// - a success is a run whose outcome is "success". A warning (a snapshot
//   stored, but files unread, or a failed post-hook, retention or gc) is not
//   one, as for `coffer run`'s exit status and the notices' last_success: a
//   job that ends with warnings every night goes stale and says so;
// - the last failure is the last run that did not succeed: a failure or a
//   warning, with its outcome, step and reason;
// - times of success and failure are when those runs ended;
// - the next run is the schedule's first instant after now (without the
//   job's random-delay, which is added at random); none without a schedule,
//   or when the schedule never matches again;
// - a job is stale when it has a stale-after and its last success ended more
//   than stale-after before now, or it has never succeeded (a new job with a
//   stale-after is stale until its first success). Without stale-after a job
//   is never stale.
//
// The exposition (PrometheusText; text format 0.0.4). Every sample has the
// label job="NAME"; a family is written (with its HELP and TYPE lines) only
// when it has a sample. What is not known is left out rather than written as
// 0: a job that never ran has no last-run samples, one that never succeeded
// no last-success sample, one without a schedule no next-run sample.
//   coffer_job_last_success_timestamp_seconds   gauge  end of the last success (Unix time)
//   coffer_job_last_failure_timestamp_seconds   gauge  end of the last failure or warning
//   coffer_job_last_run_timestamp_seconds       gauge  end of the last run
//   coffer_job_last_run_success                 gauge  1 if the last run succeeded, else 0
//   coffer_job_last_run_outcome{outcome}        gauge  one sample per outcome ("success",
//                                                      "warning", "failure"): 1 for the last
//                                                      run's, 0 for the others
//   coffer_job_last_run_duration_seconds        gauge  how long the last run took
//   coffer_job_last_run_bytes_added             gauge  what the last run added to the
//                                                      repository (after dedup)
//   coffer_job_stale_after_seconds              gauge  the job's stale-after, when it has one
//   coffer_job_stale                            gauge  1 if stale (above), else 0; every job
//   coffer_job_next_run_timestamp_seconds       gauge  the next scheduled run (Unix time)
//
// Pure functions; safe from any thread. StatusOf reads the process's time
// zone (TZ) for the next run, as the calendar does.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "jobs/clock.h"
#include "jobs/job_file.h"
#include "jobs/outcome.h"
#include "jobs/run_record.h"

namespace coffer::jobs {

// A run as status reports it.
struct RunSummary {
  TimePoint start;
  TimePoint end;
  std::chrono::milliseconds duration{0};
  Outcome outcome = Outcome::kSuccess;
  std::string step;      // "" on success
  std::string reason;    // "" on success
  std::string snapshot;  // "" if none was stored
  uint64_t bytes_added = 0;

  bool operator==(const RunSummary&) const = default;
};

struct JobStatus {
  std::string job;
  std::string schedule;  // the jobs file's text; "" if none
  std::chrono::seconds random_delay{0};
  std::chrono::seconds stale_after{0};  // 0: never stale
  size_t runs = 0;                      // backup runs in the record

  // The last backup run and the end of the last successful one: what
  // stale-after is about. Verify and restore-test runs count only as failures.
  std::optional<RunSummary> last_run;
  std::optional<TimePoint> last_success;   // end of the last successful backup
  std::optional<RunSummary> last_failure;  // the last run of any kind that failed or warned
  std::optional<TimePoint> next_run;
  bool stale = false;
};

// The status of `job` at `now`, from its record of runs `history`.
JobStatus StatusOf(const Job& job, const RunHistory& history, TimePoint now);

// The exposition above for `statuses`, in their order within each family.
// Ends with a newline (or is empty when there is nothing to say).
std::string PrometheusText(const std::vector<JobStatus>& statuses);

// A label value as the text format wants it between its quotes: '\' as "\\",
// '"' as "\"", a line feed as "\n"; every other byte as it is.
std::string EscapeLabelValue(std::string_view value);

}  // namespace coffer::jobs
