// coffer status against real jobs files and records of runs: what --json
// says after real runs, the exit status of a stale job, and the --prometheus
// textfile as Prometheus's own parser (python3-prometheus-client) reads it.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "jobs/local_time.h"
#include "jobs/run_record.h"
#include "tests/e2e/jobs_fixture.h"

namespace coffer::e2e {
namespace {

using namespace std::chrono_literals;
using testing::ReadFile;
using testing::WriteFile;

class StatusTest : public JobsFixture {
 protected:
  void SetUp() override {
    JobsFixture::SetUp();
    std::filesystem::create_directories(jobs::JobsStateFolder(state_));
    now_ = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  }
  // A paths job of the data folder, with `extra` keys.
  std::string PathsJob(const std::string& name, const std::string& extra = "") {
    return "[jobs." + name + "]\npaths = [\"" + data_ + "\"]\ngroup = \"host/status\"\n" + extra +
           "\n";
  }
  // Appends a run of `job` that started `ago` before now and took 12.5 s.
  void Record(const std::string& job, std::chrono::seconds ago, jobs::Outcome outcome,
              const std::string& reason = "", uint64_t bytes = 0) {
    jobs::RunRecord run;
    run.job = job;
    run.start = now_ - ago;
    run.end = run.start + 13s;
    run.duration = 12500ms;
    run.outcome = outcome;
    if (outcome != jobs::Outcome::kSuccess) {
      run.step = "backup";
      run.reason = reason;
    }
    if (outcome != jobs::Outcome::kFailure)
      run.snapshot = "host/status/" + jobs::FormatUtc(run.start);
    run.bytes_added = bytes;
    ASSERT_TRUE(jobs::AppendRunRecord(jobs::RunRecordPath(state_, job), run).ok());
  }
  static int64_t Unix(jobs::TimePoint t) { return t.time_since_epoch().count(); }

  jobs::TimePoint now_;
};

nlohmann::json Find(const nlohmann::json& list, const std::string& job) {
  for (const auto& item : list) {
    if (item["job"] == job) return item;
  }
  ADD_FAILURE() << "no job " << job << " in " << list.dump();
  return nlohmann::json::object();
}

TEST_F(StatusTest, JsonShowsTheLastSuccessFailureReasonAndNextRunOfRealRuns) {
  WriteJobs(PathsJob("files", "schedule = \"daily\"\nstale-after = \"36h\"") +
            PathsJob("broken", "pre-hook = \"echo the database is down; exit 4\""));
  Output ok = Jobs({"run", "files"});
  ASSERT_EQ(ok.code, 0) << ok.all();
  Output failed = Jobs({"run", "broken"});
  ASSERT_EQ(failed.code, 1) << failed.all();

  Output status = Jobs({"status", "--json"});
  ASSERT_EQ(status.code, 0) << status.all();
  const nlohmann::json list = nlohmann::json::parse(status.out);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["job"], "files");  // in the jobs file's order

  const nlohmann::json files = Find(list, "files");
  EXPECT_EQ(files["runs"], 1);
  EXPECT_EQ(files["last_run"]["outcome"], "success");
  EXPECT_GT(files["last_run"]["bytes_added"].get<uint64_t>(), 0u);
  EXPECT_EQ(files["last_run"]["snapshot"], Snapshots()[0]["name"]);
  ASSERT_TRUE(files["last_success"].is_string()) << files.dump();
  const auto success = jobs::ParseUtc(files["last_success"].get<std::string>());
  ASSERT_TRUE(success);
  EXPECT_LE(*success - now_, 60s);
  EXPECT_GE(*success, now_ - 1s);
  EXPECT_TRUE(files["last_failure"].is_null());
  EXPECT_EQ(files["stale_after_s"], 36 * 3600);
  EXPECT_EQ(files["stale"], false);
  ASSERT_TRUE(files["next_run"].is_string()) << files.dump();
  const auto next = jobs::ParseUtc(files["next_run"].get<std::string>());
  ASSERT_TRUE(next);
  EXPECT_GT(*next, now_);
  EXPECT_LE(*next - now_, 25h);

