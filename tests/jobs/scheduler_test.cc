// The scheduler's loop through its seams: a FakeClock, a sleeper that moves
// that clock instead of waiting, and a starter that records what it was
// asked to run. No test sleeps.
#include "jobs/scheduler.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "jobs/run_record.h"
#include "tests/jobs/time_zone_fixture.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::jobs {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// Moves the clock to the time asked for; stops the loop at `limit`, and
// returns scripted wakes (a reload, a stop) at their times.
class FakeSleeper final : public Sleeper {
 public:
  FakeSleeper(FakeClock& clock, TimePoint limit) : clock_(clock), limit_(limit) {}
  void At(TimePoint when, Wake wake) { events_.emplace(when, wake); }

  Wake SleepUntil(TimePoint until) override {
    ++calls_;
    if (!events_.empty() && events_.begin()->first <= std::min(until, limit_)) {
      auto event = events_.begin();
      if (clock_.Now() < event->first) clock_.Set(event->first);
      const Wake wake = event->second;
      events_.erase(event);
      return wake;
    }
    if (until > limit_) {
      if (clock_.Now() < limit_) clock_.Set(limit_);
      return Wake::kStop;
    }
    if (clock_.Now() < until) clock_.Set(until);
    return Wake::kTime;
  }
  int calls() const { return calls_; }

 private:
  FakeClock& clock_;
  TimePoint limit_;
  std::multimap<TimePoint, Wake> events_;
  int calls_ = 0;
};

struct Started {
  std::string job;
  TimePoint at;
  RunKind kind = RunKind::kBackup;
};

// Records each start; a job may fail, take a while (the clock moves on), or
// find itself already running. With a state folder it appends the run to
// the record of runs, as `coffer run` does.
class FakeStarter final : public JobStarter {
 public:
  explicit FakeStarter(FakeClock& clock) : clock_(clock) {}

  RunOutcome Run(const Job& job, RunKind kind) override {
    const TimePoint start = clock_.Now();
    started.push_back({job.name, start, kind});
    RunOutcome outcome;
    if (already_running.count(job.name)) {
      outcome.already_running = true;
      outcome.reason = "job " + job.name + " is already running (pid 4242)";
      return outcome;
    }
    if (failing.count(job.name)) {
      outcome.outcome = Outcome::kFailure;
      outcome.reason = "pre-hook exited with status 1";
    }
    if (auto it = takes.find(job.name); it != takes.end()) {
      clock_.Advance(it->second);
      takes.erase(it);  // only the first run is slow
    }
    if (!state_dir.empty()) {
      RunRecord record;
      record.job = job.name;
      record.kind = kind;
      record.start = start;
      record.end = clock_.Now();
      record.outcome = outcome.outcome;
      std::filesystem::create_directories(JobsStateFolder(state_dir));
      EXPECT_TRUE(AppendRunRecord(RunRecordPath(state_dir, job.name), record).ok());
    }
    return outcome;
  }

  std::vector<Started> started;
  std::set<std::string> failing;
  std::set<std::string> already_running;
  std::map<std::string, seconds> takes;
  std::string state_dir;

 private:
  FakeClock& clock_;
};

Job MakeJob(const std::string& name, const std::string& schedule, bool catch_up = false,
            seconds random_delay = seconds(0)) {
  Job job;
  job.name = name;
  job.paths = {"/etc"};
  job.schedule = schedule;
  job.catch_up = catch_up;
  job.random_delay = random_delay;
  return job;
}

class SchedulerTest : public TimeZoneTest {
 protected:
  void SetUp() override {
    TimeZoneTest::SetUp();
    UseZone("Europe/Berlin");
  }

  SchedulerOptions Options(uint64_t seed = 1) {
    SchedulerOptions options;
    options.seed = seed;
    options.log = [this](std::string_view line) { log_.emplace_back(line); };
    return options;
  }

  // The local times of the starts of `job` ("" : every job's).
  static std::vector<std::string> Times(const FakeStarter& starter, const std::string& job = "") {
    std::vector<std::string> out;
    for (const auto& s : starter.started) {
      if (job.empty() || s.job == job) out.push_back(Local(s.at));
    }
    return out;
  }

  // The starts of `kind`, in local time.
  static std::vector<std::string> KindTimes(const FakeStarter& starter, RunKind kind) {
    std::vector<std::string> out;
    for (const auto& s : starter.started) {
      if (s.kind == kind) out.push_back(Local(s.at));
    }
    return out;
  }

