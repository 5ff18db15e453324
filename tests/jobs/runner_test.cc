// The runner without a repository: hooks (timeouts kill the whole process
// group, the environment they get), the job's lock, the order of the steps
// and what each failure makes of the run, the record of runs and its damage.
// The repository steps are a stand-in that records what it was asked.
#include "jobs/runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "jobs/process.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::jobs {
namespace {

using namespace std::chrono_literals;
using testing::ReadFile;
using testing::WriteFile;

class StandInSteps : public RepositorySteps {
 public:
  Result<BackupDone> Backup(const Job&, const std::string& group, RunLog& log) override {
    calls.push_back("backup " + group);
    log.Line("stand-in backup");
    if (!backup_status.ok()) return backup_status;
    BackupDone done = backup;
    if (done.groups.empty()) done.groups = {group};
    return done;
  }
  Result<RetentionDone> Prune(const Job&, const std::vector<std::string>& groups,
                              RunLog&) override {
    calls.push_back("prune " + groups.at(0));
    return RetentionDone{1, 2};
  }
  Status CollectGarbage(const Job&, RunLog&) override {
    calls.push_back("gc");
    return Status::Ok();
  }
  Result<CheckDone> Verify(const Job&, const std::string& group, RunLog& log) override {
    calls.push_back("verify " + group);
    log.Line("stand-in verify");
    if (!check_status.ok()) return check_status;
    return check;
  }
  Result<CheckDone> RestoreTest(const Job&, const std::string& group, RunLog&) override {
    calls.push_back("restore-test " + group);
    if (!check_status.ok()) return check_status;
    return check;
  }

  std::vector<std::string> calls;
  Status backup_status;
  BackupDone backup{"host/test/2024-05-06T02:00:00Z", {}, 1234, 0};
  Status check_status;
  CheckDone check{3, 4096, "", ""};
};

std::vector<std::string> Shell(const std::string& script) {
  return {"/bin/sh", "-c", script};
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    job_.name = "web";
    job_.repository = "/srv/backup";
    job_.paths = {"/etc"};
    context_.state_dir = tmp_.path() + "/state";
    context_.steps = &steps_;
    context_.default_group = "host/test";
    context_.hook_kill_grace = 2s;
  }

  std::string Log(const RunRecord& record) {
    return ReadFile(context_.state_dir.string() + "/jobs/" + record.log);
  }

  testing::TempDir tmp_;
  Job job_;
  StandInSteps steps_;
  RunContext context_;
};

TEST_F(RunnerTest, SuccessRunsEveryStepInOrderAndRecordsTheRun) {
  job_.pre_hook = Shell("echo pre says $COFFER_PHASE $COFFER_JOB $COFFER_GROUP");
  job_.post_hook = Shell("echo post says $COFFER_RESULT $COFFER_SNAPSHOT");
  job_.keep.keep_last = 2;
  job_.gc = true;
  const FakeClock clock(TimePoint(1714960800s));  // 2024-05-06T02:00:00Z
  context_.clock = &clock;
  RunRecord record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kSuccess) << record.reason;
  EXPECT_EQ(steps_.calls, (std::vector<std::string>{"backup host/test", "prune host/test", "gc"}));
  EXPECT_EQ(record.snapshot, "host/test/2024-05-06T02:00:00Z");
  EXPECT_EQ(record.bytes_added, 1234u);
  EXPECT_EQ(record.log, "web/2024-05-06T020000Z.log");
  const std::string log = Log(record);
  EXPECT_NE(log.find("pre says pre web host/test"), std::string::npos) << log;
  EXPECT_NE(log.find("post says success host/test/2024-05-06T02:00:00Z"), std::string::npos) << log;
  EXPECT_FALSE(record.log_tail.empty());
  EXPECT_NE(record.log_tail.back().find("job web: success"), std::string::npos);

  auto history = ReadRunRecords(RunRecordPath(context_.state_dir, "web"));
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->runs.size(), 1u);
  EXPECT_EQ(history->runs[0].snapshot, record.snapshot);
  EXPECT_EQ(history->runs[0].start, clock.Now());
  EXPECT_TRUE(history->warnings.empty());
}

