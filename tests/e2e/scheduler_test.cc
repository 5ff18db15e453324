// coffer scheduler against a real repository: --once catches up a job whose
// last run (in the record of runs) is days old, and the daemon stops
// promptly on SIGTERM.
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <chrono>

#include <gtest/gtest.h>

#include "jobs/local_time.h"
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
  nlohmann::json log = nlohmann::json::parse(CofferRaw(Argv({"jobs", "log", "--json", "files"})).out);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["outcome"], "success");

  // Nothing is due any more.
  Output again = CofferRaw(Argv({"scheduler", "--once"}), PassEnv());
  ASSERT_EQ(again.code, 0) << again.all();
  EXPECT_NE(again.err.find("nothing is due"), std::string::npos) << again.err;
  EXPECT_EQ(Snapshots().size(), 1u);
}

TEST_F(SchedulerTest, SigtermStopsTheDaemonPromptly) {
  WriteFilesJob("schedule = \"*-01-01 00:00\"\n");  // not due for months, usually
  const std::string err = tmp_ / "scheduler.err";
  std::string command = "exec '" + std::string(COFFER_BINARY) + "'";
  for (const std::string& arg : Argv({"scheduler"})) command += " '" + arg + "'";
  command += " 2> '" + err + "'";
  Child daemon({"/bin/sh", "-c", command}, PassEnv());
  // Its "next run" line is logged after the handlers are in place.
  ASSERT_TRUE(WaitForFileContaining(err, "files: next run", 20000)) << ReadFile(err);
  const auto sent = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(daemon.pid(), SIGTERM), 0);
  daemon.CloseStdin();
  Output out = daemon.Wait();
  EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(5));
  EXPECT_EQ(out.code, 0) << out.all() << ReadFile(err);
  EXPECT_NE(ReadFile(err).find("stopping"), std::string::npos) << ReadFile(err);
  EXPECT_TRUE(Snapshots().empty());
}

}  // namespace
}  // namespace coffer::e2e
