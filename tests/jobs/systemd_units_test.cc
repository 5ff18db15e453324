// The systemd units of jobs: the example job as golden texts, cron's
// two OnCalendar lines, escaping, refusals, the writer of the folder (atomic,
// 0644, stale units removed only when Coffer wrote them), and systemd itself
// as the judge: `systemd-analyze verify` on the written units and
// `systemd-analyze calendar` on every OnCalendar line (skipped where
// systemd-analyze is not installed).
#include "jobs/systemd_units.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/testing/find_program.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::jobs {
namespace {

using std::chrono::seconds;
using Strings = std::vector<std::string>;

// [jobs.web] of the issue, as the reader gives it.
Job ExampleJob() {
  Job job;
  job.name = "web";
  job.repository = "/srv/backup";
  job.passphrase_file = "/etc/coffer/pass";
  job.paths = {"/etc", "/srv/www"};
  job.exclude = {"*.tmp"};
  job.group = "host/web1";
  job.schedule = "mon..fri 02:00";
  job.catch_up = true;
  job.random_delay = seconds(600);
  job.pre_hook = {"/bin/sh", "-c", "pg_dump app > /var/backups/app.sql"};
  job.hook_timeout = seconds(1800);
  job.restore_test = "quarterly";
  job.stale_after = seconds(36 * 3600);
  return job;
}

SystemdUnitOptions DefaultOptions() {
  SystemdUnitOptions options;
  options.coffer = "/usr/bin/coffer";
  options.jobs_file = "/etc/coffer/jobs.toml";
  options.state_dir = "/var/lib/coffer";
  return options;
}

Strings Names(const std::vector<UnitFile>& units) {
  Strings names;
  for (const auto& unit : units) names.push_back(unit.name);
  return names;
}

// The values of `key` in `text`, in order.
Strings Values(const std::string& text, std::string_view key) {
  Strings values;
  std::istringstream lines(text);
  const std::string prefix = std::string(key) + "=";
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) == 0) values.push_back(line.substr(prefix.size()));
  }
  return values;
}

TEST(SystemdUnitsTest, ExampleJobGolden) {
  auto units = SystemdUnitsFor(ExampleJob(), DefaultOptions());
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  ASSERT_EQ(Names(*units),
            (Strings{"coffer-job-web.service", "coffer-job-web.timer",
                     "coffer-job-web-restore-test.service", "coffer-job-web-restore-test.timer"}));
  EXPECT_EQ(
      (*units)[0].text,
      "# Written by coffer jobs systemd; edits are lost when it runs again.\n"
      "[Unit]\n"
      "Description=coffer backup of job web\n"
      "Documentation=man:coffer(1)\n"
      "\n"
      "[Service]\n"
      "Type=oneshot\n"
      "ExecStart=/usr/bin/coffer --jobs /etc/coffer/jobs.toml --state-dir /var/lib/coffer run web\n"
      "Nice=19\n"
      "CPUSchedulingPolicy=batch\n"
      "IOSchedulingClass=best-effort\n"
      "IOSchedulingPriority=7\n"
      "TimeoutStartSec=infinity\n");
  EXPECT_EQ((*units)[1].text,
            "# Written by coffer jobs systemd; edits are lost when it runs again.\n"
            "[Unit]\n"
            "Description=Schedule of coffer backup of job web\n"
            "Documentation=man:coffer(1)\n"
            "\n"
            "[Timer]\n"
            "OnCalendar=Mon..Fri *-*-* 02:00:00\n"
            "Persistent=true\n"
            "RandomizedDelaySec=10min\n"
            "\n"
            "[Install]\n"
            "WantedBy=timers.target\n");
  EXPECT_EQ(
      (*units)[2].text,
      "# Written by coffer jobs systemd; edits are lost when it runs again.\n"
      "[Unit]\n"
      "Description=coffer restore test of job web\n"
      "Documentation=man:coffer(1)\n"
      "\n"
      "[Service]\n"
      "Type=oneshot\n"
      "ExecStart=/usr/bin/coffer --jobs /etc/coffer/jobs.toml --state-dir /var/lib/coffer run web "
      "--restore-test\n"
      "Nice=19\n"
      "CPUSchedulingPolicy=batch\n"
      "IOSchedulingClass=best-effort\n"
      "IOSchedulingPriority=7\n"
      "TimeoutStartSec=infinity\n");
  EXPECT_EQ((*units)[3].text,
            "# Written by coffer jobs systemd; edits are lost when it runs again.\n"
            "[Unit]\n"
            "Description=Schedule of coffer restore test of job web\n"
            "Documentation=man:coffer(1)\n"
            "\n"
            "[Timer]\n"
            "OnCalendar=*-01,04,07,10-01 00:00:00\n"
            "Persistent=true\n"
            "RandomizedDelaySec=10min\n"
            "\n"
            "[Install]\n"
            "WantedBy=timers.target\n");
}