TEST_F(RunnerTest, FailingPreHookStoresNothingAndStillRunsThePostHook) {
  job_.pre_hook = Shell("echo cannot dump the database >&2; exit 3");
  job_.post_hook = Shell("echo post result=$COFFER_RESULT");
  job_.keep.keep_last = 2;
  RunRecord record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kFailure);
  EXPECT_EQ(record.step, "pre-hook");
  EXPECT_NE(record.reason.find("exited with status 3"), std::string::npos) << record.reason;
  EXPECT_TRUE(steps_.calls.empty());
  EXPECT_TRUE(record.snapshot.empty());
  const std::string log = Log(record);
  EXPECT_NE(log.find("cannot dump the database"), std::string::npos) << log;
  EXPECT_NE(log.find("post result=failure"), std::string::npos) << log;
}

TEST_F(RunnerTest, FailingPostHookIsAWarningAndTheSnapshotStays) {
  job_.post_hook = Shell("exit 1");
  job_.keep.keep_last = 1;
  RunRecord record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kWarning);
  EXPECT_EQ(record.step, "post-hook");
  EXPECT_EQ(record.snapshot, "host/test/2024-05-06T02:00:00Z");
  EXPECT_EQ(steps_.calls, (std::vector<std::string>{"backup host/test", "prune host/test"}));
}

TEST_F(RunnerTest, FailedBackupFailsTheRunAndSkipsRetention) {
  steps_.backup_status = Status::Unauthenticated("wrong passphrase");
  job_.keep.keep_last = 1;
  RunRecord record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kFailure);
  EXPECT_EQ(record.step, "backup");
  EXPECT_NE(record.reason.find("wrong passphrase"), std::string::npos);
  EXPECT_EQ(steps_.calls, (std::vector<std::string>{"backup host/test"}));
}

TEST_F(RunnerTest, IncompleteBackupIsAWarningAndSkipsRetention) {
  steps_.backup.unreadable = 2;
  job_.keep.keep_last = 1;
  RunRecord record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kWarning);
  EXPECT_EQ(record.step, "backup");
  EXPECT_EQ(steps_.calls, (std::vector<std::string>{"backup host/test"}));
}

TEST_F(RunnerTest, HooksDoNotSeeTheSecrets) {
  setenv("COFFER_PASSPHRASE", "secret", 1);
  setenv("COFFER_TOKEN_FILE", "/secret/token", 1);
  job_.pre_hook = Shell("echo passphrase=[$COFFER_PASSPHRASE] token=[$COFFER_TOKEN_FILE]");
  RunRecord record = RunJob(job_, context_);
  unsetenv("COFFER_PASSPHRASE");
  unsetenv("COFFER_TOKEN_FILE");
  EXPECT_NE(Log(record).find("passphrase=[] token=[]"), std::string::npos) << Log(record);
}

TEST_F(RunnerTest, OnlyTheNewestLogsAreKept) {
  context_.logs_kept = 2;
  const FakeClock clock(TimePoint(1714960800s));
  context_.clock = &clock;
  std::vector<std::string> logs;
  for (int i = 0; i < 3; ++i) logs.push_back(RunJob(job_, context_).log);  // all in one second
  EXPECT_EQ(logs,
            (std::vector<std::string>{"web/2024-05-06T020000Z.log", "web/2024-05-06T020000Z-2.log",
                                      "web/2024-05-06T020000Z-3.log"}));
  const std::string folder = context_.state_dir.string() + "/jobs/";
  EXPECT_NE(access((folder + logs[0]).c_str(), F_OK), 0);
  EXPECT_EQ(access((folder + logs[1]).c_str(), F_OK), 0);
  EXPECT_EQ(access((folder + logs[2]).c_str(), F_OK), 0);
}