  bool Logged(const std::string& needle) const {
    return std::any_of(log_.begin(), log_.end(), [&](const std::string& line) {
      return line.find(needle) != std::string::npos;
    });
  }
  std::string AllLog() const {
    std::string all;
    for (const auto& line : log_) all += line + "\n";
    return all;
  }

  std::vector<std::string> log_;
};

TEST_F(SchedulerTest, WeekdaysAt0200RunFiveTimesInAWeekAtTheirInstants) {
  // Saturday noon to the next Saturday noon (May: CEST, +0200).
  FakeClock clock(Utc("2026-05-02 10:00:00"));
  FakeSleeper sleeper(clock, Utc("2026-05-09 10:00:00"));
  FakeStarter starter(clock);
  Scheduler scheduler(JobFile{{MakeJob("web", "mon..fri 02:00")}}, {}, clock, sleeper, starter,
                      Options());
  scheduler.Run();
  EXPECT_EQ(Times(starter),
            (std::vector<std::string>{"2026-05-04 02:00:00 +0200", "2026-05-05 02:00:00 +0200",
                                      "2026-05-06 02:00:00 +0200", "2026-05-07 02:00:00 +0200",
                                      "2026-05-08 02:00:00 +0200"}));
  EXPECT_TRUE(Logged("web: next run Mon 2026-05-04 02:00:00 +0200")) << AllLog();
  EXPECT_TRUE(Logged("web: next run Mon 2026-05-11 02:00:00 +0200")) << AllLog();
  EXPECT_TRUE(Logged("stopping")) << AllLog();
  EXPECT_EQ(scheduler.last_runs().at(Task{"web"}), Utc("2026-05-08 00:00:00"));
}

TEST_F(SchedulerTest, CatchUpAfterThreeDaysDownRunsOnceAtStart) {
  // Last run Friday 02:00; back on Monday at noon: three runs were missed.
  const TimePoint now = Utc("2026-05-04 10:00:00");
  FakeClock clock(now);
  FakeSleeper sleeper(clock, Utc("2026-05-05 10:00:00"));
  FakeStarter starter(clock);
  const LastRuns last{{Task{"web"}, Utc("2026-05-01 00:00:00")}};
  Scheduler scheduler(JobFile{{MakeJob("web", "02:00", /*catch_up=*/true)}}, last, clock, sleeper,
                      starter, Options());
  ASSERT_EQ(scheduler.Planned().size(), 0u);  // nothing planned before Run
  scheduler.Run();
  // Once at start (not once per missed day), then at its time.
  EXPECT_EQ(Times(starter),
            (std::vector<std::string>{"2026-05-04 12:00:00 +0200", "2026-05-05 02:00:00 +0200"}));
  EXPECT_TRUE(Logged("web: missed its run of Mon 2026-05-04 02:00:00 +0200")) << AllLog();
  EXPECT_TRUE(Logged("(catching up)")) << AllLog();
}

TEST_F(SchedulerTest, WithoutCatchUpMissedRunsAreSkipped) {
  FakeClock clock(Utc("2026-05-04 10:00:00"));
  FakeSleeper sleeper(clock, Utc("2026-05-05 10:00:00"));
  FakeStarter starter(clock);
  const LastRuns last{{Task{"web"}, Utc("2026-05-01 00:00:00")}};
  Scheduler scheduler(JobFile{{MakeJob("web", "02:00", /*catch_up=*/false)}}, last, clock, sleeper,
                      starter, Options());
  scheduler.Run();
  EXPECT_EQ(Times(starter), (std::vector<std::string>{"2026-05-05 02:00:00 +0200"}));
  EXPECT_FALSE(Logged("catching up")) << AllLog();
}

TEST_F(SchedulerTest, CatchUpNeedsAMissedRunAndALastRun) {
  FakeClock clock(Utc("2026-05-04 10:00:00"));
  FakeSleeper sleeper(clock, Utc("2026-05-04 20:00:00"));
  FakeStarter starter(clock);
  // "ran" at today's 02:00; "never" never ran: neither has anything to catch up.
  const LastRuns last{{Task{"ran"}, Utc("2026-05-04 00:00:00")}};
  Scheduler scheduler(JobFile{{MakeJob("ran", "02:00", true), MakeJob("never", "02:00", true)}},
                      last, clock, sleeper, starter, Options());
  scheduler.Run();
  EXPECT_TRUE(starter.started.empty()) << AllLog();
}