TEST(SystemdUnitsTest, CronLineWithBothDayFieldsGivesTwoOnCalendarLines) {
  Job job = ExampleJob();
  job.schedule = "0 2 1 * mon";  // the 1st of each month, and every Monday
  job.restore_test.clear();
  auto units = SystemdUnitsFor(job, DefaultOptions());
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  ASSERT_EQ(Names(*units), (Strings{"coffer-job-web.service", "coffer-job-web.timer"}));
  EXPECT_EQ(Values((*units)[1].text, "OnCalendar"),
            (Strings{"*-*-01 02:00:00", "Mon *-*-* 02:00:00"}));
}

TEST(SystemdUnitsTest, SchedulesDecideWhichUnits) {
  Job job = ExampleJob();
  job.schedule.clear();
  job.restore_test.clear();
  auto none = SystemdUnitsFor(job, DefaultOptions());
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());

  job.verify = "weekly";
  auto verify_only = SystemdUnitsFor(job, DefaultOptions());
  ASSERT_TRUE(verify_only.ok()) << verify_only.status().ToString();
  ASSERT_EQ(Names(*verify_only),
            (Strings{"coffer-job-web-verify.service", "coffer-job-web-verify.timer"}));
  EXPECT_EQ(Values((*verify_only)[0].text, "ExecStart"),
            (Strings{"/usr/bin/coffer --jobs /etc/coffer/jobs.toml --state-dir /var/lib/coffer run "
                     "web --verify"}));
  EXPECT_EQ(Values((*verify_only)[1].text, "OnCalendar"), (Strings{"Mon *-*-* 00:00:00"}));

  job.schedule = "daily";
  job.restore_test = "quarterly";
  auto all = SystemdUnitsFor(job, DefaultOptions());
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(Names(*all),
            (Strings{"coffer-job-web.service", "coffer-job-web.timer",
                     "coffer-job-web-verify.service", "coffer-job-web-verify.timer",
                     "coffer-job-web-restore-test.service", "coffer-job-web-restore-test.timer"}));
}

TEST(SystemdUnitsTest, TimerFollowsCatchUpAndRandomDelay) {
  Job job = ExampleJob();
  job.restore_test.clear();
  job.catch_up = false;
  job.random_delay = seconds(0);
  auto plain = SystemdUnitsFor(job, DefaultOptions());
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(Values((*plain)[1].text, "Persistent"), (Strings{"false"}));
  EXPECT_TRUE(Values((*plain)[1].text, "RandomizedDelaySec").empty());

  job.random_delay = seconds(90061);  // 1d 1h 1min 1s
  auto odd = SystemdUnitsFor(job, DefaultOptions());
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(Values((*odd)[1].text, "RandomizedDelaySec"), (Strings{"1d 1h 1min 1s"}));
  job.random_delay = seconds(5400);
  auto hour_and_half = SystemdUnitsFor(job, DefaultOptions());
  ASSERT_TRUE(hour_and_half.ok());
  EXPECT_EQ(Values((*hour_and_half)[1].text, "RandomizedDelaySec"), (Strings{"1h 30min"}));
}