// The first run waits in its pre-hook on a FIFO the test holds; meanwhile a
// second run of the same job must fail at once, and one of another job run.
TEST_F(RunnerTest, SecondRunOfTheSameJobFailsWhileTheFirstRuns) {
  const std::string started = tmp_ / "started", release = tmp_ / "release";
  ASSERT_EQ(mkfifo(started.c_str(), 0600), 0);
  ASSERT_EQ(mkfifo(release.c_str(), 0600), 0);
  Job first = job_;
  first.pre_hook = Shell("echo x > '" + started + "'; read line < '" + release + "'");
  StandInSteps first_steps;
  RunContext first_context = context_;
  first_context.steps = &first_steps;
  RunRecord first_record;
  std::thread running([&] { first_record = RunJob(first, first_context); });

  std::ifstream(started).get();  // returns once the hook has opened it: the lock is held
  RunRecord second = RunJob(job_, context_);
  EXPECT_TRUE(second.already_running);
  EXPECT_EQ(second.outcome, Outcome::kFailure);
  EXPECT_NE(second.reason.find("job web is already running (pid"), std::string::npos)
      << second.reason;
  EXPECT_TRUE(steps_.calls.empty());

  Job other = job_;
  other.name = "db";
  EXPECT_EQ(RunJob(other, context_).outcome, Outcome::kSuccess);

  std::ofstream(release) << "go\n";
  running.join();
  EXPECT_EQ(first_record.outcome, Outcome::kSuccess) << first_record.reason;
  auto history = ReadRunRecords(RunRecordPath(context_.state_dir, "web"));
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->runs.size(), 1u);  // the refused start is not a run
}

TEST_F(RunnerTest, LockHeldElsewhereRefusesTheRun) {
  auto held = JobLock::Acquire(context_.state_dir, "web", /*wait=*/false);
  ASSERT_TRUE(held.ok());
  auto again = JobLock::Acquire(context_.state_dir, "web", /*wait=*/false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kBusy);
  EXPECT_TRUE(RunJob(job_, context_).already_running);
}

// A hook whose child runs on: when the timeout passes, the hook and the
// child are killed. This process is made the children's subreaper, so the
// orphaned `sleep` is reaped here: waitpid says how it ended, no waiting.
class HookTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0); }
  void TearDown() override { prctl(PR_SET_CHILD_SUBREAPER, 0); }

  // The pid the hook wrote, once it is dead: killed by a signal (reaped
  // here) or reaped by its shell before that died (then ECHILD).
  void ExpectGone(const std::string& pid_file) {
    const pid_t pid = std::stoi(ReadFile(pid_file));
    int status = 0;
    const pid_t reaped = waitpid(pid, &status, 0);
    if (reaped == pid) {
      EXPECT_TRUE(WIFSIGNALED(status)) << "the hook's child exited on its own";
    } else {
      EXPECT_EQ(errno, ECHILD);
    }
    EXPECT_NE(kill(pid, 0), 0);
  }

  testing::TempDir tmp_;
};

TEST_F(HookTest, TimeoutKillsTheHookAndItsChildren) {
  const std::string pid_file = tmp_ / "child.pid";
  const std::string log_path = tmp_ / "log";
  UniqueFd log(open(log_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  Status status = RunHook(Shell("sleep 1000 & echo $! > '" + pid_file + "'; wait"),
                          ChildEnvironment({}), log.get(), HookLimits{300ms, 5s});
  EXPECT_EQ(status.code(), Code::kAborted);
  EXPECT_NE(status.message().find("timed out after 300ms and was killed"), std::string::npos)
      << status.message();
  ExpectGone(pid_file);
}

TEST_F(HookTest, ChildrenIgnoringSigtermAreKilledAfterTheGrace) {
  const std::string pid_file = tmp_ / "child.pid";
  Status status = RunHook(Shell("trap '' TERM; sleep 1000 & echo $! > '" + pid_file + "'; wait"),
                          ChildEnvironment({}), -1, HookLimits{200ms, 200ms});
  EXPECT_EQ(status.code(), Code::kAborted);
  ExpectGone(pid_file);
}

TEST_F(HookTest, ExitStatusAndMissingProgramAreReasons) {
  EXPECT_EQ(RunHook(Shell("exit 0"), ChildEnvironment({}), -1, HookLimits{}).code(), Code::kOk);
  Status failed = RunHook(Shell("exit 7"), ChildEnvironment({}), -1, HookLimits{});
  EXPECT_EQ(failed.message(), "exited with status 7");
  Status missing = RunHook({"/nonexistent/hook"}, ChildEnvironment({}), -1, HookLimits{});
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("cannot run /nonexistent/hook"), std::string::npos)
      << missing.message();
}

// Checks: the same lock, log and record as a backup, but only the check.
TEST_F(RunnerTest, VerifyRunChecksTheGroupAndRecordsItsKind) {
  job_.pre_hook = Shell("echo pre-hook ran");
  job_.post_hook = Shell("echo post-hook ran");
  job_.keep.keep_last = 2;
  job_.gc = true;
  context_.kind = RunKind::kVerify;
  RunRecord record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kSuccess) << record.reason;
  EXPECT_EQ(record.kind, RunKind::kVerify);
  EXPECT_EQ(steps_.calls, (std::vector<std::string>{"verify host/test"}));
  EXPECT_TRUE(record.snapshot.empty());
  const std::string log = Log(record);
  EXPECT_EQ(log.find("hook ran"), std::string::npos) << log;
  EXPECT_NE(log.find("job web (verify) started"), std::string::npos) << log;
  EXPECT_NE(log.find("verify passed: 3 snapshots"), std::string::npos) << log;

  auto history = ReadRunRecords(RunRecordPath(context_.state_dir, "web"));
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->runs.size(), 1u);
  EXPECT_EQ(history->runs[0].kind, RunKind::kVerify);
  EXPECT_EQ(history->runs[0].outcome, Outcome::kSuccess);
}