TEST_F(SchedulerTest, RandomDelayIsWithinBoundsDrawnPerRunAndRepeatableWithASeed) {
  auto run = [&](uint64_t seed) {
    FakeClock clock(Utc("2026-05-01 10:00:00"));
    FakeSleeper sleeper(clock, Utc("2026-05-21 10:00:00"));
    FakeStarter starter(clock);
    Scheduler scheduler(JobFile{{MakeJob("web", "02:00", false, minutes(10))}}, {}, clock, sleeper,
                        starter, Options(seed));
    scheduler.Run();
    std::vector<seconds> delays;
    for (const auto& s : starter.started) {
      // Each day's 02:00 local is 00:00 UTC in May.
      const auto day = std::chrono::floor<std::chrono::days>(s.at);
      delays.push_back(s.at - TimePoint(day));
    }
    return delays;
  };
  const std::vector<seconds> first = run(7);
  ASSERT_EQ(first.size(), 20u);
  for (seconds delay : first) {
    EXPECT_GE(delay, seconds(0));
    EXPECT_LE(delay, minutes(10));
  }
  std::set<int64_t> distinct;
  for (seconds delay : first) distinct.insert(delay.count());
  EXPECT_GT(distinct.size(), 10u);  // drawn for each run, not once
  EXPECT_EQ(run(7), first);         // the same seed, the same instants
  EXPECT_NE(run(8), first);
}

TEST_F(SchedulerTest, AFailingJobDoesNotStopTheOthers) {
  FakeClock clock(Utc("2026-05-01 10:00:00"));
  FakeSleeper sleeper(clock, Utc("2026-05-04 10:00:00"));
  FakeStarter starter(clock);
  starter.failing = {"db"};
  Scheduler scheduler(JobFile{{MakeJob("db", "02:00"), MakeJob("web", "02:00")}}, {}, clock,
                      sleeper, starter, Options());
  scheduler.Run();
  // Due together: one after the other, in the order of the jobs file, every day.
  std::vector<std::string> order;
  for (const auto& s : starter.started) order.push_back(s.job);
  EXPECT_EQ(order, (std::vector<std::string>{"db", "web", "db", "web", "db", "web"}));
  EXPECT_EQ(Times(starter, "web").size(), 3u);
  EXPECT_TRUE(Logged("db: failure: pre-hook exited with status 1")) << AllLog();
  EXPECT_TRUE(Logged("web: success")) << AllLog();
}

TEST_F(SchedulerTest, AJobLongerThanItsIntervalIsNotStartedTwice) {
  FakeClock clock(Utc("2026-05-01 22:30:00"));  // 00:30 local
  FakeSleeper sleeper(clock, Utc("2026-05-02 03:30:00"));
  FakeStarter starter(clock);
  starter.takes["sync"] = hours(2) + minutes(30);  // the 01:00 run ends at 03:30
  Scheduler scheduler(JobFile{{MakeJob("sync", "hourly")}}, {}, clock, sleeper, starter, Options());
  scheduler.Run();
  EXPECT_EQ(Times(starter),
            (std::vector<std::string>{"2026-05-02 01:00:00 +0200", "2026-05-02 04:00:00 +0200",
                                      "2026-05-02 05:00:00 +0200"}));
  EXPECT_TRUE(Logged("sync: still running at Sat 2026-05-02 03:00:00 +0200; that run is skipped"))
      << AllLog();
}

TEST_F(SchedulerTest, AJobAlreadyRunningElsewhereSkipsThatRun) {
  FakeClock clock(Utc("2026-05-01 10:00:00"));
  FakeSleeper sleeper(clock, Utc("2026-05-03 10:00:00"));
  FakeStarter starter(clock);
  starter.already_running = {"web"};
  const LastRuns last{{Task{"web"}, Utc("2026-04-30 00:00:00")}};
  Scheduler scheduler(JobFile{{MakeJob("web", "02:00")}}, last, clock, sleeper, starter, Options());
  scheduler.Run();
  EXPECT_EQ(starter.started.size(), 2u);  // once a day, each skipped
  EXPECT_TRUE(Logged("web: already running (job web is already running (pid 4242)); the run of"))
      << AllLog();
  EXPECT_EQ(scheduler.last_runs().at(Task{"web"}),
            Utc("2026-04-30 00:00:00"));  // no run of its own
}

