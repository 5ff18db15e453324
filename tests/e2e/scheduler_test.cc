// coffer scheduler against a real repository: --once catches up a job whose
// last run (in the record of runs) is days old, backup and verify each on
// its own; the daemon reloads its jobs on SIGHUP and stops promptly on
// SIGTERM, with a hook that was running.
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>

#include <gtest/gtest.h>

#include "jobs/local_time.h"
#include "store/base/unique_fd.h"
#include "tests/e2e/jobs_fixture.h"

namespace coffer::e2e {
namespace {

using testing::ReadFile;
using testing::WriteFile;

class SchedulerTest : public JobsFixture {
 protected:
  // A paths job `files` of the data folder in host/jobs, with `extra` keys.
  void WriteFilesJob(const std::string& extra) {
    WriteJobs("[jobs.files]\npaths = [\"" + data_ + "\"]\ngroup = \"host/jobs\"\n" + extra);
  }
  static std::string UtcText(std::chrono::system_clock::time_point t) {
    return jobs::FormatUtc(std::chrono::floor<std::chrono::seconds>(t));
  }
  // Appends a successful run of `kind` that started `days_ago` to the job
  // `files`'s record of runs.
  void RecordRun(const std::string& kind, int days_ago) {
    std::filesystem::create_directories(state_ + "/jobs");
    const std::string when =
        UtcText(std::chrono::system_clock::now() - std::chrono::hours(24 * days_ago));
    std::ofstream(state_ + "/jobs/files.runs.jsonl", std::ios::app)
        << "{\"v\":1,\"job\":\"files\",\"kind\":\"" << kind << "\",\"start\":\"" << when
        << "\",\"end\":\"" << when << "\",\"outcome\":\"success\"}\n";
  }
  // `coffer scheduler ARGS` in the background, its standard error in a file.
  std::unique_ptr<Child> StartScheduler(const std::vector<std::string>& args,
                                        const std::string& err) {
    std::string command = "exec '" + std::string(COFFER_BINARY) + "'";
    for (const std::string& arg : Argv(args)) command += " '" + arg + "'";
    command += " 2> '" + err + "'";
    return std::make_unique<Child>(std::vector<std::string>{"/bin/sh", "-c", command}, PassEnv());
  }
  // Sends SIGTERM to the daemon and checks it ends within 5 s with status 0;
  // returns what it logged.
  std::string StopScheduler(Child& daemon, const std::string& err) {
    const auto sent = std::chrono::steady_clock::now();
    EXPECT_EQ(kill(daemon.pid(), SIGTERM), 0);
    daemon.CloseStdin();
    Output out = daemon.Wait();
    EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(5));
    EXPECT_EQ(out.code, 0) << out.all() << ReadFile(err);
    return ReadFile(err);
  }
};

TEST_F(SchedulerTest, OnceCatchesUpAJobLastRunDaysAgoOnce) {
  WriteFilesJob("schedule = \"daily\"\ncatch-up = true\n");
  ASSERT_EQ(mkdir(state_.c_str(), 0700), 0);
  ASSERT_EQ(mkdir((state_ + "/jobs").c_str(), 0700), 0);
  const std::string record = state_ + "/jobs/files.runs.jsonl";
  const std::string last = UtcText(std::chrono::system_clock::now() - std::chrono::hours(24 * 4));
  WriteFile(record, "{\"v\":1,\"job\":\"files\",\"start\":\"" + last + "\",\"end\":\"" + last +
                        "\",\"outcome\":\"success\"}\n");

  Output once = CofferRaw(Argv({"scheduler", "--once"}), PassEnv());
  ASSERT_EQ(once.code, 0) << once.all();
  EXPECT_NE(once.err.find("files: missed its run of"), std::string::npos) << once.err;
  EXPECT_NE(once.err.find("files: success"), std::string::npos) << once.err;
  EXPECT_NE(once.err.find("files: next run"), std::string::npos) << once.err;
  EXPECT_EQ(Snapshots().size(), 1u);  // once, not once per missed day
  nlohmann::json log =
      nlohmann::json::parse(CofferRaw(Argv({"jobs", "log", "--json", "files"})).out);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["outcome"], "success");

  // Nothing is due any more.
  Output again = CofferRaw(Argv({"scheduler", "--once"}), PassEnv());
  ASSERT_EQ(again.code, 0) << again.all();
  EXPECT_NE(again.err.find("nothing is due"), std::string::npos) << again.err;
  EXPECT_EQ(Snapshots().size(), 1u);
}

