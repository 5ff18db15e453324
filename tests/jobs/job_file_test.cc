// The jobs file reader: the issue's example as written, [defaults], every
// kind of problem with its FILE:LINE:COLUMN, and all problems at once.
// Schedules and durations are checked by the stand-ins below, not by the
// calendar code, which the tools wire in.
#include "jobs/job_file.h"

#include <sys/stat.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/testing/fs_fixtures.h"

namespace coffer::jobs {
namespace {

using Strings = std::vector<std::string>;
using std::chrono::seconds;

// Accepts a fixed set of calendar events.
Status StandInSchedule(std::string_view text) {
  static const std::set<std::string, std::less<>> known = {
      "daily", "weekly", "monthly", "quarterly", "mon..fri 02:00", "0 2 * * *", "*-*-01 03:00"};
  if (known.count(text) != 0) return Status::Ok();
  return Status::InvalidArgument("not a calendar event");
}

// NUMBER UNIT ... with the units s, m, h and d.
Result<seconds> StandInDuration(std::string_view text) {
  int64_t total = 0, number = 0;
  bool digits = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      number = number * 10 + (c - '0');
      digits = true;
      continue;
    }
    int64_t unit = c == 's' ? 1 : c == 'm' ? 60 : c == 'h' ? 3600 : c == 'd' ? 86400 : 0;
    if (unit == 0 || !digits) return Status::InvalidArgument("not a time span");
    total += number * unit;
    number = 0;
    digits = false;
  }
  if (digits || text.empty()) return Status::InvalidArgument("not a time span");
  return seconds(total);
}

const JobFileValidators kValidators{StandInSchedule, StandInDuration};

Result<JobFile> Parse(std::string_view text) {
  return ParseJobFile(text, "jobs.toml", kValidators);
}

// The problems reported for `text`, one a line; none if it parses.
Strings Problems(std::string_view text) {
  Result<JobFile> file = Parse(text);
  if (file.ok()) return {};
  EXPECT_EQ(file.status().code(), Code::kInvalidArgument);
  Strings lines;
  std::istringstream in(file.status().message());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The issue's example, exactly as written there.
constexpr std::string_view kIssueExample = R"([jobs.web]
repository = "/srv/backup"
passphrase-file = "/etc/coffer/pass"
paths = ["/etc", "/srv/www"]
exclude = ["*.tmp"]
group = "host/web1"
schedule = "mon..fri 02:00"
catch-up = true
random-delay = "10m"
pre-hook = "pg_dump app > /var/backups/app.sql"
hook-timeout = "30m"
keep-daily = 7
keep-weekly = 4
keep-monthly = 12
restore-test = "quarterly"
stale-after = "36h"
notify-command = "/usr/local/bin/page-me"
notify-webhook = "https://hooks.example.org/backup"
notify-mail = "root@localhost"
notify-on = ["failure", "warning"]
)";

// The smallest job there is, for the error tests to add one key to.
constexpr std::string_view kMinimalJob = R"([jobs.web]
repository = "/srv/backup"
paths = ["/etc"]
)";

std::string WithKey(std::string_view line) {
  return std::string(kMinimalJob) + std::string(line) + "\n";
}