TEST_F(RunnerTest, DamageFoundByVerifyFailsTheRunWithItAsTheReason) {
  steps_.check.damage = "verify found damage in group host/test: 1 object damaged or missing";
  context_.kind = RunKind::kVerify;
  RunRecord record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kFailure);
  EXPECT_EQ(record.step, "verify");
  EXPECT_EQ(record.reason, steps_.check.damage);
}

TEST_F(RunnerTest, FailingRestoreTestIsAFailureWithTheReason) {
  steps_.check.damage = "restore test failed: host/test/2024-05-06T02:00:00Z: 1 mismatch";
  context_.kind = RunKind::kRestoreTest;
  RunRecord record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kFailure);
  EXPECT_EQ(record.kind, RunKind::kRestoreTest);
  EXPECT_EQ(record.step, "restore-test");
  EXPECT_EQ(record.reason, steps_.check.damage);
  EXPECT_EQ(steps_.calls, (std::vector<std::string>{"restore-test host/test"}));
  auto history = ReadRunRecords(RunRecordPath(context_.state_dir, "web"));
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->runs.size(), 1u);
  EXPECT_EQ(history->runs[0].kind, RunKind::kRestoreTest);
  EXPECT_EQ(history->runs[0].reason, steps_.check.damage);
}

TEST_F(RunnerTest, CheckThatCannotRunFailsAndOneNotNotedWarns) {
  context_.kind = RunKind::kRestoreTest;
  steps_.check_status = Status::NotFound("group host/test has no snapshot to test");
  RunRecord record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kFailure);
  EXPECT_EQ(record.reason, "restore test failed: group host/test has no snapshot to test");

  steps_.check_status = Status::Ok();
  steps_.check.warning = "the outcome could not be noted in the snapshots: disk full";
  record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kWarning);
  EXPECT_EQ(record.step, "restore-test");
  EXPECT_EQ(record.reason, steps_.check.warning);
}

TEST_F(RunnerTest, CheckTakesTheJobsLock) {
  auto held = JobLock::Acquire(context_.state_dir, "web", /*wait=*/false);
  ASSERT_TRUE(held.ok());
  context_.kind = RunKind::kVerify;
  RunRecord record = RunJob(job_, context_);
  EXPECT_TRUE(record.already_running);
  EXPECT_EQ(record.outcome, Outcome::kFailure);
  EXPECT_TRUE(steps_.calls.empty());
}

TEST_F(RunnerTest, StepsWithoutChecksFailTheCheck) {
  struct BackupOnly : RepositorySteps {
    Result<BackupDone> Backup(const Job&, const std::string&, RunLog&) override {
      return BackupDone{};
    }
    Result<RetentionDone> Prune(const Job&, const std::vector<std::string>&, RunLog&) override {
      return RetentionDone{};
    }
    Status CollectGarbage(const Job&, RunLog&) override { return Status::Ok(); }
  } backup_only;
  context_.steps = &backup_only;
  context_.kind = RunKind::kVerify;
  RunRecord record = RunJob(job_, context_);
  EXPECT_EQ(record.outcome, Outcome::kFailure);
  EXPECT_NE(record.reason.find("cannot verify"), std::string::npos) << record.reason;
}