TEST_F(SchedulerTest, TheLastRunFromTheRecordSurvivesARestart) {
  testing::TempDir state;
  {
    FakeClock clock(Utc("2026-05-01 10:00:00"));
    FakeSleeper sleeper(clock, Utc("2026-05-02 10:00:00"));
    FakeStarter starter(clock);
    starter.state_dir = state.path();
    Scheduler scheduler(JobFile{{MakeJob("web", "02:00", true)}}, {}, clock, sleeper, starter,
                        Options());
    scheduler.Run();
    ASSERT_EQ(Times(starter), (std::vector<std::string>{"2026-05-02 02:00:00 +0200"}));
  }
  const JobFile file{{MakeJob("web", "02:00", true)}};
  const LastRuns last = ReadLastRuns(state.path(), file, nullptr);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last.at(Task{"web"}), Utc("2026-05-02 00:00:00"));
  {
    // Restarted the same day: the run is not repeated.
    FakeClock clock(Utc("2026-05-02 12:00:00"));
    FakeSleeper sleeper(clock, Utc("2026-05-02 20:00:00"));
    FakeStarter starter(clock);
    Scheduler scheduler(file, ReadLastRuns(state.path(), file, nullptr), clock, sleeper, starter,
                        Options());
    scheduler.Run();
    EXPECT_TRUE(starter.started.empty()) << AllLog();
  }
  {
    // Restarted two days later: one catch-up.
    FakeClock clock(Utc("2026-05-04 12:00:00"));
    FakeSleeper sleeper(clock, Utc("2026-05-04 20:00:00"));
    FakeStarter starter(clock);
    Scheduler scheduler(file, ReadLastRuns(state.path(), file, nullptr), clock, sleeper, starter,
                        Options());
    scheduler.Run();
    EXPECT_EQ(Times(starter), (std::vector<std::string>{"2026-05-04 14:00:00 +0200"}));
  }
}

TEST_F(SchedulerTest, VerifyAndRestoreTestSchedulesRunAsTheirOwnTasks) {
  // Backups every day at 02:00, a verify every Sunday at 04:00, a restore
  // test on the first of the month at 02:00, the same minute as a backup:
  // the backup goes first, and the check starts when it ends.
  Job job = MakeJob("web", "02:00");
  job.verify = "sun 04:00";
  job.restore_test = "*-*-01 02:00";
  FakeClock clock(Utc("2026-05-28 10:00:00"));  // a Thursday
  FakeSleeper sleeper(clock, Utc("2026-06-08 10:00:00"));
  FakeStarter starter(clock);
  starter.takes["web"] = seconds(90);  // the first run: the backup of the 29th
  Scheduler scheduler(JobFile{{job}}, {}, clock, sleeper, starter, Options());
  scheduler.Run();
  EXPECT_EQ(KindTimes(starter, RunKind::kBackup).size(), 11u) << AllLog();
  EXPECT_EQ(KindTimes(starter, RunKind::kVerify),
            (std::vector<std::string>{"2026-05-31 04:00:00 +0200", "2026-06-07 04:00:00 +0200"}));
  EXPECT_EQ(KindTimes(starter, RunKind::kRestoreTest),
            (std::vector<std::string>{"2026-06-01 02:00:00 +0200"}));
  const auto first_of_june =
      std::find_if(starter.started.begin(), starter.started.end(),
                   [](const Started& s) { return Local(s.at).starts_with("2026-06-01"); });
  ASSERT_NE(first_of_june, starter.started.end());
  EXPECT_EQ(first_of_june->kind, RunKind::kBackup) << "a tie runs the backup first";
  EXPECT_EQ((first_of_june + 1)->kind, RunKind::kRestoreTest);
  EXPECT_TRUE(Logged("web verify: next run Sun 2026-05-31 04:00:00 +0200")) << AllLog();
  EXPECT_TRUE(Logged("web restore-test: starting the run of Mon 2026-06-01 02:00:00 +0200"))
      << AllLog();
  EXPECT_EQ(scheduler.last_runs().at(Task{"web", RunKind::kVerify}), Utc("2026-06-07 02:00:00"));
  EXPECT_EQ(scheduler.last_runs().at(Task{"web", RunKind::kRestoreTest}),
            Utc("2026-06-01 00:00:00"));
}