TEST(JobFileTest, IssueExampleReadsAsWritten) {
  Result<JobFile> file = Parse(kIssueExample);
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_EQ(file->jobs.size(), 1u);
  const Job& job = file->jobs[0];
  EXPECT_EQ(job.name, "web");
  EXPECT_EQ(job.repository, "/srv/backup");
  EXPECT_EQ(job.server, "");
  EXPECT_EQ(job.passphrase_file, "/etc/coffer/pass");
  EXPECT_EQ(job.source, SourceKind::kPaths);
  EXPECT_EQ(job.paths, (Strings{"/etc", "/srv/www"}));
  EXPECT_EQ(job.exclude, (Strings{"*.tmp"}));
  EXPECT_EQ(job.group, "host/web1");
  EXPECT_EQ(job.schedule, "mon..fri 02:00");
  EXPECT_TRUE(job.catch_up);
  EXPECT_EQ(job.random_delay, seconds(600));
  EXPECT_EQ(job.pre_hook, (Strings{"/bin/sh", "-c", "pg_dump app > /var/backups/app.sql"}));
  EXPECT_TRUE(job.post_hook.empty());
  EXPECT_EQ(job.hook_timeout, seconds(1800));
  EXPECT_EQ(job.keep.keep_last, 0u);
  EXPECT_EQ(job.keep.keep_hourly, 0u);
  EXPECT_EQ(job.keep.keep_daily, 7u);
  EXPECT_EQ(job.keep.keep_weekly, 4u);
  EXPECT_EQ(job.keep.keep_monthly, 12u);
  EXPECT_EQ(job.keep.keep_yearly, 0u);
  EXPECT_FALSE(job.gc);
  EXPECT_EQ(job.verify, "");
  EXPECT_EQ(job.restore_test, "quarterly");
  EXPECT_EQ(job.stale_after, seconds(36 * 3600));
  EXPECT_EQ(job.notify_command, (Strings{"/bin/sh", "-c", "/usr/local/bin/page-me"}));
  EXPECT_EQ(job.notify_webhook, "https://hooks.example.org/backup");
  EXPECT_EQ(job.notify_mail, (Strings{"root@localhost"}));
  EXPECT_EQ(job.notify_on, (NotifyOn{true, true, false}));
  EXPECT_EQ(file->Find("web"), &job);
  EXPECT_EQ(file->Find("db"), nullptr);
}

TEST(JobFileTest, UnsetKeysTakeTheDocumentedDefaults) {
  Result<JobFile> file = Parse(kMinimalJob);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const Job& job = file->jobs.at(0);
  EXPECT_EQ(job.passphrase_file, "");
  EXPECT_EQ(job.group, "");
  EXPECT_EQ(job.stdin_name, "stdin");
  EXPECT_EQ(job.schedule, "");
  EXPECT_FALSE(job.catch_up);
  EXPECT_EQ(job.random_delay, seconds(0));
  EXPECT_EQ(job.hook_timeout, seconds(3600));
  EXPECT_FALSE(job.keep.KeepsSomething());
  EXPECT_EQ(job.stale_after, seconds(0));
  EXPECT_EQ(job.notify_on, (NotifyOn{true, false, false}));
  EXPECT_FALSE(job.one_file_system);
  EXPECT_FALSE(job.image);
  EXPECT_FALSE(job.allow_unencrypted);
}

TEST(JobFileTest, EveryOtherKeyReads) {
  Result<JobFile> file = Parse(R"([jobs.db]
server = "tcp://backup.example.org:7070"
tls-ca = "/etc/coffer/ca.pem"
token-file = "/etc/coffer/token"
key-file = "/etc/coffer/key"
allow-unencrypted = true
command = ["pg_dumpall", "--clean"]
stdin-name = "all.sql"
tags = ["db", "nightly"]
post-hook = ["/usr/bin/logger", "done"]
hook-timeout = 90
keep-last = 3
keep-hourly = 24
keep-yearly = 2
gc = true
verify = "weekly"
stale-after = "2d"
notify-mail = ["root", "ops@example.org"]
notify-on = "success"

[jobs.pve]
repository = "/srv/backup"
import = "/var/lib/vz/dump"

[jobs.files]
repository = "/srv/backup"
paths = "/home"
exclude-file = ["/etc/coffer/excludes"]
one-file-system = true
image = true
)");
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_EQ(file->jobs.size(), 3u);
  const Job& db = file->jobs[0];
  EXPECT_EQ(db.name, "db");
  EXPECT_EQ(db.repository, "");
  EXPECT_EQ(db.server, "tcp://backup.example.org:7070");
  EXPECT_EQ(db.tls_ca, "/etc/coffer/ca.pem");
  EXPECT_EQ(db.token_file, "/etc/coffer/token");
  EXPECT_EQ(db.key_file, "/etc/coffer/key");
  EXPECT_TRUE(db.allow_unencrypted);
  EXPECT_EQ(db.source, SourceKind::kCommand);
  EXPECT_EQ(db.command, (Strings{"pg_dumpall", "--clean"}));
  EXPECT_EQ(db.stdin_name, "all.sql");
  EXPECT_EQ(db.tags, (Strings{"db", "nightly"}));
  EXPECT_EQ(db.post_hook, (Strings{"/usr/bin/logger", "done"}));
  EXPECT_EQ(db.hook_timeout, seconds(90));
  EXPECT_EQ(db.keep.keep_last, 3u);
  EXPECT_EQ(db.keep.keep_hourly, 24u);
  EXPECT_EQ(db.keep.keep_yearly, 2u);
  EXPECT_TRUE(db.gc);
  EXPECT_EQ(db.verify, "weekly");
  EXPECT_EQ(db.stale_after, seconds(2 * 86400));
  EXPECT_EQ(db.notify_mail, (Strings{"root", "ops@example.org"}));
  EXPECT_EQ(db.notify_on, (NotifyOn{false, false, true}));

  const Job& pve = file->jobs[1];
  EXPECT_EQ(pve.name, "pve");
  EXPECT_EQ(pve.source, SourceKind::kImport);
  EXPECT_EQ(pve.import, "/var/lib/vz/dump");

  const Job& files = file->jobs[2];
  EXPECT_EQ(files.source, SourceKind::kPaths);
  EXPECT_EQ(files.paths, (Strings{"/home"}));
  EXPECT_EQ(files.exclude_file, (Strings{"/etc/coffer/excludes"}));
  EXPECT_TRUE(files.one_file_system);
  EXPECT_TRUE(files.image);
}

