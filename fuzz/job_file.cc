// The jobs file (jobs/job_file.h): TOML as a person writes it, through
// toml++ (compiled into this target, instrumented) and the reader.
//
// Input: the file's text. Schedules and durations are checked by stand-ins
// that accept most text (the calendar code has its own target), so that the
// fuzzer gets past them; their refusals hold a newline, as a careless
// validator's might. Properties: a refusal is kInvalidArgument with one
// "jobs.toml:LINE:COLUMN: what" line per problem, LINE and COLUMN from 1 and
// no control characters; a file that reads has jobs with valid distinct
// names, a repository or a server (not both), exactly the source its kind
// says, absolute paths and commands that name a program, and durations in
// their ranges. The same text reads the same way twice.
#include <charconv>
#include <set>
#include <string>

#include "fuzz/fuzz_util.h"
#include "jobs/job_file.h"

using namespace coffer;
using std::chrono::seconds;

namespace {

// Anything without a '!' is a schedule.
Status StandInSchedule(std::string_view text) {
  if (text.find('!') == std::string_view::npos) return Status::Ok();
  return Status::InvalidArgument("not a schedule:\nit has a '!'");
}

// An optional '-', up to 9 digits and an optional unit s, m, h or d; the
// '-' gets negative lengths to the reader's range checks.
Result<seconds> StandInDuration(std::string_view text) {
  bool negative = text.starts_with('-');
  if (negative) text.remove_prefix(1);
  int64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 's':
        unit = 1;
        text.remove_suffix(1);
        break;
      case 'm':
        unit = 60;
        text.remove_suffix(1);
        break;
      case 'h':
        unit = 3600;
        text.remove_suffix(1);
        break;
      case 'd':
        unit = 86400;
        text.remove_suffix(1);
        break;
    }
  }
  int64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (text.empty() || text.size() > 9 || error != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("not a duration:\r\nuse 10m");
  }
  return seconds((negative ? -number : number) * unit);
}

bool IsDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos && s[0] != '0';
}

void CheckProblems(const Status& status) {
  if (status.code() != Code::kInvalidArgument)
    fuzz::Fail("a refusal that is not kInvalidArgument: " + status.message());
  std::string_view rest = status.message();
  while (true) {
    size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    if (!line.starts_with("jobs.toml:"))
      fuzz::Fail("a problem that does not name the file: " + std::string(line));
    std::string_view place = line.substr(10);
    size_t colon = place.find(':');
    size_t second = colon == std::string_view::npos ? colon : place.find(':', colon + 1);
    if (second == std::string_view::npos || !IsDigits(place.substr(0, colon)) ||
        !IsDigits(place.substr(colon + 1, second - colon - 1)) || place.substr(second).size() < 3 ||
        !place.substr(second).starts_with(": ")) {
      fuzz::Fail("a problem without LINE:COLUMN: what: " + std::string(line));
    }
    for (char c : line) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        fuzz::Fail("a control character in a problem");
    }
    if (newline == std::string_view::npos) break;
    rest.remove_prefix(newline + 1);
  }
}

void CheckAbsolute(const std::vector<std::string>& paths, const char* what) {
  for (const std::string& path : paths) {
    if (!path.starts_with('/')) fuzz::Fail(std::string(what) + " holds a relative path: " + path);
  }
}

void CheckCommand(const std::vector<std::string>& argv, const char* what) {
  if (!argv.empty() && argv[0].empty()) fuzz::Fail(std::string(what) + " names no program");
}

void CheckJobs(const jobs::JobFile& file) {
  std::set<std::string> names;
  for (const jobs::Job& job : file.jobs) {
    if (!names.insert(job.name).second) fuzz::Fail("two jobs named " + job.name);
    if (job.name.empty() || job.name.size() > 64 ||
        job.name.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") !=
            std::string::npos) {
      fuzz::Fail("a bad job name was accepted: " + job.name);
    }
    if (job.repository.empty() == job.server.empty())
      fuzz::Fail("not exactly one of repository and server");
    if (!job.repository.empty()) CheckAbsolute({job.repository}, "repository");
    if (job.server.empty() && (!job.tls_ca.empty() || !job.token_file.empty())) {
      fuzz::Fail("tls-ca or token-file without a server");
    }
    int sources = !job.paths.empty() + !job.command.empty() + !job.import.empty();
    if (sources != 1) fuzz::Fail("not exactly one of paths, command and import");
    switch (job.source) {
      case jobs::SourceKind::kPaths:
        if (job.paths.empty()) fuzz::Fail("a paths job without paths");
        break;
      case jobs::SourceKind::kCommand:
        if (job.command.empty()) fuzz::Fail("a command job without one");
        break;
      case jobs::SourceKind::kImport:
        if (job.import.empty()) fuzz::Fail("an import job without a folder");
        break;
    }
    if (job.source != jobs::SourceKind::kPaths &&
        (!job.exclude.empty() || !job.exclude_file.empty() || job.one_file_system || job.image)) {
      fuzz::Fail("paths options on a job without paths");
    }
    CheckAbsolute(job.paths, "paths");
    CheckAbsolute(job.exclude_file, "exclude-file");
    for (const std::string* path :
         {&job.import, &job.passphrase_file, &job.key_file, &job.tls_ca, &job.token_file}) {
      if (!path->empty()) CheckAbsolute({*path}, "a path key");
    }
    CheckCommand(job.command, "command");
    CheckCommand(job.pre_hook, "pre-hook");
    CheckCommand(job.post_hook, "post-hook");
    CheckCommand(job.notify_command, "notify-command");
    if (job.stdin_name.empty() || job.stdin_name.find('/') != std::string::npos)
      fuzz::Fail("bad stdin-name");
    if (job.hook_timeout.count() <= 0) fuzz::Fail("hook-timeout not above 0");
    if (job.random_delay.count() < 0 || job.stale_after.count() < 0)
      fuzz::Fail("a negative duration");
    for (const std::string* schedule : {&job.schedule, &job.verify, &job.restore_test}) {
      if (!StandInSchedule(*schedule).ok()) fuzz::Fail("a schedule the validator refused");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const jobs::JobFileValidators validators{StandInSchedule, StandInDuration};
  Result<jobs::JobFile> file = jobs::ParseJobFile(text, "jobs.toml", validators);
  Result<jobs::JobFile> again = jobs::ParseJobFile(text, "jobs.toml", validators);
  if (file.ok() != again.ok() || file.status().message() != again.status().message()) {
    fuzz::Fail("the same text read two ways");
  }
  if (!file.ok()) {
    CheckProblems(file.status());
    return 0;
  }
  if (file->jobs.size() != again->jobs.size()) fuzz::Fail("the same text gave two numbers of jobs");
  CheckJobs(*file);
  return 0;
}