TEST_F(SchedulerTest, EachKindCatchesUpFromItsOwnLastRun) {
  // The backups ran every day, the last verify is two weeks old: after a
  // restart only the verify has something to catch up, once.
  testing::TempDir state;
  Job job = MakeJob("web", "02:00", /*catch_up=*/true);
  job.verify = "sun 04:00";
  const JobFile file{{job}};
  FakeClock clock(Utc("2026-05-18 10:00:00"));  // Monday noon
  {
    FakeStarter recorder(clock);
    recorder.state_dir = state.path();
    clock.Set(Utc("2026-05-03 02:00:00"));
    recorder.Run(job, RunKind::kVerify);  // Sunday 2026-05-03 04:00 CEST
    clock.Set(Utc("2026-05-18 00:00:00"));
    recorder.Run(job, RunKind::kBackup);  // this morning's 02:00
    clock.Set(Utc("2026-05-18 10:00:00"));
  }
  const LastRuns last = ReadLastRuns(state.path(), file, nullptr);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last.at(Task{"web", RunKind::kVerify}), Utc("2026-05-03 02:00:00"));
  EXPECT_EQ(last.at(Task{"web", RunKind::kBackup}), Utc("2026-05-18 00:00:00"));

  FakeSleeper sleeper(clock, Utc("2026-05-18 20:00:00"));
  FakeStarter starter(clock);
  Scheduler scheduler(file, last, clock, sleeper, starter, Options());
  scheduler.Run();
  ASSERT_EQ(starter.started.size(), 1u) << AllLog();
  EXPECT_EQ(starter.started[0].kind, RunKind::kVerify);
  EXPECT_EQ(starter.started[0].at, Utc("2026-05-18 10:00:00"));
  EXPECT_TRUE(Logged("web verify: missed its run of Sun 2026-05-17 04:00:00 +0200")) << AllLog();
}

TEST_F(SchedulerTest, AJobWithOnlyACheckScheduleIsScheduled) {
  Job job = MakeJob("archive", "");
  job.verify = "daily";
  FakeClock clock(Utc("2026-05-02 10:00:00"));
  FakeSleeper sleeper(clock, Utc("2026-05-04 10:00:00"));
  FakeStarter starter(clock);
  Scheduler scheduler(JobFile{{job}}, {}, clock, sleeper, starter, Options());
  scheduler.Run();
  EXPECT_EQ(KindTimes(starter, RunKind::kVerify),
            (std::vector<std::string>{"2026-05-03 00:00:00 +0200", "2026-05-04 00:00:00 +0200"}));
  EXPECT_TRUE(KindTimes(starter, RunKind::kBackup).empty());
}

TEST_F(SchedulerTest, SpringForwardRunsOnceAtTheChange) {
  // 02:30 does not happen on 2026-03-29 in Berlin: the run is at the change,
  // 03:00 CEST (01:00 UTC), once.
  FakeClock clock(Utc("2026-03-28 11:00:00"));
  FakeSleeper sleeper(clock, Utc("2026-03-30 10:00:00"));
  FakeStarter starter(clock);
  Scheduler scheduler(JobFile{{MakeJob("web", "02:30")}}, {}, clock, sleeper, starter, Options());
  scheduler.Run();
  EXPECT_EQ(Times(starter),
            (std::vector<std::string>{"2026-03-29 03:00:00 +0200", "2026-03-30 02:30:00 +0200"}));
  EXPECT_EQ(starter.started[0].at, Utc("2026-03-29 01:00:00"));
}

TEST_F(SchedulerTest, FallBackRunsOnceAtTheFirst0230) {
  // 02:30 happens twice on 2026-10-25 in Berlin: the run is at the first,
  // 02:30 CEST (00:30 UTC), and not again an hour later.
  FakeClock clock(Utc("2026-10-24 10:00:00"));
  FakeSleeper sleeper(clock, Utc("2026-10-26 10:00:00"));
  FakeStarter starter(clock);
  Scheduler scheduler(JobFile{{MakeJob("web", "02:30")}}, {}, clock, sleeper, starter, Options());
  scheduler.Run();
  EXPECT_EQ(Times(starter),
            (std::vector<std::string>{"2026-10-25 02:30:00 +0200", "2026-10-26 02:30:00 +0100"}));
  EXPECT_EQ(starter.started[0].at, Utc("2026-10-25 00:30:00"));
}