TEST(JobFileTest, JobsComeInTheOrderOfTheFile) {
  Result<JobFile> file = Parse(R"([defaults]
repository = "/srv/backup"
[jobs.zebra]
paths = ["/z"]
[jobs.apple]
paths = ["/a"]
[jobs.mango]
paths = ["/m"]
)");
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_EQ(file->jobs.size(), 3u);
  EXPECT_EQ(file->jobs[0].name, "zebra");
  EXPECT_EQ(file->jobs[1].name, "apple");
  EXPECT_EQ(file->jobs[2].name, "mango");
}

TEST(JobFileTest, AnEmptyFileHasNoJobs) {
  Result<JobFile> file = Parse("# nothing yet\n");
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_TRUE(file->jobs.empty());
}

// ---- [defaults] ----

constexpr std::string_view kWithDefaults = R"([defaults]
repository = "/srv/backup"
passphrase-file = "/etc/coffer/pass"
exclude = ["*.tmp", "*.cache"]
keep-daily = 7
schedule = "daily"
notify-mail = "root"

[jobs.web]
paths = ["/srv/www"]

[jobs.etc]
paths = ["/etc"]
repository = "/srv/other"
exclude = ["*.bak"]
keep-daily = 30
schedule = ""

[jobs.db]
server = "tcp://backup.example.org:7070"
command = "pg_dump app"
notify-mail = ""
)";

TEST(JobFileTest, DefaultsApplyToEveryJobThatDoesNotSetTheKey) {
  Result<JobFile> file = Parse(kWithDefaults);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const Job* web = file->Find("web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->repository, "/srv/backup");
  EXPECT_EQ(web->passphrase_file, "/etc/coffer/pass");
  EXPECT_EQ(web->exclude, (Strings{"*.tmp", "*.cache"}));
  EXPECT_EQ(web->keep.keep_daily, 7u);
  EXPECT_EQ(web->schedule, "daily");
  EXPECT_EQ(web->notify_mail, (Strings{"root"}));
}

TEST(JobFileTest, AJobsOwnValueWinsAndListsAreReplacedNotJoined) {
  Result<JobFile> file = Parse(kWithDefaults);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const Job* etc = file->Find("etc");
  ASSERT_NE(etc, nullptr);
  EXPECT_EQ(etc->repository, "/srv/other");
  EXPECT_EQ(etc->passphrase_file, "/etc/coffer/pass");
  EXPECT_EQ(etc->exclude, (Strings{"*.bak"}));
  EXPECT_EQ(etc->keep.keep_daily, 30u);
}

TEST(JobFileTest, AnEmptyStringUndoesADefault) {
  Result<JobFile> file = Parse(kWithDefaults);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->Find("etc")->schedule, "");
  EXPECT_TRUE(file->Find("db")->notify_mail.empty());
}

