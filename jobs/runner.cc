#include "jobs/runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>

#include <fmt/format.h>

#include "jobs/local_time.h"
#include "jobs/process.h"

namespace coffer::jobs {
namespace {

namespace fs = std::filesystem;

Status MakeFolder(const fs::path& folder) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) return Status::FromErrno(error.value(), "cannot make " + folder.string());
  // Logs hold whatever hooks print: only the owner reads them.
  if (chmod(folder.c_str(), 0700) != 0 && errno != EPERM) {
    return Status::FromErrno(errno, "chmod " + folder.string());
  }
  return Status::Ok();
}

// "2024-05-06T020000Z": the start in a file name, without colons.
std::string LogStem(TimePoint start) {
  std::string text = FormatUtc(start);
  text.erase(std::remove(text.begin(), text.end(), ':'), text.end());
  return text;
}

struct OpenedLog {
  UniqueFd fd;
  fs::path path;
  std::string relative;  // to STATE_DIR/jobs
};

Result<OpenedLog> CreateLog(const fs::path& state_dir, const std::string& job, TimePoint start) {
  const fs::path folder = JobLogFolder(state_dir, job);
  COFFER_RETURN_IF_ERROR(MakeFolder(folder));
  const std::string stem = LogStem(start);
  for (int n = 1; n < 1000; ++n) {
    const std::string name = n == 1 ? stem + ".log" : fmt::format("{}-{}.log", stem, n);
    OpenedLog log;
    log.path = folder / name;
    log.fd.reset(open(log.path.c_str(),
                      O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (log.fd.valid()) {
      log.relative = job + "/" + name;
      return log;
    }
    if (errno != EEXIST) return Status::FromErrno(errno, "cannot create " + log.path.string());
  }
  return Status::AlreadyExists("too many runs of " + job + " started at " + FormatUtc(start));
}

// Orders log names by their start, then their "-N".
std::pair<std::string, int> LogSortKey(const std::string& name) {
  std::string stem = name.substr(0, name.size() - 4);  // without ".log"
  int number = 1;
  if (const size_t dash = stem.rfind('-'); dash != std::string::npos && dash > stem.find('T')) {
    const char* first = stem.data() + dash + 1;
    const char* last = stem.data() + stem.size();
    if (std::from_chars(first, last, number).ptr == last) stem.resize(dash);
  }
  return {stem, number};
}

void RemoveOldLogs(const fs::path& folder, size_t keep, RunLog* log) {
  std::error_code error;
  std::vector<std::string> names;
  for (const auto& item : fs::directory_iterator(folder, error)) {
    const std::string name = item.path().filename().string();
    if (name.ends_with(".log") && item.is_regular_file()) names.push_back(name);
  }
  if (error || names.size() <= keep) return;
  std::sort(names.begin(), names.end(),
            [](const auto& a, const auto& b) { return LogSortKey(a) < LogSortKey(b); });
  for (size_t i = 0; i + keep < names.size(); ++i) {
    if (unlink((folder / names[i]).c_str()) != 0 && log) {
      log->Line(fmt::format("cannot remove the old log {}: {}", names[i], strerror(errno)));
    }
  }
}

std::string RepositoryLabel(const Job& job) {
  return job.repository.empty() ? job.server : job.repository;
}

// The runner's side of one run: its record in the making.
class Run {
 public:
  Run(const Job& job, const RunContext& context, RunRecord& record, RunLog& log)
      : job_(job), context_(context), record_(record), log_(log) {}

  void Execute() {
    group_ = job_.group;
    if (group_.empty() && job_.source != SourceKind::kImport) group_ = context_.default_group;
    if (context_.kind != RunKind::kBackup) {
      Check();
      return;
    }

    bool pre_hook_ok = true;
    if (!job_.pre_hook.empty()) {
      Status hook = Hook("pre", job_.pre_hook);
      if (!hook.ok()) {
        pre_hook_ok = false;
        Fail("pre-hook", "pre-hook " + hook.message() + "; nothing was stored");
      }
    }
    std::optional<BackupDone> backup;
    if (pre_hook_ok) backup = Backup();
    const bool stored = backup && !backup->snapshot.empty();

    if (!job_.post_hook.empty()) {
      Status hook = Hook("post", job_.post_hook, stored ? "success" : "failure",
                         backup ? backup->snapshot : "");
      if (!hook.ok()) {
        if (record_.outcome == Outcome::kFailure) {
          log_.Line("post-hook " + hook.message());
        } else {
          Warn("post-hook", "post-hook " + hook.message() + "; the snapshot is kept");
        }
      }
    }
    if (!backup) return;
    if (backup->unreadable > 0) {
      if (job_.keep.KeepsSomething()) log_.Line("retention skipped: the snapshot is incomplete");
      return;
    }
    if (job_.keep.KeepsSomething() && !backup->groups.empty()) {
      auto pruned = context_.steps->Prune(job_, backup->groups, log_);
      if (!pruned.ok()) {
        Warn("retention", "retention failed: " + pruned.status().message());
      } else {
        log_.Line(
            fmt::format("retention: kept {}, removed {} snapshots", pruned->kept, pruned->removed));
      }
    }
    if (job_.gc) {
      log_.Line("gc: collecting garbage");
      if (Status gc = context_.steps->CollectGarbage(job_, log_); !gc.ok()) {
        Warn("gc", "gc failed: " + gc.message());
      }
    }
  }

 private:
  std::optional<BackupDone> Backup() {
    log_.Line(fmt::format("backup to {}{}", RepositoryLabel(job_),
                          group_.empty() ? "" : ", group " + group_));
    auto done = context_.steps->Backup(job_, group_, log_);
    if (!done.ok()) {
      Fail("backup", "backup failed: " + done.status().message());
      return std::nullopt;
    }
    record_.snapshot = done->snapshot;
    record_.bytes_added = done->bytes_added;
    if (done->snapshot.empty()) {
      log_.Line("nothing new was stored");
    } else {
      log_.Line(
          fmt::format("snapshot {} stored, {} bytes added", done->snapshot, done->bytes_added));
    }
    if (done->archives_failed > 0) {
      Warn("import", fmt::format("{} archives could not be imported (named in the log); the "
                                 "others were",
                                 done->archives_failed));
    }
    if (done->unreadable > 0) {
      Warn("backup",
           fmt::format("backup incomplete: {} entries could not be read (listed in the log)",
                       done->unreadable));
    }
    return std::move(done).value();
  }

  // A verify or a restore test, instead of the backup and what follows it.
  void Check() {
    const std::string step(RunKindName(context_.kind));
    const bool verify = context_.kind == RunKind::kVerify;
    const std::string where = group_.empty() ? "every group" : "group " + group_;
    log_.Line(verify ? fmt::format("verify of {} in {}", where, RepositoryLabel(job_))
                     : fmt::format("restore test of the latest snapshot of {} in {}", where,
                                   RepositoryLabel(job_)));
    auto done = verify ? context_.steps->Verify(job_, group_, log_)
                       : context_.steps->RestoreTest(job_, group_, log_);
    if (!done.ok()) {
      Fail(step, fmt::format("{} failed: {}", verify ? "verify" : "restore test",
                             done.status().message()));
      return;
    }
    if (!done->damage.empty()) {
      Fail(step, done->damage);
      return;
    }
    log_.Line(fmt::format("{} passed: {} snapshot{}, {} bytes checked",
                          verify ? "verify" : "restore test", done->snapshots,
                          done->snapshots == 1 ? "" : "s", done->bytes_checked));
    if (!done->warning.empty()) Warn(step, done->warning);
  }

  Status Hook(const std::string& phase, const std::vector<std::string>& argv,
              const std::string& result = "", const std::string& snapshot = "") {
    std::vector<std::pair<std::string, std::string>> set = {
        {"COFFER_JOB", job_.name},
        {"COFFER_PHASE", phase},
        {"COFFER_REPOSITORY", RepositoryLabel(job_)},
        {"COFFER_GROUP", group_},
        {"COFFER_LOG", log_.path().string()}};
    if (phase == "post") {
      set.emplace_back("COFFER_RESULT", result);
      set.emplace_back("COFFER_SNAPSHOT", snapshot);
    }
    HookLimits limits;
    limits.timeout = context_.hook_timeout_override.count() > 0
                         ? context_.hook_timeout_override
                         : std::chrono::duration_cast<std::chrono::milliseconds>(job_.hook_timeout);
    limits.kill_grace = context_.hook_kill_grace;
    log_.Line(phase + "-hook: " + Describe(argv));
    Status status = RunHook(argv, ChildEnvironment(set), log_.fd(), limits);
    log_.Line(phase + "-hook " + (status.ok() ? std::string("succeeded") : status.message()));
    return status;
  }

  static std::string Describe(const std::vector<std::string>& argv) {
    if (argv.size() == 3 && argv[0] == "/bin/sh" && argv[1] == "-c") return argv[2];
    std::string out;
    for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
    return out;
  }

  void Fail(const std::string& step, const std::string& reason) {
    log_.Line("failure: " + reason);
    if (record_.outcome == Outcome::kFailure) return;  // the first failure is the reason
    record_.outcome = Outcome::kFailure;
    record_.step = step;
    record_.reason = reason;
  }

  void Warn(const std::string& step, const std::string& reason) {
    log_.Line("warning: " + reason);
    if (record_.outcome != Outcome::kSuccess) return;
    record_.outcome = Outcome::kWarning;
    record_.step = step;
    record_.reason = reason;
  }

  const Job& job_;
  const RunContext& context_;
  RunRecord& record_;
  RunLog& log_;
  std::string group_;
};

}  // namespace

Result<CheckDone> RepositorySteps::Verify(const Job&, const std::string&, RunLog&) {
  return Status::Unsupported("these repository steps cannot verify");
}

Result<CheckDone> RepositorySteps::RestoreTest(const Job&, const std::string&, RunLog&) {
  return Status::Unsupported("these repository steps cannot run a restore test");
}

void RunLog::Line(std::string_view text) {
  const std::string stamp =
      FormatLocalTime(TimePoint(std::chrono::seconds(time(nullptr))), "%H:%M:%S");
  std::string line = fmt::format("{} {}\n", stamp, text);
  std::string_view rest = line;
  while (!rest.empty() && fd_.valid()) {
    const ssize_t n = write(fd_.get(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

Result<JobLock> JobLock::Acquire(const fs::path& state_dir, std::string_view job, bool wait) {
  COFFER_RETURN_IF_ERROR(MakeFolder(JobsStateFolder(state_dir)));
  const fs::path path = JobLockPath(state_dir, job);
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "cannot open " + path.string());
  while (flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return Status::FromErrno(errno, "cannot lock " + path.string());
    char holder[32] = {};
    const ssize_t n = pread(fd.get(), holder, sizeof holder - 1, 0);
    std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return Status::Busy(
        fmt::format("job {} is already running{}", job, pid.empty() ? "" : " (pid " + pid + ")"));
  }
  // Who holds it, for the message of the next start.
  const std::string pid = fmt::format("{}\n", getpid());
  if (ftruncate(fd.get(), 0) == 0) (void)!pwrite(fd.get(), pid.data(), pid.size(), 0);
  return JobLock(std::move(fd));
}

std::vector<std::string> LastLines(const fs::path& path, size_t count) {
  std::ifstream in(path, std::ios::binary);
  if (!in || count == 0) return {};
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  constexpr std::streamoff kWindow = 64 * 1024;
  in.seekg(size > kWindow ? size - kWindow : 0);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (size > kWindow) text.erase(0, text.find('\n') + 1);  // a partial first line
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  if (lines.size() > count)
    lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(count));
  return lines;
}

RunRecord RunJob(const Job& job, const RunContext& context) {
  static const SystemClock system_clock;
  const Clock& clock = context.clock ? *context.clock : system_clock;
  RunRecord record;
  record.job = job.name;
  record.kind = context.kind;
  record.start = record.end = clock.Now();
  const auto started = std::chrono::steady_clock::now();
  auto finish_early = [&](const std::string& step, const std::string& reason) {
    record.outcome = Outcome::kFailure;
    record.step = step;
    record.reason = reason;
    return record;
  };
  if (context.steps == nullptr)
    return finish_early("setup", "no repository steps given to the runner");

  auto lock = JobLock::Acquire(context.state_dir, job.name, context.wait_for_lock);
  if (!lock.ok()) {
    record.already_running = lock.status().code() == Code::kBusy;
    return finish_early("setup", lock.status().message());
  }
  // The start is taken again: a run that waited for the lock starts now.
  record.start = clock.Now();
  auto opened = CreateLog(context.state_dir, job.name, record.start);
  if (!opened.ok()) {
    finish_early("setup", opened.status().message());
  } else {
    record.log = opened->relative;
    RunLog log(std::move(opened->fd), opened->path);
    const std::string what =
        context.kind == RunKind::kBackup ? "" : fmt::format(" ({})", RunKindName(context.kind));
    log.Line(fmt::format("job {}{} started (pid {})", job.name, what, getpid()));
    Run(job, context, record, log).Execute();
    log.Line(fmt::format("job {}{}: {}{}", job.name, what, OutcomeName(record.outcome),
                         record.reason.empty() ? "" : ": " + record.reason));
    (void)fsync(log.fd());
  }
  record.end = clock.Now();
  record.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  if (opened.ok()) record.log_tail = LastLines(opened->path, context.log_tail_lines);
  if (Status appended = AppendRunRecord(RunRecordPath(context.state_dir, job.name), record);
      !appended.ok()) {
    record.record_error = appended.message();
  }
  if (opened.ok())
    RemoveOldLogs(JobLogFolder(context.state_dir, job.name), context.logs_kept, nullptr);
  return record;
}

}  // namespace coffer::jobs