  const nlohmann::json broken = Find(list, "broken");
  EXPECT_EQ(broken["last_run"]["outcome"], "failure");
  EXPECT_TRUE(broken["last_success"].is_null());
  EXPECT_EQ(broken["last_failure"]["step"], "pre-hook");
  EXPECT_NE(
      broken["last_failure"]["reason"].get<std::string>().find("pre-hook exited with status 4"),
      std::string::npos)
      << broken.dump();
  EXPECT_TRUE(broken["next_run"].is_null());  // no schedule
  EXPECT_TRUE(broken["stale_after_s"].is_null());
  EXPECT_EQ(broken["stale"], false);

  Output table = Jobs({"status"});
  ASSERT_EQ(table.code, 0) << table.all();
  EXPECT_NE(table.out.find("by hand"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("pre-hook exited with status 4"), std::string::npos) << table.out;
}

TEST_F(StatusTest, ALastSuccessOlderThanStaleAfterExitsFifteen) {
  WriteJobs(PathsJob("old", "schedule = \"daily\"\nstale-after = \"1h\"") +
            PathsJob("fresh", "stale-after = \"1h\""));
  Record("old", 48h, jobs::Outcome::kSuccess, "", 4096);  // ended 47 h 59 min ago
  Record("old", 24h, jobs::Outcome::kFailure, "cannot open the repository");
  Record("fresh", 10min, jobs::Outcome::kSuccess, "", 1);

  Output status = Jobs({"status", "--json"});
  EXPECT_EQ(status.code, 15) << status.all();
  EXPECT_NE(status.err.find("job old is stale: last success 47 hours ago (stale-after 1h)"),
            std::string::npos)
      << status.err;
  const nlohmann::json list = nlohmann::json::parse(status.out);
  const nlohmann::json old = Find(list, "old");
  EXPECT_EQ(old["stale"], true);
  EXPECT_EQ(old["last_success"], jobs::FormatUtc(now_ - 48h + 13s));
  EXPECT_EQ(old["last_failure"]["reason"], "cannot open the repository");
  EXPECT_EQ(old["last_failure"]["end"], jobs::FormatUtc(now_ - 24h + 13s));
  EXPECT_EQ(old["last_run"]["duration_s"], 12.5);
  EXPECT_EQ(Find(list, "fresh")["stale"], false);

  Output table = Jobs({"status"});
  EXPECT_EQ(table.code, 15) << table.all();
  EXPECT_NE(table.out.find("STALE"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("cannot open the repository"), std::string::npos) << table.out;

  Output only_fresh = Jobs({"status", "fresh"});
  EXPECT_EQ(only_fresh.code, 0) << only_fresh.all();
  EXPECT_EQ(only_fresh.out.find("old"), std::string::npos) << only_fresh.out;
}

TEST_F(StatusTest, ANewJobWithStaleAfterIsStaleUntilItsFirstSuccess) {
  WriteJobs(PathsJob("new", "stale-after = \"1d\""));
  Output status = Jobs({"status"});
  EXPECT_EQ(status.code, 15) << status.all();
  EXPECT_NE(status.err.find("job new is stale: never succeeded"), std::string::npos) << status.err;
  EXPECT_NE(status.out.find("never"), std::string::npos) << status.out;
}

TEST_F(StatusTest, BadJobsFileOrUnknownJobExitsTwo) {
  WriteJobs(PathsJob("files"));
  Output unknown = Jobs({"status", "nosuchjob"});
  EXPECT_EQ(unknown.code, 2) << unknown.all();
  WriteFile(jobs_, "[jobs.x]\nschedul = \"daily\"\n");
  Output bad = Jobs({"status"});
  EXPECT_EQ(bad.code, 2) << bad.all();
  EXPECT_NE(bad.err.find(jobs_ + ":2:"), std::string::npos) << bad.err;
}

// The samples of a textfile, one line each, as prometheus_client parses them:
// "TYPE NAME{LABEL=VALUE,...} VALUE", labels sorted, values as Python floats.
const char kParse[] = R"(
import sys
from prometheus_client.parser import text_string_to_metric_families
with open(sys.argv[1]) as f:
    text = f.read()
for family in text_string_to_metric_families(text):
    for s in family.samples:
        labels = ",".join(k + "=" + v for k, v in sorted(s.labels.items()))
        print(family.type, s.name + "{" + labels + "}", repr(s.value))
)";

// Debian's python3, whose modules python3-prometheus-client installs (a
// python3 earlier in PATH, say pyenv's, may not have them).
const char kPython[] = "/usr/bin/python3";

bool HavePrometheusClient() {
  return RunProcess({kPython, "-c", "import prometheus_client.parser"}).code == 0;
}

TEST_F(StatusTest, PrometheusTextfileParsesWithPrometheusClient) {
  if (!HavePrometheusClient()) {
    GTEST_SKIP() << kPython
                 << " cannot import prometheus_client: apt-get install python3-prometheus-client "
                    "(scripts/dev.sh deps) to test the textfile";
  }
  WriteJobs(PathsJob("old", "schedule = \"daily\"\nstale-after = \"1h\"") + PathsJob("never"));
  Record("old", 48h, jobs::Outcome::kSuccess, "", 4096);  // ended 47 h 59 min ago
  Record("old", 24h, jobs::Outcome::kWarning, "post-hook exited with status 1", 512);
  const std::string dir = tmp_ / "textfile";
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  const std::string prom = dir + "/coffer.prom";
  WriteFile(prom, "stale content\n");

  Output status = Jobs({"-q", "status", "--prometheus", prom});
  EXPECT_EQ(status.code, 15) << status.all();
  EXPECT_EQ(status.out, "");  // -q: no table
  struct stat st {};
  ASSERT_EQ(stat(prom.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(FilesBelow(dir), std::vector<std::string>{prom});  // no temporary file left

  const std::string script = tmp_ / "parse.py";
  WriteFile(script, kParse);
  Output parsed = RunProcess({kPython, script, prom});
  ASSERT_EQ(parsed.code, 0) << parsed.all() << "\n" << ReadFile(prom);
  std::set<std::string> samples;
  std::istringstream lines(parsed.out);
  for (std::string line; std::getline(lines, line);) samples.insert(line);

  auto f = [](int64_t v) { return std::to_string(v) + ".0"; };
  const std::set<std::string> want = {
      "gauge coffer_job_last_success_timestamp_seconds{job=old} " + f(Unix(now_ - 48h + 13s)),
      "gauge coffer_job_last_failure_timestamp_seconds{job=old} " + f(Unix(now_ - 24h + 13s)),
      "gauge coffer_job_last_run_timestamp_seconds{job=old} " + f(Unix(now_ - 24h + 13s)),
      "gauge coffer_job_last_run_success{job=old} 0.0",
      "gauge coffer_job_last_run_outcome{job=old,outcome=success} 0.0",
      "gauge coffer_job_last_run_outcome{job=old,outcome=warning} 1.0",
      "gauge coffer_job_last_run_outcome{job=old,outcome=failure} 0.0",
      "gauge coffer_job_last_run_duration_seconds{job=old} 12.5",
      "gauge coffer_job_last_run_bytes_added{job=old} 512.0",
      "gauge coffer_job_stale_after_seconds{job=old} 3600.0",
      "gauge coffer_job_stale{job=old} 1.0",
      "gauge coffer_job_stale{job=never} 0.0",
  };
  for (const std::string& sample : want)
    EXPECT_TRUE(samples.count(sample)) << sample << "\n" << parsed.out;
  // The next run is the only sample not written above; the never-run job has
  // only its stale flag: nothing unknown is written as 0.
  std::vector<std::string> rest;
  for (const std::string& sample : samples) {
    if (!want.count(sample)) rest.push_back(sample);
  }
  ASSERT_EQ(rest.size(), 1u) << parsed.out;
  EXPECT_EQ(rest[0].rfind("gauge coffer_job_next_run_timestamp_seconds{job=old} ", 0), 0u)
      << rest[0];
  const double next = std::stod(rest[0].substr(rest[0].rfind(' ') + 1));
  EXPECT_GT(next, static_cast<double>(Unix(now_)));
  EXPECT_LE(next, static_cast<double>(Unix(now_ + 25h)));
}

TEST_F(StatusTest, PrometheusFileThatCannotBeWrittenExitsOne) {
  WriteJobs(PathsJob("files"));
  Output status = Jobs({"status", "--prometheus", tmp_ / "no/such/folder/coffer.prom"});
  EXPECT_EQ(status.code, 1) << status.all();
  EXPECT_NE(status.err.find("coffer.prom.tmp"), std::string::npos) << status.err;
}

}  // namespace
}  // namespace coffer::e2e