TEST(JobFileTest, AServerInAJobReplacesTheDefaultRepository) {
  Result<JobFile> file = Parse(kWithDefaults);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const Job* db = file->Find("db");
  EXPECT_EQ(db->server, "tcp://backup.example.org:7070");
  EXPECT_EQ(db->repository, "");
  EXPECT_EQ(db->source, SourceKind::kCommand);
  // Inherited keys that mean nothing for a command are dropped, not refused.
  EXPECT_TRUE(db->exclude.empty());
}

TEST(JobFileTest, WhatAJobBacksUpCannotBeADefault) {
  EXPECT_EQ(
      Problems(R"([defaults]
repository = "/srv/backup"
paths = ["/etc"]
[jobs.web]
paths = ["/srv/www"]
)"),
      (Strings{"jobs.toml:3:1: paths cannot be in [defaults]: each job says what it backs up"}));
}

TEST(JobFileTest, ProblemsInDefaultsAreReportedOnce) {
  EXPECT_EQ(
      Problems(R"([defaults]
keep-daily = "seven"
repository = "/srv/backup"
server = "tcp://host:1"
[jobs.a]
paths = ["/a"]
[jobs.b]
paths = ["/b"]
)"),
      (Strings{
          "jobs.toml:2:14: keep-daily must be a whole number ≥ 0, not \"seven\"",
          "jobs.toml:4:1: [defaults] gives both repository and server: give one of repository or "
          "server"}));
}

// ---- Problems, one of each kind ----

TEST(JobFileTest, UnknownKeyIsNamedWithTheNearestKnownOne) {
  EXPECT_EQ(
      Problems(WithKey("exlude = [\"*.tmp\"]")),
      (Strings{
          "jobs.toml:4:1: unknown key \"exlude\" in job \"web\" (did you mean \"exclude\"?)"}));
  EXPECT_EQ(Problems(WithKey("keep_daily = 7")),
            (Strings{"jobs.toml:4:1: unknown key \"keep_daily\" in job \"web\" (did you mean "
                     "\"keep-daily\"?)"}));
  EXPECT_EQ(Problems(WithKey("compression = \"zstd\"")),
            (Strings{"jobs.toml:4:1: unknown key \"compression\" in job \"web\""}));
  EXPECT_EQ(
      Problems("[defaults]\nrepo = \"/srv/backup\"\n"),
      (Strings{
          "jobs.toml:2:1: unknown key \"repo\" in [defaults] (did you mean \"repository\"?)"}));
}

TEST(JobFileTest, UnknownTopLevelTableOrKey) {
  EXPECT_EQ(
      Problems(std::string(kMinimalJob) + "[job.db]\npaths = [\"/db\"]\n"),
      (Strings{"jobs.toml:4:2: unknown table \"job\" (did you mean \"jobs\"?): a jobs file holds "
               "[jobs.NAME] tables and [defaults]"}));
  EXPECT_EQ(
      Problems(std::string("repository = \"/srv\"\n") + std::string(kMinimalJob)),
      (Strings{
          "jobs.toml:1:1: unknown key \"repository\" at the top level: keys go in a [jobs.NAME] "
          "table or in [defaults]"}));
}

TEST(JobFileTest, KeepCountMustBeAWholeNumber) {
  EXPECT_EQ(Problems(WithKey("keep-daily = \"seven\"")),
            (Strings{"jobs.toml:4:14: keep-daily must be a whole number ≥ 0, not \"seven\""}));
  EXPECT_EQ(Problems(WithKey("keep-weekly = -1")),
            (Strings{"jobs.toml:4:15: keep-weekly must be a whole number ≥ 0, not -1"}));
  EXPECT_EQ(Problems(WithKey("keep-last = 2.5")),
            (Strings{"jobs.toml:4:13: keep-last must be a whole number ≥ 0, not 2.5"}));
}