TEST(SystemdUnitsTest, ServerJobWaitsForTheNetworkAndUserIsSet) {
  Job job = ExampleJob();
  job.restore_test.clear();
  job.repository.clear();
  job.server = "tcp://backup.example.org:7480";
  SystemdUnitOptions options = DefaultOptions();
  options.user = "coffer";
  auto units = SystemdUnitsFor(job, options);
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  EXPECT_EQ(Values((*units)[0].text, "Wants"), (Strings{"network-online.target"}));
  EXPECT_EQ(Values((*units)[0].text, "After"), (Strings{"network-online.target"}));
  EXPECT_EQ(Values((*units)[0].text, "User"), (Strings{"coffer"}));

  auto local = SystemdUnitsFor(ExampleJob(), DefaultOptions());
  ASSERT_TRUE(local.ok());
  EXPECT_TRUE(Values((*local)[0].text, "After").empty());
  EXPECT_TRUE(Values((*local)[0].text, "User").empty());
}

TEST(SystemdUnitsTest, EscapesPercentDollarQuotesAndSpaces) {
  SystemdUnitOptions options = DefaultOptions();
  options.coffer = "/opt/my tools/coffer";
  options.jobs_file = "/etc/coffer/100%/jobs$HOME.toml";
  options.state_dir = "/var/lib/co\"ff\\er's";
  auto units = SystemdUnitsFor(ExampleJob(), options);
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  EXPECT_EQ(Values((*units)[0].text, "ExecStart"),
            (Strings{"\"/opt/my tools/coffer\" --jobs \"/etc/coffer/100%%/jobs$$HOME.toml\" "
                     "--state-dir \"/var/lib/co\\\"ff\\\\er's\" run web"}));

  options.state_dir.clear();
  auto no_state = SystemdUnitsFor(ExampleJob(), options);
  ASSERT_TRUE(no_state.ok());
  EXPECT_EQ(
      Values((*no_state)[0].text, "ExecStart"),
      (Strings{"\"/opt/my tools/coffer\" --jobs \"/etc/coffer/100%%/jobs$$HOME.toml\" run web"}));
}

TEST(SystemdUnitsTest, RefusesWhatUnitsCannotSay) {
  const auto refused = [](const Job& job, const SystemdUnitOptions& options) {
    auto units = SystemdUnitsFor(job, options);
    return units.ok()
               ? "accepted"
               : std::string(CodeName(units.status().code())) + ": " + units.status().message();
  };
  SystemdUnitOptions options = DefaultOptions();
  options.coffer = "coffer";
  EXPECT_EQ(refused(ExampleJob(), options),
            "invalid argument: the coffer binary must be an absolute path, not \"coffer\"");
  for (const char* path :
       {"/opt/$bin/coffer", "/opt/'bin'/coffer", "/opt/\"bin\"/coffer", "/opt/b\\in/coffer"}) {
    options.coffer = path;
    EXPECT_EQ(refused(ExampleJob(), options),
              "invalid argument: the coffer binary's path must not hold '$', quotes or '\\' "
              "(systemd does not take them there)")
        << path;
  }
  options = DefaultOptions();
  options.jobs_file = "jobs.toml";
  EXPECT_NE(refused(ExampleJob(), options), "accepted");
  options = DefaultOptions();
  options.state_dir = "/var/lib/cof\nfer";
  EXPECT_EQ(refused(ExampleJob(), options),
            "invalid argument: the state folder must not hold control characters");
  options = DefaultOptions();
  options.user = "%u";
  EXPECT_EQ(refused(ExampleJob(), options),
            "invalid argument: \"%u\" is not a user name systemd accepts");
  options.user = "1000";
  EXPECT_EQ(refused(ExampleJob(), options), "accepted");

  Job job = ExampleJob();
  job.name = "web/../x";
  EXPECT_NE(refused(job, DefaultOptions()), "accepted");
  job.name = "-web";
  EXPECT_NE(refused(job, DefaultOptions()), "accepted");
  job = ExampleJob();
  job.restore_test = "every full moon";
  const std::string message = refused(job, DefaultOptions());
  EXPECT_EQ(message.rfind("invalid argument: job web: restore-test \"every full moon\": ", 0), 0u)
      << message;
}

