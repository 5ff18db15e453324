// coffer run and coffer jobs against a real repository: each kind of job,
// each way a run ends (success, warning, failure, already running), the
// record of runs as `coffer jobs log` shows it, `jobs check` and `jobs next`,
// a job's checks (`run --verify`, `run --restore-test`).
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include "store/kv/database.h"
#include "tests/e2e/jobs_fixture.h"

namespace coffer::e2e {
namespace {

using testing::ReadFile;
using testing::WriteFile;

class JobsTest : public JobsFixture {
 protected:
  // A paths job `files` of the data folder in host/jobs, with `extra` keys.
  void WriteFilesJob(const std::string& extra = "") {
    WriteJobs("[jobs.files]\npaths = [\"" + data_ + "\"]\ngroup = \"host/jobs\"\n" + extra);
  }
  nlohmann::json LogJson(const std::string& job) {
    Output log = Jobs({"jobs", "log", "--json", job});
    EXPECT_EQ(log.code, 0) << log.all();
    return nlohmann::json::parse(log.out);
  }
  std::string RunLogText(const nlohmann::json& run) {
    return ReadFile(state_ + "/jobs/" + run["log"].get<std::string>());
  }
};

TEST_F(JobsTest, PathsJobMakesASnapshotThatJobsLogShows) {
  WriteFilesJob("exclude = [\"*.tmp\"]\ntags = [\"nightly\"]\n");
  WriteFile(data_ + "/skip.tmp", "not this\n");
  Output run = Jobs({"run", "files"});
  ASSERT_EQ(run.code, 0) << run.all();
  EXPECT_NE(run.out.find("files: success: snapshot host/jobs/"), std::string::npos) << run.out;

  nlohmann::json snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 1u);
  const std::string name = snapshots[0]["name"];
  EXPECT_EQ(name.rfind("host/jobs/", 0), 0u) << name;
  Output listed = Coffer({"ls", name, InSnapshot(data_)});
  EXPECT_NE(listed.out.find("a.txt"), std::string::npos) << listed.all();
  EXPECT_EQ(listed.out.find("skip.tmp"), std::string::npos) << listed.all();

  nlohmann::json log = LogJson("files");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["outcome"], "success");
  EXPECT_EQ(log[0]["snapshot"], name);
  EXPECT_GT(log[0]["bytes_added"].get<uint64_t>(), 0u);
  Output text = Jobs({"jobs", "log"});
  ASSERT_EQ(text.code, 0) << text.all();
  EXPECT_NE(text.out.find(name), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("success"), std::string::npos) << text.out;
}

// One damaged archive in vzdump's dump folder held back every later archive
// of every guest, and the run said nothing was stored though some was.
TEST_F(JobsTest, AnImportJobNamesADamagedArchiveAndImportsTheOthers) {
  const std::string dump = tmp_ / "dump";
  ASSERT_EQ(mkdir(dump.c_str(), 0755), 0);
  const std::string archive = tmp_ / "made-by-gnu-tar.tar";
  std::string out;
  ASSERT_EQ(testing::RunCommand({"tar", "-cf", archive, "-C", data_, "."}, &out), 0) << out;
  const std::string whole = ReadFile(archive);
  const std::string damaged = dump + "/vzdump-lxc-101-2026_12_02-02_00_00.tar";
  WriteFile(dump + "/vzdump-lxc-101-2026_12_01-02_00_00.tar", whole);
  WriteFile(damaged, whole.substr(0, 700));  // cut inside the first member
  WriteFile(dump + "/vzdump-lxc-101-2026_12_03-02_00_00.tar", whole);
  WriteJobs("[jobs.pve]\nimport = \"" + dump + "\"\n");

  Output run = Jobs({"run", "pve"}, {"TZ=UTC"});  // the names' times are local times
  EXPECT_EQ(run.code, 3) << run.all();
  std::vector<std::string> names;
  for (const auto& snapshot : Snapshots()) names.push_back(snapshot["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"ct/101/2026-12-01T02:00:00Z",
                                             "ct/101/2026-12-03T02:00:00Z"}));
  nlohmann::json log = LogJson("pve");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["outcome"], "warning") << log.dump();
  EXPECT_EQ(log[0]["snapshot"], "ct/101/2026-12-03T02:00:00Z") << log.dump();
  const std::string text = RunLogText(log[0]);
  EXPECT_NE(text.find(damaged), std::string::npos) << text;
  EXPECT_EQ(text.find(damaged + ": " + damaged), std::string::npos) << "named twice:\n" << text;
}