TEST(JobFileTest, BadScheduleQuotesTheValidator) {
  EXPECT_EQ(Problems(WithKey("schedule = \"mon..fry 02:00\"")),
            (Strings{"jobs.toml:4:12: bad schedule \"mon..fry 02:00\": not a calendar event"}));
  EXPECT_EQ(
      Problems(WithKey("verify = \"every tuesday\"")),
      (Strings{"jobs.toml:4:10: bad verify schedule \"every tuesday\": not a calendar event"}));
  EXPECT_EQ(
      Problems(WithKey("restore-test = \"quaterly\"")),
      (Strings{"jobs.toml:4:16: bad restore-test schedule \"quaterly\": not a calendar event"}));
  EXPECT_EQ(
      Problems(WithKey("schedule = 2")),
      (Strings{
          "jobs.toml:4:12: schedule must be a schedule such as \"daily\" or \"mon..fri 02:00\", "
          "not 2"}));
}

TEST(JobFileTest, BadDurationQuotesTheValidator) {
  EXPECT_EQ(Problems(WithKey("random-delay = \"ten minutes\"")),
            (Strings{"jobs.toml:4:16: bad random-delay \"ten minutes\": not a time span"}));
  EXPECT_EQ(Problems(WithKey("hook-timeout = \"0s\"")),
            (Strings{"jobs.toml:4:16: hook-timeout must be longer than 0, not \"0s\""}));
  EXPECT_EQ(Problems(WithKey("stale-after = -5")),
            (Strings{"jobs.toml:4:15: stale-after must be longer than 0, not -5"}));
  EXPECT_EQ(Problems(WithKey("random-delay = true")),
            (Strings{"jobs.toml:4:16: random-delay must be a duration such as \"10m\" or "
                     "\"1h30m\", not true"}));
}

TEST(JobFileTest, JobWithoutRepository) {
  EXPECT_EQ(
      Problems("[jobs.web]\npaths = [\"/etc\"]\n"),
      (Strings{
          "jobs.toml:1:1: job \"web\" has no repository: give repository (or server), here or in "
          "[defaults]"}));
}

TEST(JobFileTest, RepositoryAndServerTogether) {
  EXPECT_EQ(
      Problems(WithKey("server = \"tcp://backup:7070\"")),
      (Strings{
          "jobs.toml:4:1: job \"web\" gives both repository and server: give one of repository or "
          "server"}));
}

TEST(JobFileTest, BothPathsAndCommand) {
  EXPECT_EQ(
      Problems(WithKey("command = \"pg_dump app\"")),
      (Strings{
          "jobs.toml:4:1: job \"web\" gives both paths and command: give one of paths, command or "
          "import"}));
}

TEST(JobFileTest, RestoreTestSampleAsACountOrAPercentage) {
  Result<JobFile> count = Parse(WithKey("restore-test-files = 200"));
  ASSERT_TRUE(count.ok()) << count.status().message();
  EXPECT_EQ(count->jobs.at(0).restore_test_files, 200u);
  EXPECT_EQ(count->jobs.at(0).restore_test_percent, 0.0);
  Result<JobFile> whole = Parse(WithKey("restore-test-percent = 5"));
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_EQ(whole->jobs.at(0).restore_test_percent, 5.0);
  Result<JobFile> part = Parse(WithKey("restore-test-percent = 0.5"));
  ASSERT_TRUE(part.ok()) << part.status().message();
  EXPECT_EQ(part->jobs.at(0).restore_test_percent, 0.5);

  EXPECT_EQ(Problems(WithKey("restore-test-files = 0")),
            (Strings{"jobs.toml:4:22: restore-test-files must be a whole number ≥ 1, not 0"}));
  EXPECT_EQ(
      Problems(WithKey("restore-test-percent = 101")),
      (Strings{
          "jobs.toml:4:24: restore-test-percent must be a percentage above 0 and at most 100, not "
          "101"}));
  EXPECT_EQ(
      Problems(WithKey("restore-test-files = 10\nrestore-test-percent = 5")),
      (Strings{
          "jobs.toml:5:1: job \"web\" gives both restore-test-files and restore-test-percent: give "
          "one of restore-test-files or restore-test-percent"}));
}

TEST(JobFileTest, NothingToBackUp) {
  EXPECT_EQ(
      Problems("[jobs.web]\nrepository = \"/srv/backup\"\n"),
      (Strings{
          "jobs.toml:1:1: job \"web\" has nothing to back up: give paths, command or import"}));
}