TEST(SystemdUnitsTest, JobFileUnitsInOrderAndCollisionsRefused) {
  JobFile file;
  file.jobs.push_back(ExampleJob());
  Job db = ExampleJob();
  db.name = "db";
  db.schedule = "0 3 * * *";
  db.restore_test.clear();
  file.jobs.push_back(db);
  Job manual = ExampleJob();
  manual.name = "manual";
  manual.schedule.clear();
  manual.restore_test.clear();
  file.jobs.push_back(manual);
  auto units = SystemdUnitsFor(file, DefaultOptions());
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  EXPECT_EQ(Names(*units),
            (Strings{"coffer-job-web.service", "coffer-job-web.timer",
                     "coffer-job-web-restore-test.service", "coffer-job-web-restore-test.timer",
                     "coffer-job-db.service", "coffer-job-db.timer"}));

  Job clash = ExampleJob();
  clash.name = "web-restore-test";
  clash.restore_test.clear();
  file.jobs.push_back(clash);
  auto refused = SystemdUnitsFor(file, DefaultOptions());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("coffer-job-web-restore-test.service"),
            std::string::npos)
      << refused.status().message();
}

// --- The writer ---

std::string FirstLine(const std::string& path) {
  const std::string text = testing::ReadFile(path);
  return text.substr(0, text.find('\n'));
}

