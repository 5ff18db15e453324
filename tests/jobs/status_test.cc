// StatusOf and PrometheusText with literal times, in a pinned time zone: the
// last run, success and failure from a record of runs, the next run, the
// stale rule at its edge, and the exposition's samples and escaping.
#include "jobs/status.h"

#include <gtest/gtest.h>

#include "tests/jobs/time_zone_fixture.h"

namespace coffer::jobs {
namespace {

using namespace std::chrono_literals;

class StatusTest : public TimeZoneTest {
 protected:
  void SetUp() override {
    TimeZoneTest::SetUp();
    UseZone("Europe/Berlin");
    job_.name = "web";
    job_.schedule = "mon..fri 02:00";
    job_.stale_after = 36h;
  }

  RunRecord Run(const std::string& start, int seconds, Outcome outcome,
                const std::string& reason = "", uint64_t bytes = 0) {
    RunRecord run;
    run.job = job_.name;
    run.start = Utc(start);
    run.end = run.start + std::chrono::seconds(seconds);
    run.duration = std::chrono::milliseconds(seconds * 1000 + 250);
    run.outcome = outcome;
    if (outcome != Outcome::kSuccess) {
      run.step = outcome == Outcome::kFailure ? "pre-hook" : "post-hook";
      run.reason = reason;
    }
    if (outcome != Outcome::kFailure) run.snapshot = "host/web1/" + FormatUtc(run.start + 1s);
    run.bytes_added = bytes;
    return run;
  }