TEST(JobFileTest, EmptyPaths) {
  EXPECT_EQ(Problems("[jobs.web]\nrepository = \"/srv/backup\"\npaths = []\n"),
            (Strings{"jobs.toml:3:9: paths must name at least one file or folder"}));
}

TEST(JobFileTest, RelativePathsAreRefused) {
  EXPECT_EQ(Problems(WithKey("passphrase-file = \"pass\"")),
            (Strings{"jobs.toml:4:19: passphrase-file must be an absolute path, not \"pass\""}));
  EXPECT_EQ(
      Problems("[jobs.web]\nrepository = \"/srv/backup\"\npaths = [\"/etc\", \"srv/www\"]\n"),
      (Strings{"jobs.toml:3:18: every item of paths must be an absolute path, not \"srv/www\""}));
  EXPECT_EQ(Problems("[jobs.web]\nrepository = \"backup\"\npaths = [\"/etc\"]\n"),
            (Strings{"jobs.toml:2:14: repository must be an absolute path, not \"backup\""}));
}

TEST(JobFileTest, UnknownNotifyOnValue) {
  EXPECT_EQ(
      Problems(WithKey("notify-on = [\"failure\", \"fail\", \"always\"]")),
      (Strings{
          "jobs.toml:4:25: unknown notify-on value \"fail\" (did you mean \"failure\"?): use "
          "failure, warning or success",
          "jobs.toml:4:33: unknown notify-on value \"always\": use failure, warning or success"}));
}

TEST(JobFileTest, WrongTomlTypes) {
  EXPECT_EQ(Problems(WithKey("catch-up = \"yes\"")),
            (Strings{"jobs.toml:4:12: catch-up must be true or false, not \"yes\""}));
  EXPECT_EQ(Problems(WithKey("tags = [\"a\", 5]")),
            (Strings{"jobs.toml:4:14: every item of tags must be a string, not 5"}));
  EXPECT_EQ(Problems(WithKey("tags = [\"a,b\"]")),
            (Strings{"jobs.toml:4:9: every item of tags must be 1 to 128 bytes without a comma "
                     "or a control character, not \"a,b\""}));
  EXPECT_EQ(Problems(WithKey("exclude = { pattern = \"*.tmp\" }")),
            (Strings{"jobs.toml:4:11: exclude must be a list of strings, not a table"}));
  EXPECT_EQ(Problems(WithKey("pre-hook = 1979-05-27")),
            (Strings{"jobs.toml:4:12: pre-hook must be a command (a string for /bin/sh, or a list "
                     "of strings), "
                     "not a date"}));
  EXPECT_EQ(Problems("jobs = 5\n"),
            (Strings{"jobs.toml:1:8: jobs must hold one table for each job ([jobs.NAME]), not 5"}));
  EXPECT_EQ(Problems("[jobs]\nweb = \"/etc\"\n"),
            (Strings{"jobs.toml:2:7: job \"web\" must be a table ([jobs.web]), not \"/etc\""}));
}

TEST(JobFileTest, OtherBadValues) {
  EXPECT_EQ(Problems(WithKey("group = \"web1\"")),
            (Strings{"jobs.toml:4:9: invalid group 'web1': no type (expected host/NAME, ct/VMID or "
                     "vm/VMID)"}));
  EXPECT_EQ(Problems(WithKey("notify-webhook = \"hooks.example.org\"")),
            (Strings{"jobs.toml:4:18: notify-webhook must be an http:// or https:// URL, not "
                     "\"hooks.example.org\""}));
  EXPECT_EQ(
      Problems(WithKey("notify-mail = \"-oQ/tmp\"")),
      (Strings{
          "jobs.toml:4:15: notify-mail must be a mail address (no spaces, not starting with '-'), "
          "not \"-oQ/tmp\""}));
  EXPECT_EQ(Problems(WithKey("post-hook = []")),
            (Strings{"jobs.toml:4:13: post-hook must not be an empty list (\"\" means none)"}));
  EXPECT_EQ(
      Problems("[jobs.\"my job\"]\nrepository = \"/srv\"\npaths = [\"/etc\"]\n"),
      (Strings{
          "jobs.toml:1:7: bad job name \"my job\": use up to 64 letters, digits, '-', '_' and '.', "
          "starting with a letter or a digit"}));
}