Strings Listing(const std::string& dir) {
  Strings names;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(WriteUnitsTest, AFolderThatIsNotThereIsNamed) {
  testing::TempDir dir;
  auto units = SystemdUnitsFor(ExampleJob(), DefaultOptions());
  ASSERT_TRUE(units.ok());
  const std::string missing = dir / "missing";
  const Status written = WriteUnits(*units, missing);
  EXPECT_EQ(written.message(), missing + ": No such file or directory");
  testing::WriteFile(dir / "a-file", "");
  EXPECT_EQ(WriteUnits(*units, dir / "a-file").message(), (dir / "a-file") + ": Not a directory");
}

TEST(WriteUnitsTest, WritesAtomicallyWithMode0644AndReplacesItsOwn) {
  testing::TempDir dir;
  auto units = SystemdUnitsFor(ExampleJob(), DefaultOptions());
  ASSERT_TRUE(units.ok());
  const mode_t old_umask = umask(077);
  const Status written = WriteUnits(*units, dir.path());
  umask(old_umask);
  ASSERT_TRUE(written.ok()) << written.ToString();
  EXPECT_EQ(Listing(dir.path()),
            (Strings{"coffer-job-web-restore-test.service", "coffer-job-web-restore-test.timer",
                     "coffer-job-web.service", "coffer-job-web.timer"}));
  for (const auto& unit : *units) {
    struct stat st {};
    ASSERT_EQ(stat((dir / unit.name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0644u) << unit.name;
    EXPECT_EQ(testing::ReadFile(dir / unit.name), unit.text);
  }

  // Again, with a changed schedule: replaced in place, no temporary left.
  Job job = ExampleJob();
  job.schedule = "daily";
  auto changed = SystemdUnitsFor(job, DefaultOptions());
  ASSERT_TRUE(changed.ok());
  std::vector<std::string> removed;
  ASSERT_TRUE(WriteUnits(*changed, dir.path(), &removed).ok());
  EXPECT_TRUE(removed.empty());
  EXPECT_EQ(Values(testing::ReadFile(dir / "coffer-job-web.timer"), "OnCalendar"),
            (Strings{"*-*-* 00:00:00"}));
  EXPECT_EQ(Listing(dir.path()).size(), 4u);
}

TEST(WriteUnitsTest, RemovesOnlyStaleUnitsItWrote) {
  testing::TempDir dir;
  JobFile file;
  file.jobs.push_back(ExampleJob());
  Job db = ExampleJob();
  db.name = "db";
  db.restore_test.clear();
  file.jobs.push_back(db);
  auto before = SystemdUnitsFor(file, DefaultOptions());
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(WriteUnits(*before, dir.path()).ok());

  // Files that are not Coffer's, under names it would otherwise clean up.
  const std::string marker(kSystemdUnitMarker);
  testing::WriteFile(dir / "coffer-job-mine.service",
                     "[Unit]\nDescription=my own\n" + marker + "\n");
  testing::WriteFile(dir / "coffer-job-mine.timer",
                     "# " + marker + "\n[Timer]\nOnCalendar=daily\n");
  testing::WriteFile(dir / "other.service", marker + "\n[Unit]\n");
  testing::WriteFile(dir / "coffer-job-old.conf", marker + "\n");
  testing::WriteFile(dir / "marked-target", marker + "\n");
  ASSERT_EQ(symlink("marked-target", (dir / "coffer-job-link.timer").c_str()), 0);
  // And one of Coffer's, for a job that is gone.
  testing::WriteFile(dir / "coffer-job-gone.timer", marker + "\n[Timer]\nOnCalendar=daily\n");

  // The db job loses its schedule, the web job its restore test.
  file.jobs[1].schedule.clear();
  file.jobs[0].restore_test.clear();
  auto after = SystemdUnitsFor(file, DefaultOptions());
  ASSERT_TRUE(after.ok());
  std::vector<std::string> removed;
  const Status status = WriteUnits(*after, dir.path(), &removed);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(removed,
            (Strings{"coffer-job-db.service", "coffer-job-db.timer", "coffer-job-gone.timer",
                     "coffer-job-web-restore-test.service", "coffer-job-web-restore-test.timer"}));
  EXPECT_EQ(Listing(dir.path()),
            (Strings{"coffer-job-link.timer", "coffer-job-mine.service", "coffer-job-mine.timer",
                     "coffer-job-old.conf", "coffer-job-web.service", "coffer-job-web.timer",
                     "marked-target", "other.service"}));
}

TEST(WriteUnitsTest, NeverReplacesAFileItDidNotWrite) {
  testing::TempDir dir;
  testing::WriteFile(dir / "coffer-job-web.timer", "[Timer]\nOnCalendar=hourly\n");
  auto units = SystemdUnitsFor(ExampleJob(), DefaultOptions());
  ASSERT_TRUE(units.ok());
  const Status status = WriteUnits(*units, dir.path());
  EXPECT_EQ(status.code(), Code::kAlreadyExists) << status.ToString();
  EXPECT_NE(status.message().find("coffer-job-web.timer"), std::string::npos) << status.ToString();
  // Nothing was written.
  EXPECT_EQ(Listing(dir.path()), (Strings{"coffer-job-web.timer"}));
  EXPECT_EQ(FirstLine(dir / "coffer-job-web.timer"), "[Timer]");

  const Status bad_name = WriteUnits({{"../evil.service", "x"}}, dir.path());
  EXPECT_EQ(bad_name.code(), Code::kInvalidArgument) << bad_name.ToString();
  const Status missing = WriteUnits(*units, dir / "absent");
  EXPECT_FALSE(missing.ok());
}

// --- systemd as the judge ---

std::string FindSystemdAnalyze() {
  return testing::FindProgram("systemd-analyze");
}

TEST(SystemdAnalyzeTest, VerifyAcceptsTheUnitsOfSeveralJobs) {
  const std::string analyze = FindSystemdAnalyze();
  if (analyze.empty()) GTEST_SKIP() << "systemd-analyze is not installed; systemd is not consulted";
  testing::TempDir dir;
  // The program must exist for verify; put a real executable where quoting
  // and escaping matter: spaces, and "%n", which systemd would expand to the
  // unit's name were it not written "%%n". (Quotes, '\\' and '$' are refused
  // in the program's path; the arguments below have them.)
  const std::string bin = dir / "bin dir 100%n";
  std::filesystem::create_directories(bin);
  ASSERT_EQ(symlink("/bin/true", (bin + "/coffer").c_str()), 0);
  const std::string units_dir = dir / "units";
  std::filesystem::create_directories(units_dir);

  SystemdUnitOptions options;
  options.coffer = bin + "/coffer";
  options.jobs_file = "/etc/coffer/jobs 50% $HOME.toml";
  options.state_dir = "/var/lib/coffer 'single' \"double\" back\\slash";
  options.user = "root";
  JobFile file;
  file.jobs.push_back(ExampleJob());
  Job db = ExampleJob();
  db.name = "db.main_1";
  db.schedule = "*/10 9-17 1,15 * mon-fri";  // cron, both day fields: two lines
  db.catch_up = false;
  db.random_delay = seconds(5400);
  db.verify = "sat *-1..7 15:00";
  db.restore_test.clear();
  db.server = "tcp://backup.example.org:7480";
  file.jobs.push_back(db);
  Job often = ExampleJob();
  often.name = "often";
  often.schedule = "0/15";
  often.restore_test = "*-*~1 23:00";
  file.jobs.push_back(often);
  auto units = SystemdUnitsFor(file, options);
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  ASSERT_EQ(units->size(), 12u);
  ASSERT_TRUE(WriteUnits(*units, units_dir).ok());

  std::vector<std::string> argv = {analyze, "verify", "--man=no"};
  for (const auto& unit : *units) argv.push_back(units_dir + "/" + unit.name);
  std::string out;
  const int code = testing::RunCommand(argv, &out);
  EXPECT_EQ(code, 0) << out;
  // Warnings (an unknown key, a bad escape) do not change the exit code:
  // nothing may be said about these units at all.
  EXPECT_EQ(out.find("coffer-job-"), std::string::npos) << out;
  EXPECT_EQ(out.find(units_dir), std::string::npos) << out;

  // The same path not escaped is noticed, so the check above means something.
  testing::WriteFile(
      units_dir + "/coffer-job-broken.service",
      "[Service]\nType=oneshot\nExecStart=\"" + options.coffer.native() + "\" run x\n");
  const int broken = testing::RunCommand(
      {analyze, "verify", "--man=no", units_dir + "/coffer-job-broken.service"}, &out);
  EXPECT_NE(broken, 0) << out;
  EXPECT_NE(out.find("coffer-job-broken.service: Command"), std::string::npos) << out;
}

TEST(SystemdAnalyzeTest, CalendarAcceptsEveryOnCalendarLine) {
  const std::string analyze = FindSystemdAnalyze();
  if (analyze.empty()) GTEST_SKIP() << "systemd-analyze is not installed; systemd is not consulted";
  const Strings schedules = {
      "mon..fri 02:00",   "quarterly",  "daily",     "weekly",      "*-*-01 03:00",
      "sat *-1..7 15:00", "0/15",       "0 2 * * *", "0 2 1 * mon", "*/10 9-17 1,15 * mon-fri",
      "@hourly",          "*-*~1 23:00"};
  for (const std::string& text : schedules) {
    Job job = ExampleJob();
    job.restore_test.clear();
    job.schedule = text;
    auto units = SystemdUnitsFor(job, DefaultOptions());
    ASSERT_TRUE(units.ok()) << text << ": " << units.status().ToString();
    const Strings lines = Values((*units)[1].text, "OnCalendar");
    ASSERT_FALSE(lines.empty()) << text;
    for (const std::string& line : lines) {
      std::string out;
      EXPECT_EQ(testing::RunCommand({analyze, "calendar", line}, &out), 0)
          << text << " -> " << line << "\n"
          << out;
      EXPECT_NE(out.find("Normalized form: " + line + "\n"), std::string::npos)
          << text << " -> " << line << "\n"
          << out;
    }
  }
}

}  // namespace
}  // namespace coffer::jobs