// The record of runs is an on-disk format: damage is skipped, never fatal.
TEST(RunRecordTest, RoundTrip) {
  RunRecord r;
  r.job = "web";
  r.start = TimePoint(1714960800s);
  r.end = TimePoint(1714960812s);
  r.duration = 12345ms;
  r.outcome = Outcome::kWarning;
  r.step = "post-hook";
  r.reason = "post-hook failed: exited with status 1";
  r.snapshot = "host/web1/2024-05-06T02:00:01Z";
  r.bytes_added = 1048576;
  r.log = "web/2024-05-06T020000Z.log";
  const std::string line = FormatRunRecord(r);
  EXPECT_EQ(
      line,
      R"({"v":1,"job":"web","kind":"backup","start":"2024-05-06T02:00:00Z","end":"2024-05-06T02:00:12Z",)"
      R"("duration_s":12.345,"outcome":"warning","step":"post-hook",)"
      R"("reason":"post-hook failed: exited with status 1",)"
      R"("snapshot":"host/web1/2024-05-06T02:00:01Z","bytes_added":1048576,)"
      R"("log":"web/2024-05-06T020000Z.log"})");
  auto back = ParseRunRecord(line);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(FormatRunRecord(*back), line);

  r.kind = RunKind::kRestoreTest;
  back = ParseRunRecord(FormatRunRecord(r));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->kind, RunKind::kRestoreTest);
}

TEST(RunRecordTest, LineWithoutKindIsABackup) {
  // As Coffer wrote them before checks ran as jobs.
  auto old =
      ParseRunRecord(R"({"v":1,"job":"web","start":"2024-05-06T02:00:00Z","outcome":"success"})");
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->kind, RunKind::kBackup);
  auto verify = ParseRunRecord(
      R"({"v":1,"job":"web","kind":"verify","start":"2024-05-06T02:00:00Z","outcome":"failure"})");
  ASSERT_TRUE(verify.ok()) << verify.status().message();
  EXPECT_EQ(verify->kind, RunKind::kVerify);
}

TEST(RunRecordTest, DamagedLinesAreSkippedWithAWarning) {
  testing::TempDir tmp;
  const std::string path = tmp / "web.runs.jsonl";
  RunRecord r;
  r.job = "web";
  r.start = r.end = TimePoint(1714960800s);
  ASSERT_TRUE(AppendRunRecord(path, r).ok());
  std::string text = ReadFile(path);
  const std::string good = text;
  // A garbage line, a line of another version, a line missing its outcome,
  // a line of an unknown kind or with a kind that is not a string, then a
  // last line a crash cut short.
  text += "\x01\x02garbage\xff\n";
  text += R"({"v":2,"job":"web","start":"2024-05-06T02:00:00Z","outcome":"success"})"
          "\n";
  text += R"({"v":1,"job":"web","start":"2024-05-06T02:00:00Z"})"
          "\n";
  text +=
      R"({"v":1,"job":"web","kind":"defrag","start":"2024-05-06T02:00:00Z","outcome":"success"})"
      "\n";
  text += R"({"v":1,"job":"web","kind":7,"start":"2024-05-06T02:00:00Z","outcome":"success"})"
          "\n";
  text += good.substr(0, good.size() / 2);
  WriteFile(path, text);

  auto history = ReadRunRecords(path);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->runs.size(), 1u);
  ASSERT_EQ(history->warnings.size(), 6u);
  EXPECT_NE(history->warnings[0].find("web.runs.jsonl:2: skipped"), std::string::npos)
      << history->warnings[0];
  EXPECT_NE(history->warnings[3].find(":5: skipped: unknown kind \"defrag\""), std::string::npos)
      << history->warnings[3];
  EXPECT_NE(history->warnings[4].find(":6: skipped: \"kind\" is not a string"), std::string::npos)
      << history->warnings[4];
  EXPECT_NE(history->warnings[5].find(":7: skipped"), std::string::npos) << history->warnings[5];

  // The next run's line is not glued to the cut one.
  r.start = TimePoint(1714964400s);
  ASSERT_TRUE(AppendRunRecord(path, r).ok());
  history = ReadRunRecords(path);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->runs.size(), 2u);
  EXPECT_EQ(history->runs[1].start, TimePoint(1714964400s));
  EXPECT_EQ(history->warnings.size(), 6u);
}

TEST(RunRecordTest, NoFileIsNoRuns) {
  auto history = ReadRunRecords("/nonexistent/web.runs.jsonl");
  ASSERT_TRUE(history.ok());
  EXPECT_TRUE(history->runs.empty());
}

}  // namespace
}  // namespace coffer::jobs