TEST(JobFileTest, KeysThatDoNotApplyToTheJob) {
  EXPECT_EQ(
      Problems("[jobs.db]\nrepository = \"/srv\"\ncommand = \"pg_dump\"\nexclude = [\"*.tmp\"]\n"),
      (Strings{"jobs.toml:4:1: exclude is for a job with paths"}));
  EXPECT_EQ(Problems(WithKey("stdin-name = \"dump.sql\"")),
            (Strings{"jobs.toml:4:1: stdin-name is for a job with command"}));
  EXPECT_EQ(Problems(WithKey("token-file = \"/etc/coffer/token\"")),
            (Strings{"jobs.toml:4:1: token-file is for a job with server"}));
}

TEST(JobFileTest, TomlSyntaxErrorHasTomlsPosition) {
  Strings problems = Problems("[jobs.web]\nrepository = \"/srv/backup\"\npaths = [\"/etc\"\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(problems[0].starts_with("jobs.toml:3:17: "))
      << problems[0];  // at the end of the file

  problems = Problems("[jobs.web]\nrepository = /srv/backup\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(problems[0].starts_with("jobs.toml:2:14: ")) << problems[0];

  problems = Problems("[jobs.web]\n[jobs.web]\n");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(problems[0].starts_with("jobs.toml:2:1: ")) << problems[0];
}

TEST(JobFileTest, EveryProblemIsReportedInTheOrderOfTheFile) {
  EXPECT_EQ(
      Problems(R"([jobs.web]
repository = "/srv/backup"
exlude = ["*.tmp"]
paths = ["/etc"]
keep-daily = "seven"
schedule = "mon..fry 02:00"
passphrase-file = "pass"

[jobs.db]
paths = ["/var/lib/db"]
command = "pg_dump app"
notify-on = ["sometimes"]

[mystery]
)"),
      (Strings{
          "jobs.toml:3:1: unknown key \"exlude\" in job \"web\" (did you mean \"exclude\"?)",
          "jobs.toml:5:14: keep-daily must be a whole number ≥ 0, not \"seven\"",
          "jobs.toml:6:12: bad schedule \"mon..fry 02:00\": not a calendar event",
          "jobs.toml:7:19: passphrase-file must be an absolute path, not \"pass\"",
          "jobs.toml:9:1: job \"db\" has no repository: give repository (or server), here or in "
          "[defaults]",
          "jobs.toml:11:1: job \"db\" gives both paths and command: give one of paths, command or "
          "import",
          "jobs.toml:12:14: unknown notify-on value \"sometimes\": use failure, warning or success",
          "jobs.toml:14:2: unknown table \"mystery\": a jobs file holds [jobs.NAME] tables and "
          "[defaults]",
      }));
}

TEST(JobFileTest, QuotedValuesStayOnOneLine) {
  Strings problems = Problems(WithKey("passphrase-file = \"pass\\nword\""));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0],
            "jobs.toml:4:19: passphrase-file must be an absolute path, not \"pass\\x0aword\"");
}

TEST(JobFileTest, MissingValidatorIsRefused) {
  Result<JobFile> file =
      ParseJobFile(kMinimalJob, "jobs.toml", JobFileValidators{StandInSchedule, {}});
  EXPECT_EQ(file.status().code(), Code::kFailedPrecondition);
}

// ---- Non-ASCII text ----
// toml++ 3.3 reaches __builtin_unreachable() on some non-ASCII characters
// where it looks for whitespace; the reader refuses those places first.