TEST_F(JobsTest, FailingPreHookStoresNothingAndSaysWhy) {
  WriteFilesJob("pre-hook = \"echo the database is down >&2; exit 4\"\n");
  Output run = Jobs({"run", "files"});
  EXPECT_EQ(run.code, 1) << run.all();
  EXPECT_NE(run.out.find("pre-hook exited with status 4"), std::string::npos) << run.all();
  EXPECT_NE(run.err.find("the database is down"), std::string::npos) << run.err;  // the log's tail
  EXPECT_EQ(Snapshots().size(), 0u);
  nlohmann::json log = LogJson("files");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["outcome"], "failure");
  EXPECT_EQ(log[0]["step"], "pre-hook");
  EXPECT_NE(RunLogText(log[0]).find("the database is down"), std::string::npos);
}

TEST_F(JobsTest, PreHookPastItsTimeoutIsKilledWithItsChildren) {
  const std::string pid_file = tmp_ / "sleep.pid";
  WriteFilesJob("hook-timeout = \"2s\"\npre-hook = \"sleep 30 & echo $! > '" + pid_file +
                "'; wait\"\n");
  const auto started = std::chrono::steady_clock::now();
  Output run = Jobs({"run", "files"});
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(25));
  EXPECT_EQ(run.code, 1) << run.all();
  EXPECT_NE(run.out.find("pre-hook timed out after 2s and was killed"), std::string::npos)
      << run.all();
  EXPECT_EQ(Snapshots().size(), 0u);
  EXPECT_FALSE(Alive(std::stoi(ReadFile(pid_file))));
}

TEST_F(JobsTest, FailingPostHookIsAWarningAndKeepsTheSnapshot) {
  WriteFilesJob("post-hook = \"echo result=$COFFER_RESULT snapshot=$COFFER_SNAPSHOT; exit 1\"\n");
  Output run = Jobs({"run", "files"});
  EXPECT_EQ(run.code, 3) << run.all();
  EXPECT_NE(run.out.find("files: warning: post-hook exited with status 1"), std::string::npos)
      << run.out;
  nlohmann::json snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 1u);
  nlohmann::json log = LogJson("files");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["outcome"], "warning");
  EXPECT_EQ(log[0]["snapshot"], snapshots[0]["name"]);
  const std::string name = snapshots[0]["name"];
  EXPECT_NE(RunLogText(log[0]).find("result=success snapshot=" + name), std::string::npos);
}

TEST_F(JobsTest, RetentionAfterEachSuccessKeepsTheLastTwo) {
  WriteFilesJob("keep-last = 2\n");
  for (int i = 0; i < 3; ++i) {
    WriteFile(data_ + "/a.txt", "version " + std::to_string(i) + "\n");
    Output run = Jobs({"run", "files"});
    ASSERT_EQ(run.code, 0) << run.all();
  }
  nlohmann::json snapshots = Snapshots();
  EXPECT_EQ(snapshots.size(), 2u);
  nlohmann::json log = LogJson("files");
  ASSERT_EQ(log.size(), 3u);
  // The two newest runs' snapshots are the ones kept.
  std::set<std::string> kept;
  for (const auto& s : snapshots) kept.insert(s["name"].get<std::string>());
  EXPECT_EQ(kept, (std::set<std::string>{log[1]["snapshot"], log[2]["snapshot"]}));
  EXPECT_NE(RunLogText(log[2]).find("removed " + log[0]["snapshot"].get<std::string>()),
            std::string::npos);
}

TEST_F(JobsTest, CommandJobStoresTheCommandsOutput) {
  WriteJobs(
      "[jobs.db]\ncommand = \"printf 'CREATE TABLE app;'\"\nstdin-name = \"app.sql\"\n"
      "group = \"host/db\"\n");
  Output run = Jobs({"run", "db"});
  ASSERT_EQ(run.code, 0) << run.all();
  nlohmann::json snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 1u);
  Output cat = Coffer({"cat", snapshots[0]["name"].get<std::string>(), "app.sql"});
  EXPECT_EQ(cat.code, 0) << cat.all();
  EXPECT_EQ(cat.out, "CREATE TABLE app;");
}