TEST_F(SchedulerTest, RunOnceRunsCatchUpsAndWhatIsDueNowOnly) {
  FakeClock clock(Utc("2026-05-04 00:00:30"));  // 02:00:30 local
  FakeSleeper sleeper(clock, Utc("2026-05-10 00:00:00"));
  FakeStarter starter(clock);
  const LastRuns last{{Task{"late"}, Utc("2026-05-01 00:00:00")},
                      {Task{"skip"}, Utc("2026-05-01 00:00:00")}};
  Scheduler scheduler(JobFile{{MakeJob("late", "03:00", true), MakeJob("skip", "03:00", false),
                               MakeJob("now", "02:00"), MakeJob("later", "04:00")}},
                      last, clock, sleeper, starter, Options());
  const OnceSummary summary = scheduler.RunOnce();
  std::vector<std::string> order;
  for (const auto& s : starter.started) order.push_back(s.job);
  // "late" catches up, "now" fell due 30 s ago; "skip" missed without
  // catch-up, "later" is not due.
  EXPECT_EQ(order, (std::vector<std::string>{"late", "now"}));
  EXPECT_EQ(summary.runs, 2u);
  EXPECT_EQ(summary.failures, 0u);
  EXPECT_EQ(clock.Now(), Utc("2026-05-04 00:00:30"));  // no waiting

  // Run again at once: nothing is due any more.
  starter.started.clear();
  EXPECT_EQ(scheduler.RunOnce().runs, 0u);
  EXPECT_TRUE(starter.started.empty());
}

TEST_F(SchedulerTest, ReloadKeepsTheOldJobsWhenTheFileIsBad) {
  FakeClock clock(Utc("2026-05-01 10:00:00"));
  FakeSleeper sleeper(clock, Utc("2026-05-03 10:00:00"));
  sleeper.At(Utc("2026-05-01 12:00:00"), Wake::kReload);  // a bad file: kept
  sleeper.At(Utc("2026-05-02 12:00:00"), Wake::kReload);  // a good one: db added
  FakeStarter starter(clock);
  int reads = 0;
  SchedulerOptions options = Options();
  options.read_jobs = [&]() -> Result<JobFile> {
    if (reads++ == 0) {
      return Status::InvalidArgument(
          "jobs.toml:3:12: bad schedule\njobs.toml:7:1: unknown key \"pathz\"");
    }
    return JobFile{{MakeJob("web", "02:00"), MakeJob("db", "03:00")}};
  };
  options.read_last_runs = [](const JobFile&) { return LastRuns{}; };
  Scheduler scheduler(JobFile{{MakeJob("web", "02:00")}}, {}, clock, sleeper, starter, options);
  scheduler.Run();
  EXPECT_EQ(reads, 2);
  EXPECT_TRUE(Logged("the jobs file cannot be used; keeping the jobs read before")) << AllLog();
  EXPECT_TRUE(Logged("  jobs.toml:7:1: unknown key \"pathz\"")) << AllLog();
  EXPECT_TRUE(Logged("reloaded the jobs file: 2 schedules")) << AllLog();
  std::vector<std::string> order;
  for (const auto& s : starter.started) order.push_back(s.job + " " + Local(s.at));
  EXPECT_EQ(order, (std::vector<std::string>{"web 2026-05-02 02:00:00 +0200",
                                             "web 2026-05-03 02:00:00 +0200",
                                             "db 2026-05-03 03:00:00 +0200"}));
}

TEST_F(SchedulerTest, AStopEndsTheLoopBeforeTheNextRun) {
  FakeClock clock(Utc("2026-05-01 10:00:00"));
  FakeSleeper sleeper(clock, Utc("2026-05-10 10:00:00"));
  sleeper.At(Utc("2026-05-02 01:00:00"), Wake::kStop);
  FakeStarter starter(clock);
  Scheduler scheduler(JobFile{{MakeJob("web", "02:00"), MakeJob("manual", "")}}, {}, clock, sleeper,
                      starter, Options());
  scheduler.Run();
  EXPECT_EQ(Times(starter), (std::vector<std::string>{"2026-05-02 02:00:00 +0200"}));
  EXPECT_EQ(clock.Now(), Utc("2026-05-02 01:00:00"));
  EXPECT_TRUE(Logged("started: 1 schedule")) << AllLog();  // "manual" has no schedule
}

}  // namespace
}  // namespace coffer::jobs