  Job job_;
  RunHistory history_;
};

TEST_F(StatusTest, NeverRanJobWithStaleAfterIsStaleAndKnowsOnlyItsNextRun) {
  // Wednesday 2026-12-02 10:00 UTC (11:00 CET): next is Thursday 02:00 CET.
  JobStatus s = StatusOf(job_, history_, Utc("2026-12-02 10:00:00"));
  EXPECT_EQ(s.job, "web");
  EXPECT_EQ(s.runs, 0u);
  EXPECT_FALSE(s.last_run);
  EXPECT_FALSE(s.last_success);
  EXPECT_FALSE(s.last_failure);
  EXPECT_EQ(Local(s.next_run), "2026-12-03 02:00:00 +0100");
  EXPECT_TRUE(s.stale);
}

TEST_F(StatusTest, WithoutStaleAfterNeverStaleAndWithoutScheduleNoNextRun) {
  job_.stale_after = 0s;
  job_.schedule.clear();
  JobStatus s = StatusOf(job_, history_, Utc("2026-12-02 10:00:00"));
  EXPECT_FALSE(s.stale);
  EXPECT_FALSE(s.next_run);
}

TEST_F(StatusTest, LastRunSuccessAndFailureComeFromTheRecord) {
  history_.runs = {
      Run("2026-11-30 01:00:00", 60, Outcome::kSuccess, "", 100),
      Run("2026-12-01 01:00:00", 5, Outcome::kFailure, "pre-hook exited with status 4"),
      Run("2026-12-02 01:00:00", 30, Outcome::kSuccess, "", 2048)};
  JobStatus s = StatusOf(job_, history_, Utc("2026-12-02 10:00:00"));
  EXPECT_EQ(s.runs, 3u);
  ASSERT_TRUE(s.last_run);
  EXPECT_EQ(s.last_run->start, Utc("2026-12-02 01:00:00"));
  EXPECT_EQ(s.last_run->end, Utc("2026-12-02 01:00:30"));
  EXPECT_EQ(s.last_run->duration, 30250ms);
  EXPECT_EQ(s.last_run->outcome, Outcome::kSuccess);
  EXPECT_EQ(s.last_run->bytes_added, 2048u);
  EXPECT_EQ(s.last_run->snapshot, "host/web1/2026-12-02T01:00:01Z");
  EXPECT_EQ(s.last_success, Utc("2026-12-02 01:00:30"));
  ASSERT_TRUE(s.last_failure);
  EXPECT_EQ(s.last_failure->end, Utc("2026-12-01 01:00:05"));
  EXPECT_EQ(s.last_failure->step, "pre-hook");
  EXPECT_EQ(s.last_failure->reason, "pre-hook exited with status 4");
  EXPECT_FALSE(s.stale);
}

TEST_F(StatusTest, AWarningIsNotASuccessButTheLastFailure) {
  history_.runs = {
      Run("2026-11-30 01:00:00", 60, Outcome::kSuccess),
      Run("2026-12-01 01:00:00", 60, Outcome::kWarning, "post-hook exited with status 1", 7)};
  JobStatus s = StatusOf(job_, history_, Utc("2026-12-01 12:00:00"));
  EXPECT_EQ(s.last_success, Utc("2026-11-30 01:01:00"));
  ASSERT_TRUE(s.last_failure);
  EXPECT_EQ(s.last_failure->outcome, Outcome::kWarning);
  EXPECT_EQ(s.last_failure->reason, "post-hook exited with status 1");
  EXPECT_EQ(s.last_run->outcome, Outcome::kWarning);
}

TEST_F(StatusTest, ChecksAreNotBackupsButTheirFailuresAreFailures) {
  RunRecord verified = Run("2026-12-01 03:00:00", 60, Outcome::kSuccess);
  verified.kind = RunKind::kVerify;
  verified.snapshot.clear();
  RunRecord damaged = Run("2026-12-01 04:00:00", 60, Outcome::kFailure, "verify found damage");
  damaged.kind = RunKind::kVerify;
  damaged.step = "verify";
  history_.runs = {Run("2026-11-28 01:00:00", 60, Outcome::kSuccess), verified, damaged};
  JobStatus s = StatusOf(job_, history_, Utc("2026-12-01 12:00:00"));
  EXPECT_EQ(s.runs, 1u);
  EXPECT_EQ(s.last_success, Utc("2026-11-28 01:01:00")) << "a verify is not a backup";
  EXPECT_TRUE(s.stale) << "36 h since the last backup, whatever was verified since";
  ASSERT_TRUE(s.last_run);
  EXPECT_EQ(s.last_run->start, Utc("2026-11-28 01:00:00"));
  ASSERT_TRUE(s.last_failure);
  EXPECT_EQ(s.last_failure->reason, "verify found damage");
  EXPECT_EQ(s.last_failure->step, "verify");
}

TEST_F(StatusTest, TheLastLineIsTheLastRunEvenWhenTheClockMovedBack) {
  history_.runs = {Run("2026-12-02 01:00:00", 10, Outcome::kSuccess),
                   Run("2026-12-01 23:00:00", 10, Outcome::kFailure, "backup failed")};
  JobStatus s = StatusOf(job_, history_, Utc("2026-12-02 10:00:00"));
  EXPECT_EQ(s.last_run->outcome, Outcome::kFailure);
  EXPECT_EQ(s.last_success, Utc("2026-12-02 01:00:10"));
}

TEST_F(StatusTest, LinesOfAnotherJobAreNotThisJobsRuns) {
  RunRecord other = Run("2026-12-02 01:00:00", 10, Outcome::kSuccess);
  other.job = "db";
  history_.runs = {other};
  JobStatus s = StatusOf(job_, history_, Utc("2026-12-02 10:00:00"));
  EXPECT_EQ(s.runs, 0u);
  EXPECT_FALSE(s.last_success);
}

struct StaleCase {
  const char* now;
  bool stale;
};

TEST_F(StatusTest, StaleWhenTheLastSuccessIsOlderThanStaleAfter) {
  job_.stale_after = 1h;
  history_.runs = {Run("2026-12-02 01:00:00", 60, Outcome::kSuccess),  // ends 01:01:00
                   Run("2026-12-02 01:30:00", 60, Outcome::kFailure, "backup failed")};
  for (const StaleCase& c :
       {StaleCase{"2026-12-02 01:30:00", false}, StaleCase{"2026-12-02 02:01:00", false},
        StaleCase{"2026-12-02 02:01:01", true}, StaleCase{"2026-12-04 02:00:00", true}}) {
    EXPECT_EQ(StatusOf(job_, history_, Utc(c.now)).stale, c.stale) << c.now;
  }
}

TEST_F(StatusTest, NextRunFollowsTheScheduleInLocalTimeAcrossAWeekend) {
  // Friday 2026-12-04 02:00 CET has passed at 03:00 CET: next is Monday.
  JobStatus s = StatusOf(job_, history_, Utc("2026-12-04 02:00:00"));
  EXPECT_EQ(Local(s.next_run), "2026-12-07 02:00:00 +0100");
  job_.schedule = "*-02-30";  // never
  EXPECT_FALSE(StatusOf(job_, history_, Utc("2026-12-04 02:00:00")).next_run);
}

TEST_F(StatusTest, PrometheusTextOfARanAndANeverRanJob) {
  job_.random_delay = 10min;
  history_.runs = {
      Run("2026-12-01 01:00:00", 5, Outcome::kFailure, "pre-hook exited with status 4"),
      Run("2026-12-02 01:00:00", 30, Outcome::kSuccess, "", 2048)};
  const TimePoint now = Utc("2026-12-02 10:00:00");
  JobStatus web = StatusOf(job_, history_, now);
  Job fresh;
  fresh.name = "db";
  JobStatus db = StatusOf(fresh, RunHistory{}, now);

  const std::string success = std::to_string(Utc("2026-12-02 01:00:30").time_since_epoch().count());
  const std::string failure = std::to_string(Utc("2026-12-01 01:00:05").time_since_epoch().count());
  const std::string next = std::to_string(Utc("2026-12-03 01:00:00").time_since_epoch().count());
  EXPECT_EQ(PrometheusText({web, db}),
            "# HELP coffer_job_last_success_timestamp_seconds When the job's last successful run "
            "ended, in "
            "seconds since the epoch.\n"
            "# TYPE coffer_job_last_success_timestamp_seconds gauge\n"
            "coffer_job_last_success_timestamp_seconds{job=\"web\"} " +
                success +
                "\n"
                "# HELP coffer_job_last_failure_timestamp_seconds When the job's last failed run "
                "(or run with "
                "warnings) ended, in seconds since the epoch.\n"
                "# TYPE coffer_job_last_failure_timestamp_seconds gauge\n"
                "coffer_job_last_failure_timestamp_seconds{job=\"web\"} " +
                failure +
                "\n"
                "# HELP coffer_job_last_run_timestamp_seconds When the job's last run ended, in "
                "seconds since the "
                "epoch.\n"
                "# TYPE coffer_job_last_run_timestamp_seconds gauge\n"
                "coffer_job_last_run_timestamp_seconds{job=\"web\"} " +
                success +
                "\n"
                "# HELP coffer_job_last_run_success 1 if the job's last run succeeded, 0 if not.\n"
                "# TYPE coffer_job_last_run_success gauge\n"
                "coffer_job_last_run_success{job=\"web\"} 1\n"
                "# HELP coffer_job_last_run_outcome The outcome of the job's last run: 1 for it, 0 "
                "for the others.\n"
                "# TYPE coffer_job_last_run_outcome gauge\n"
                "coffer_job_last_run_outcome{job=\"web\",outcome=\"success\"} 1\n"
                "coffer_job_last_run_outcome{job=\"web\",outcome=\"warning\"} 0\n"
                "coffer_job_last_run_outcome{job=\"web\",outcome=\"failure\"} 0\n"
                "# HELP coffer_job_last_run_duration_seconds How long the job's last run took, in "
                "seconds.\n"
                "# TYPE coffer_job_last_run_duration_seconds gauge\n"
                "coffer_job_last_run_duration_seconds{job=\"web\"} 30.250\n"
                "# HELP coffer_job_last_run_bytes_added What the job's last run added to the "
                "repository after "
                "deduplication, in bytes.\n"
                "# TYPE coffer_job_last_run_bytes_added gauge\n"
                "coffer_job_last_run_bytes_added{job=\"web\"} 2048\n"
                "# HELP coffer_job_stale_after_seconds The job's stale-after: how old its last "
                "success may be, in "
                "seconds.\n"
                "# TYPE coffer_job_stale_after_seconds gauge\n"
                "coffer_job_stale_after_seconds{job=\"web\"} 129600\n"
                "# HELP coffer_job_stale 1 if the job has a stale-after and no success within it, "
                "0 if not.\n"
                "# TYPE coffer_job_stale gauge\n"
                "coffer_job_stale{job=\"web\"} 0\n"
                "coffer_job_stale{job=\"db\"} 0\n"
                "# HELP coffer_job_next_run_timestamp_seconds When the job's schedule runs it "
                "next, in seconds since "
                "the epoch.\n"
                "# TYPE coffer_job_next_run_timestamp_seconds gauge\n"
                "coffer_job_next_run_timestamp_seconds{job=\"web\"} " +
                next + "\n");
}

TEST_F(StatusTest, PrometheusTextOfAFailedLastRunAndAStaleJob) {
  job_.schedule.clear();
  history_.runs = {Run("2026-12-01 01:00:00", 5, Outcome::kFailure, "backup failed")};
  const std::string text = PrometheusText({StatusOf(job_, history_, Utc("2026-12-02 10:00:00"))});
  EXPECT_EQ(text.find("coffer_job_last_success_timestamp_seconds"), std::string::npos) << text;
  EXPECT_EQ(text.find("coffer_job_next_run_timestamp_seconds"), std::string::npos) << text;
  EXPECT_NE(text.find("coffer_job_last_run_success{job=\"web\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("coffer_job_last_run_outcome{job=\"web\",outcome=\"failure\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("coffer_job_last_run_bytes_added{job=\"web\"} 0\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("coffer_job_stale{job=\"web\"} 1\n"), std::string::npos) << text;
}

TEST_F(StatusTest, NothingToSayIsAnEmptyText) {
  EXPECT_EQ(PrometheusText({}), "");
}

TEST(EscapeLabelValueTest, BackslashQuoteAndLineFeedAreEscaped) {
  struct Case {
    std::string_view in, out;
  };
  for (const Case& c :
       {Case{"web", "web"}, Case{"a\\b", "a\\\\b"}, Case{"say \"hi\"", "say \\\"hi\\\""},
        Case{"two\nlines", "two\\nlines"}, Case{"\\\"\n", "\\\\\\\"\\n"},
        Case{"tab\there", "tab\there"}, Case{"", ""}}) {
    EXPECT_EQ(EscapeLabelValue(c.in), c.out) << c.in;
  }
}

TEST_F(StatusTest, AJobNameIsEscapedInItsLabels) {
  // The jobs file allows no such name; the exposition must not break if one
  // gets through.
  job_.name = "we\"b\\1\n";
  history_.runs = {Run("2026-12-02 01:00:00", 1, Outcome::kSuccess)};
  const std::string text = PrometheusText({StatusOf(job_, history_, Utc("2026-12-02 10:00:00"))});
  EXPECT_NE(text.find("coffer_job_last_run_success{job=\"we\\\"b\\\\1\\n\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find("coffer_job_last_run_outcome{job=\"we\\\"b\\\\1\\n\",outcome=\"success\"} 1\n"),
      std::string::npos)
      << text;
}

}  // namespace
}  // namespace coffer::jobs