TEST_F(JobsTest, FailingCommandStoresNothing) {
  WriteJobs(
      "[jobs.db]\ncommand = [\"/bin/sh\", \"-c\", \"printf partial; exit 2\"]\ngroup = "
      "\"host/db\"\n");
  Output run = Jobs({"run", "db"});
  EXPECT_EQ(run.code, 1) << run.all();
  EXPECT_NE(run.out.find("exited with status 2"), std::string::npos) << run.all();
  EXPECT_EQ(Snapshots().size(), 0u);
}

TEST_F(JobsTest, SecondStartFailsWhileTheJobRuns) {
  const std::string started = tmp_ / "started", release = tmp_ / "release";
  ASSERT_EQ(mkfifo(started.c_str(), 0600), 0);
  ASSERT_EQ(mkfifo(release.c_str(), 0600), 0);
  WriteFilesJob("pre-hook = \"echo x > '" + started + "'; read line < '" + release + "'\"\n");
  std::vector<std::string> env = PassEnv();
  Child first({COFFER_BINARY, "--jobs", jobs_, "--state-dir", state_, "run", "files"}, env);
  std::ifstream(started).get();  // the first run is in its pre-hook: it holds the lock
  Output second = Jobs({"run", "files"});
  EXPECT_EQ(second.code, 14) << second.all();
  EXPECT_NE(second.out.find("job files is already running"), std::string::npos) << second.all();
  std::ofstream(release) << "go\n";
  Output done = first.Wait();
  EXPECT_EQ(done.code, 0) << done.all();
  EXPECT_EQ(LogJson("files").size(), 1u);
}

TEST_F(JobsTest, UnknownJobAndBadFileExitTwoAndRunNothing) {
  WriteFilesJob();
  Output unknown = Jobs({"run", "nosuch"});
  EXPECT_EQ(unknown.code, 2) << unknown.all();
  EXPECT_NE(unknown.err.find("no job nosuch"), std::string::npos) << unknown.err;
  WriteFile(jobs_, "[jobs.files]\npaths = [\"" + data_ + "\"]\nrepository = \"" + repo_ +
                       "\"\nschedul = \"daily\"\n");
  Output bad = Jobs({"run", "files"});
  EXPECT_EQ(bad.code, 2) << bad.all();
  EXPECT_EQ(Snapshots().size(), 0u);
}

TEST_F(JobsTest, CheckReportsEveryProblemWithFileAndLine) {
  WriteFile(jobs_,
            "[jobs.web]\n"
            "repository = \"" +
                repo_ +
                "\"\n"
                "paths = [\"/etc\"]\n"
                "schedule = \"mon..fry 02:00\"\n"
                "keep-dayly = 7\n"
                "hook-timeout = \"ten minutes\"\n");
  Output check = Jobs({"jobs", "check"});
  EXPECT_EQ(check.code, 2) << check.all();
  EXPECT_NE(check.err.find(jobs_ + ":4:"), std::string::npos) << check.err;
  EXPECT_NE(check.err.find("fry"), std::string::npos) << check.err;
  EXPECT_NE(check.err.find(jobs_ + ":5:"), std::string::npos) << check.err;
  EXPECT_NE(check.err.find(jobs_ + ":6:"), std::string::npos) << check.err;

  WriteFilesJob(
      "schedule = \"daily\"\n\n[jobs.db]\ncommand = \"true\"\nschedule = \"0 2 * * *\"\n");
  Output good = Jobs({"jobs", "check"});
  EXPECT_EQ(good.code, 0) << good.all();
  EXPECT_EQ(good.out, "2 jobs, all valid\n");
}