TEST(JobFileTest, NonAsciiTextInValuesAndCommentsReads) {
  Result<JobFile> file = Parse(
      "\xef\xbb\xbf# Sicherung f\u00fcr alle, \u00e9t\u00e9\n"
      "[jobs.web]  # \u0444\u0430\u0439\u043b\u044b\n"
      "repository = \"/srv/b\u00e4ckup\"\n"
      "paths = [\"/srv/\u00df\", '/\u00e9t\u00e9', \"\"\"/\u0443\"\"\"]\n"
      "pre-hook = \"\"\"\\\n  echo \\\"\u00fc\\\"\n  \u00fcber\"\"\"\n"
      "tags = ['\'\'\u3001\'\'\'']\n");
  ASSERT_TRUE(file.ok()) << file.status().message();
  const Job& job = file->jobs.at(0);
  EXPECT_EQ(job.repository, "/srv/b\u00e4ckup");
  EXPECT_EQ(job.paths, (Strings{"/srv/\u00df", "/\u00e9t\u00e9", "/\u0443"}));
  EXPECT_EQ(job.pre_hook, (Strings{"/bin/sh", "-c", "echo \"\u00fc\"\n  \u00fcber"}));
  EXPECT_EQ(job.tags, (Strings{"\u3001'"}));  // four quotes close it: the first is text
}

TEST(JobFileTest, NonAsciiWhereTomlppMisreadsItIsRefused) {
  EXPECT_EQ(Problems(WithKey("keep-daily = 7 \u00e9")),
            (Strings{"jobs.toml:4:16: a non-ASCII character outside a string or comment"}));
  // toml++ reads a bare value up to a space, quotes and all.
  EXPECT_EQ(Problems(WithKey("keep-daily = 7[jobs.\"\u044c\"")),
            (Strings{"jobs.toml:4:22: a non-ASCII character outside a string or comment"}));
  EXPECT_EQ(
      Problems(WithKey("\"f\u00fcr\" = 1")),
      (Strings{
          "jobs.toml:4:3: a key with a non-ASCII character: the keys of a jobs file are ASCII"}));
  EXPECT_EQ(
      Problems("[jobs.'w\u00e9b']\nrepository = \"/r\"\npaths = [\"/p\"]\n"),
      (Strings{
          "jobs.toml:1:9: a key with a non-ASCII character: the keys of a jobs file are ASCII"}));
  EXPECT_EQ(Problems(WithKey("pre-hook = \"\"\"echo \\\n   \u00a7\"\"\"")),
            (Strings{"jobs.toml:5:4: a line continued with '\\' must go on with an ASCII character "
                     "(write others as \\uXXXX)"}));
  EXPECT_EQ(Problems(WithKey("pre-hook = \"\"\"\\\u00e9\"\"\"")),
            (Strings{"jobs.toml:4:16: '\\' followed by a non-ASCII character is no escape"}));
}

// ---- ReadJobFile ----

TEST(JobFileTest, ReadsAFileAndNamesItInProblems) {
  testing::TempDir dir;
  testing::WriteFile(dir / "jobs.toml", kIssueExample);
  Result<JobFile> file = ReadJobFile(dir / "jobs.toml", kValidators);
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->jobs.at(0).name, "web");

  testing::WriteFile(dir / "bad.toml", WithKey("exlude = []"));
  file = ReadJobFile(dir / "bad.toml", kValidators);
  EXPECT_EQ(
      file.status().message(),
      dir / "bad.toml" + ":4:1: unknown key \"exlude\" in job \"web\" (did you mean \"exclude\"?)");
}

TEST(JobFileTest, MissingFileIsNotFound) {
  testing::TempDir dir;
  EXPECT_EQ(ReadJobFile(dir / "jobs.toml", kValidators).status().code(), Code::kNotFound);
}

TEST(JobFileTest, FileEveryUserMayWriteIsRefused) {
  testing::TempDir dir;
  testing::WriteFile(dir / "jobs.toml", kIssueExample);
  ASSERT_EQ(chmod((dir / "jobs.toml").c_str(), 0666), 0);
  EXPECT_EQ(ReadJobFile(dir / "jobs.toml", kValidators).status().code(), Code::kPermissionDenied);
}

TEST(JobFileTest, FileOverOneMebibyteIsRefused) {
  testing::TempDir dir;
  testing::WriteFile(dir / "jobs.toml", std::string(kMinimalJob) + std::string(1 << 20, '#'));
  EXPECT_EQ(ReadJobFile(dir / "jobs.toml", kValidators).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace coffer::jobs