TEST_F(SchedulerTest, OnceRunsAVerifyFromItsOwnSchedule) {
  WriteFilesJob("schedule = \"daily\"\nverify = \"weekly\"\ncatch-up = true\n");
  Output backup = CofferRaw(Argv({"run", "files"}), PassEnv());
  ASSERT_EQ(backup.code, 0) << backup.all();
  RecordRun("verify", 10);  // the last verify is ten days old; the backup ran now

  Output once = CofferRaw(Argv({"scheduler", "--once"}), PassEnv());
  ASSERT_EQ(once.code, 0) << once.all();
  EXPECT_NE(once.err.find("files verify: missed its run of"), std::string::npos) << once.err;
  EXPECT_NE(once.err.find("files verify: success"), std::string::npos) << once.err;
  EXPECT_EQ(once.err.find("files: starting"), std::string::npos) << "the backup is not due\n"
                                                                 << once.err;
  EXPECT_EQ(Snapshots().size(), 1u);
  nlohmann::json log =
      nlohmann::json::parse(CofferRaw(Argv({"jobs", "log", "--json", "files"})).out);
  ASSERT_EQ(log.size(), 3u) << log.dump();
  EXPECT_EQ(log[2]["kind"], "verify");
  EXPECT_EQ(log[2]["outcome"], "success");

  Output next = CofferRaw(Argv({"jobs", "next", "files"}));
  ASSERT_EQ(next.code, 0) << next.all();
  EXPECT_NE(next.out.find("files verify  "), std::string::npos) << next.out;
}

TEST_F(SchedulerTest, SighupReadsTheJobsFileAgain) {
  WriteFilesJob("schedule = \"*-01-01 00:00\"\n");
  const std::string err = tmp_ / "scheduler.err";
  auto daemon = StartScheduler({"scheduler"}, err);
  ASSERT_TRUE(testing::WaitUntil([&] { return FileContains(err, "files: next run"); },
                                 std::chrono::seconds(20)))
      << ReadFile(err);
  WriteFilesJob("schedule = \"*-01-01 00:00\"\nverify = \"*-07-01 00:00\"\n");
  ASSERT_EQ(kill(daemon->pid(), SIGHUP), 0);
  ASSERT_TRUE(
      testing::WaitUntil([&] { return FileContains(err, "reloaded the jobs file: 2 schedules"); },
                         std::chrono::seconds(20)))
      << ReadFile(err);
  EXPECT_NE(ReadFile(err).find("files verify: next run"), std::string::npos) << ReadFile(err);
  // A file that no longer parses keeps the jobs it had.
  WriteJobs("[jobs.files]\nschedule = \"every other tuesday\"\n");
  ASSERT_EQ(kill(daemon->pid(), SIGHUP), 0);
  ASSERT_TRUE(testing::WaitUntil([&] { return FileContains(err, "keeping the jobs read before"); },
                                 std::chrono::seconds(20)))
      << ReadFile(err);
  StopScheduler(*daemon, err);
}

TEST_F(SchedulerTest, SigtermDuringAPreHookTakesTheHookDown) {
  const std::string hook_pid = tmp_ / "hook.pid";
  WriteFilesJob("schedule = \"daily\"\ncatch-up = true\npre-hook = \"sleep 300 & echo $! > '" +
                hook_pid + "'; wait\"\n");
  RecordRun("backup", 3);
  const std::string err = tmp_ / "scheduler.err";
  auto daemon = StartScheduler({"scheduler"}, err);
  ASSERT_TRUE(
      testing::WaitUntil([&] { return FileContains(hook_pid, "\n"); }, std::chrono::seconds(20)))
      << ReadFile(err);
  const pid_t sleeper = std::stoi(ReadFile(hook_pid));
  ASSERT_TRUE(Alive(sleeper));
  const std::string log = StopScheduler(*daemon, err);
  EXPECT_NE(log.find("stopped by SIGTERM"), std::string::npos) << log;
  // The hook's own child got the signal too. It is not ours to reap: wait
  // on a pidfd until it ends, or 10 s.
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, sleeper, 0)));
  if (pidfd.valid()) {
    struct pollfd item = {pidfd.get(), POLLIN, 0};
    poll(&item, 1, 10000);
  }
  EXPECT_FALSE(Alive(sleeper)) << "the pre-hook's sleep outlived the run";
  EXPECT_TRUE(Snapshots().empty());
}

TEST_F(SchedulerTest, SigtermStopsTheDaemonPromptly) {
  WriteFilesJob("schedule = \"*-01-01 00:00\"\n");  // not due for months, usually
  const std::string err = tmp_ / "scheduler.err";
  auto daemon = StartScheduler({"scheduler"}, err);
  // Its "next run" line is logged after the handlers are in place.
  ASSERT_TRUE(testing::WaitUntil([&] { return FileContains(err, "files: next run"); },
                                 std::chrono::seconds(20)))
      << ReadFile(err);
  const std::string log = StopScheduler(*daemon, err);
  EXPECT_NE(log.find("stopping"), std::string::npos) << log;
  EXPECT_TRUE(Snapshots().empty());
}

}  // namespace
}  // namespace coffer::e2e