TEST_F(JobsTest, NextShowsRunsInLocalTime) {
  WriteFilesJob(
      "schedule = \"mon..fri 02:00\"\nrandom-delay = \"10m\"\n\n"
      "[jobs.manual]\npaths = [\"/etc\"]\n");
  const std::vector<std::string> berlin = {"TZ=Europe/Berlin"};
  // Friday 2024-05-03 14:00 in Berlin: next Monday and Tuesday, summer time.
  Output next = Jobs({"jobs", "next", "--from", "2024-05-03T12:00:00Z", "--count", "2"}, berlin);
  ASSERT_EQ(next.code, 0) << next.all();
  EXPECT_NE(
      next.out.find("files   Mon 2024-05-06 02:00:00 CEST  mon..fri 02:00 (+ up to 10m at random)"),
      std::string::npos)
      << next.out;
  EXPECT_NE(next.out.find("files   Tue 2024-05-07 02:00:00 CEST"), std::string::npos) << next.out;
  EXPECT_NE(next.out.find("manual  no schedule"), std::string::npos) << next.out;

  Output json = Jobs({"jobs", "next", "--json", "--from", "2024-10-25T12:00:00Z", "files"}, berlin);
  ASSERT_EQ(json.code, 0) << json.all();
  nlohmann::json list = nlohmann::json::parse(json.out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["next"], nlohmann::json::array({"2024-10-28T02:00:00+01:00"}));  // winter time
}

TEST_F(JobsTest, DamagedRecordLinesAreSkippedWithAWarning) {
  WriteFilesJob();
  ASSERT_EQ(Jobs({"run", "files"}).code, 0);
  const std::string record = state_ + "/jobs/files.runs.jsonl";
  std::string text = ReadFile(record);
  WriteFile(record, "garbage\n" + text + text.substr(0, text.size() / 2));
  Output log = Jobs({"jobs", "log", "files"});
  EXPECT_EQ(log.code, 0) << log.all();
  EXPECT_NE(log.err.find("files.runs.jsonl:1: skipped"), std::string::npos) << log.err;
  EXPECT_NE(log.err.find("files.runs.jsonl:3: skipped"), std::string::npos) << log.err;
  EXPECT_NE(log.out.find("success"), std::string::npos) << log.out;
  // The next run is recorded readably after the cut line.
  ASSERT_EQ(Jobs({"run", "files"}).code, 0);
  EXPECT_EQ(LogJson("files").size(), 2u);
}

TEST_F(JobsTest, FailureSendsTheNoticeWithTheLastSuccessAndSuccessSendsNone) {
  const std::string notice = tmp_ / "notice.json";
  WriteFilesJob("notify-command = [\"/bin/sh\", \"-c\", \"cat > " + notice + "\"]\n");
  ASSERT_EQ(Jobs({"run", "files"}).code, 0);
  EXPECT_FALSE(std::filesystem::exists(notice)) << "notify-on is failure only by default";

  WriteFilesJob("notify-command = [\"/bin/sh\", \"-c\", \"cat > " + notice + "\"]\n" +
                "pre-hook = \"echo the database is down >&2; exit 4\"\n");
  Output run = Jobs({"run", "files"});
  ASSERT_EQ(run.code, 1) << run.all();
  nlohmann::json sent = nlohmann::json::parse(ReadFile(notice));
  EXPECT_EQ(sent["job"], "files");
  EXPECT_EQ(sent["outcome"], "failure");
  EXPECT_NE(sent["reason"].get<std::string>().find("pre-hook exited with status 4"),
            std::string::npos)
      << sent.dump();
  EXPECT_TRUE(sent["last_success"].is_string()) << sent.dump();  // the first run's
  EXPECT_NE(sent["log_tail"].dump().find("the database is down"), std::string::npos) << sent.dump();
}

TEST_F(JobsTest, ANoticeThatCannotBeDeliveredChangesNothing) {
  WriteFilesJob("notify-on = [\"success\"]\nnotify-command = \"exit 7\"\n");
  Output run = Jobs({"run", "files"});
  EXPECT_EQ(run.code, 0) << run.all();  // the job's own result
  EXPECT_NE(run.err.find("not delivered"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("coffer: coffer:"), std::string::npos) << run.err;
  EXPECT_EQ(Snapshots().size(), 1u);
}

TEST_F(JobsTest, SystemdWritesUnitsThatSystemdAccepts) {
  WriteFilesJob("schedule = \"mon..fri 02:00\"\ncatch-up = true\nrandom-delay = \"10m\"\n");
  const std::string units = tmp_ / "units";
  ASSERT_EQ(mkdir(units.c_str(), 0755), 0);
  Output written = Jobs({"jobs", "systemd", "--dir", units});
  ASSERT_EQ(written.code, 0) << written.all();
  EXPECT_NE(
      written.out.find("systemctl daemon-reload && systemctl enable --now coffer-job-files.timer"),
      std::string::npos)
      << written.out;
  const std::string timer = ReadFile(units + "/coffer-job-files.timer");
  EXPECT_NE(timer.find("OnCalendar=Mon..Fri *-*-* 02:00:00\n"), std::string::npos) << timer;
  EXPECT_NE(timer.find("Persistent=true\n"), std::string::npos) << timer;
  const std::string service = ReadFile(units + "/coffer-job-files.service");
  EXPECT_NE(service.find(" --jobs " + jobs_ + " --state-dir " + state_ + " run files\n"),
            std::string::npos)
      << service;
  if (system("command -v systemd-analyze >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "systemd-analyze is not installed: the units are not verified";
  }
  Output verified =
      RunProcess({"systemd-analyze", "verify", "--man=no", units + "/coffer-job-files.service",
                  units + "/coffer-job-files.timer"});
  EXPECT_EQ(verified.code, 0) << verified.all();

  // A job gone from the file takes its units with it.
  WriteFilesJob();
  written = Jobs({"jobs", "systemd", "--dir", units});
  ASSERT_EQ(written.code, 0) << written.all();
  EXPECT_FALSE(std::filesystem::exists(units + "/coffer-job-files.timer"));
}

// A job's checks: run under its lock, recorded, noted in the snapshots.
TEST_F(JobsTest, VerifyRunOfACleanRepositorySucceedsAndIsNotedInTheSnapshots) {
  WriteFilesJob();
  ASSERT_EQ(Jobs({"run", "files"}).code, 0);
  WriteFile(data_ + "/b.txt", "beta\n");
  ASSERT_EQ(Jobs({"run", "files"}).code, 0);
  Output run = Jobs({"run", "files", "--verify"});
  ASSERT_EQ(run.code, 0) << run.all();
  EXPECT_NE(run.out.find("files verify: success"), std::string::npos) << run.out;
  // Every snapshot of the group, not only the latest.
  nlohmann::json snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 2u);
  for (const auto& snapshot : snapshots) {
    Output info = Coffer({"info", snapshot["name"].get<std::string>()});
    ASSERT_EQ(info.code, 0) << info.all();
    EXPECT_TRUE(std::regex_search(info.out, std::regex("verified +\\S+ ok\n"))) << info.out;
  }
  nlohmann::json log = LogJson("files");
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[2]["kind"], "verify");
  EXPECT_EQ(log[2]["outcome"], "success");
  EXPECT_EQ(log[0]["kind"], "backup");
  EXPECT_NE(RunLogText(log[2]).find("verifying 2 snapshots of group host/jobs"), std::string::npos);
  Output text = Jobs({"jobs", "log"});
  EXPECT_NE(text.out.find("files verify"), std::string::npos) << text.out;
}

TEST_F(JobsTest, RestoreTestRunSucceedsAndIsRecorded) {
  WriteFilesJob();
  ASSERT_EQ(Jobs({"run", "files"}).code, 0);
  Output run = Jobs({"run", "files", "--restore-test", "--json"}, {"TMPDIR=" + tmp_.path()});
  ASSERT_EQ(run.code, 0) << run.all();
  nlohmann::json summary = nlohmann::json::parse(run.out);
  EXPECT_EQ(summary["kind"], "restore-test");
  EXPECT_EQ(summary["outcome"], "success");
  nlohmann::json log = LogJson("files");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["kind"], "restore-test");
  EXPECT_EQ(log[1]["outcome"], "success");
  const std::string name = Snapshots()[0]["name"];
  Output info = Coffer({"info", name});
  EXPECT_TRUE(std::regex_search(info.out, std::regex("tested +\\S+ ok: 1 files restored")))
      << info.out;
  EXPECT_NE(RunLogText(log[1]).find("restore test of " + name), std::string::npos);
}

TEST_F(JobsTest, RestoreTestTakesTheJobsSampleSize) {
  for (int i = 0; i < 12; ++i)
    WriteFile(data_ + "/sample-" + std::to_string(i), std::string(100 + i, 'x'));
  WriteFilesJob("restore-test-files = 3\n");
  ASSERT_EQ(Jobs({"run", "files"}).code, 0);
  Output run = Jobs({"run", "files", "--restore-test"}, {"TMPDIR=" + tmp_.path()});
  ASSERT_EQ(run.code, 0) << run.all();
  const std::string name = Snapshots()[0]["name"];
  Output info = Coffer({"info", name});
  EXPECT_TRUE(std::regex_search(info.out, std::regex("tested +\\S+ ok: 3 files restored")))
      << info.out;
}

TEST_F(JobsTest, CheckWithoutASnapshotFails) {
  WriteFilesJob();
  Output run = Jobs({"run", "files", "--restore-test"});
  EXPECT_EQ(run.code, 1) << run.all();
  EXPECT_NE(run.out.find("no snapshot to test"), std::string::npos) << run.all();
}

TEST_F(JobsTest, DamagedChunkFailsTheVerifyRunAndSendsTheNotice) {
  const std::string notice = tmp_ / "notice.json";
  WriteFilesJob("notify-command = [\"/bin/sh\", \"-c\", \"cat > " + notice + "\"]\n");
  ASSERT_EQ(Jobs({"run", "files"}).code, 0);
  ChangeStoppedDatabase(repo_, [](kv::Database& db) {
    std::vector<std::pair<std::string, Bytes>> chunks;
    ASSERT_TRUE(db.Scan(kv::Column::kChunks, "", [&](std::string_view key, ByteView value) {
                    chunks.emplace_back(std::string(key), Bytes(value.begin(), value.end()));
                    return true;
                  }).ok());
    ASSERT_FALSE(chunks.empty());
    for (auto& [key, value] : chunks) {
      value[value.size() / 2] ^= 0x10;
      ASSERT_TRUE(db.Put(kv::Column::kChunks, key, value, kv::Durability::kSynced).ok());
    }
  });
  Output run = Jobs({"run", "files", "--verify"});
  EXPECT_EQ(run.code, 1) << run.all();
  EXPECT_NE(run.out.find("files verify: failure: verify found damage in group host/jobs"),
            std::string::npos)
      << run.all();
  EXPECT_NE(run.out.find("damaged chunk"), std::string::npos) << run.all();
  nlohmann::json log = LogJson("files");
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1]["kind"], "verify");
  EXPECT_EQ(log[1]["outcome"], "failure");
  EXPECT_EQ(log[1]["step"], "verify");
  nlohmann::json sent = nlohmann::json::parse(ReadFile(notice));
  EXPECT_EQ(sent["outcome"], "failure");
  EXPECT_NE(sent["reason"].get<std::string>().find("damaged chunk"), std::string::npos)
      << sent.dump();
  // The backup's success is not a verify's: this was the first verify.
  EXPECT_TRUE(sent["last_success"].is_null()) << sent.dump();
  // Noted in the snapshot as `coffer verify` notes it.
  Output info = Coffer({"info", Snapshots()[0]["name"].get<std::string>()});
  EXPECT_NE(info.out.find("DAMAGED"), std::string::npos) << info.all();
}

TEST_F(JobsTest, SystemdWritesTheVerifyAndRestoreTestUnits) {
  WriteFilesJob("schedule = \"daily\"\nverify = \"weekly\"\nrestore-test = \"quarterly\"\n");
  const std::string units = tmp_ / "units";
  ASSERT_EQ(mkdir(units.c_str(), 0755), 0);
  Output written = Jobs({"jobs", "systemd", "--dir", units});
  ASSERT_EQ(written.code, 0) << written.all();
  EXPECT_EQ(written.err.find("no timer"), std::string::npos) << written.err;
  for (const std::string unit : {"coffer-job-files-verify", "coffer-job-files-restore-test"}) {
    EXPECT_TRUE(std::filesystem::exists(units + "/" + unit + ".timer")) << unit;
    EXPECT_NE(written.out.find(unit + ".timer"), std::string::npos) << written.out;
  }
  EXPECT_NE(ReadFile(units + "/coffer-job-files-verify.service").find(" run files --verify\n"),
            std::string::npos);
  EXPECT_NE(ReadFile(units + "/coffer-job-files-restore-test.service")
                .find(" run files --restore-test\n"),
            std::string::npos);
  if (system("command -v systemd-analyze >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "systemd-analyze is not installed: the units are not verified";
  }
  Output verified = RunProcess(
      {"systemd-analyze", "verify", "--man=no", units + "/coffer-job-files-verify.service",
       units + "/coffer-job-files-verify.timer", units + "/coffer-job-files-restore-test.service",
       units + "/coffer-job-files-restore-test.timer"});
  EXPECT_EQ(verified.code, 0) << verified.all();
}

}  // namespace
}  // namespace coffer::e2e
