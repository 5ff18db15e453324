// coffer scheduler [--once]: the foreground daemon that runs the jobs of the
// jobs file on their schedules (jobs/scheduler.h), for a systemd service.
//
// Each run is a child process `coffer run NAME` (this binary, with the
// global options that name the jobs file, the state folder and the
// credentials): a job that crashes, leaks or wedges a library takes its own
// process down, never the daemon, and each run gets exactly what `coffer
// run` does (the job's lock, the record of runs, the notices).
//
// Signals: SIGTERM and SIGINT stop the loop; a running child is sent SIGTERM
// and waited for (a backup cut short commits nothing). SIGHUP re-reads the
// jobs file. The handlers only set a flag and write a byte to a pipe that
// the sleeper and the starter poll.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "jobs/process.h"
#include "jobs/scheduler.h"
#include "store/base/unique_fd.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/job_steps.h"

extern char** environ;

namespace coffer::tools {
namespace {

struct SchedulerArgs {
  bool once = false;
};

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
int g_wake_write = -1;

void OnSignal(int signal) {
  if (signal == SIGHUP) {
    g_reload.store(true);
  } else {
    g_stop.store(true);
  }
  const int saved = errno;
  const char byte = 1;
  (void)!write(g_wake_write, &byte, 1);
  errno = saved;
}

// The read end of the wake pipe; installs the handlers.
Result<UniqueFd> InstallSignalHandlers() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return Status::FromErrno(errno, "pipe2");
  g_wake_write = fds[1];
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll returns at once
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) sigaction(signal, &sa, nullptr);
  return UniqueFd(fds[0]);
}

void Drain(int fd) {
  char buffer[64];
  while (read(fd, buffer, sizeof buffer) > 0) {
  }
}

// Waits on the real clock, woken early by the signals above. The wait is
// cut into pieces of at most a minute, so that a clock that jumps (a
// suspend, an NTP step) is noticed.
class SignalSleeper final : public jobs::Sleeper {
 public:
  SignalSleeper(const jobs::Clock& clock, int wake_fd) : clock_(clock), wake_fd_(wake_fd) {}

  jobs::Wake SleepUntil(jobs::TimePoint until) override {
    for (;;) {
      Drain(wake_fd_);
      if (g_stop.load()) return jobs::Wake::kStop;
      if (g_reload.exchange(false)) return jobs::Wake::kReload;
      const jobs::TimePoint now = clock_.Now();
      if (now >= until) return jobs::Wake::kTime;
      const auto wait = std::min<std::chrono::seconds>(until - now, std::chrono::seconds(60));
      struct pollfd item {
        wake_fd_, POLLIN, 0
      };
      poll(&item, 1, static_cast<int>(std::chrono::milliseconds(wait).count()));
    }
  }

 private:
  const jobs::Clock& clock_;
  int wake_fd_;
};

// Runs a task as `coffer [GLOBAL OPTIONS] run NAME [--verify|--restore-test]`
// and maps its exit status.
class ChildJobStarter final : public jobs::JobStarter {
 public:
  ChildJobStarter(std::vector<std::string> prefix, int wake_fd)
      : prefix_(std::move(prefix)), wake_fd_(wake_fd) {}

  jobs::RunOutcome Run(const jobs::Job& job, jobs::RunKind kind) override {
    jobs::RunOutcome outcome;
    outcome.outcome = jobs::Outcome::kFailure;
    std::vector<std::string> argv = prefix_;
    argv.push_back("run");
    argv.push_back(job.name);
    if (kind == jobs::RunKind::kVerify) argv.push_back("--verify");
    if (kind == jobs::RunKind::kRestoreTest) argv.push_back("--restore-test");
    // Its whole environment, secrets included: the child is Coffer itself,
    // and a job without passphrase-file reads COFFER_PASSPHRASE*.
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    auto pid = jobs::StartProcess(argv, env, -1, -1, -1, false);
    if (!pid.ok()) {
      outcome.reason = "cannot start coffer run: " + pid.status().message();
      return outcome;
    }
    // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C".
    UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, *pid, 0)));
    bool terminated = false;
    while (pidfd.valid()) {
      if (g_stop.load() && !terminated) {
        kill(*pid, SIGTERM);
        terminated = true;
      }
      struct pollfd items[2] = {{pidfd.get(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      if (poll(items, 2, -1) < 0 && errno != EINTR) break;
      if (items[0].revents != 0) break;
      // The flags say what came (a reload waits for the sleeper); the bytes
      // only wake the poll.
      if (items[1].revents != 0) Drain(wake_fd_);
    }
    int status = 0;
    while (waitpid(*pid, &status, 0) < 0) {
      if (errno != EINTR) {
        outcome.reason = fmt::format("waiting for coffer run: {}", strerror(errno));
        return outcome;
      }
    }
    if (WIFSIGNALED(status)) {
      outcome.reason = terminated ? "stopped by SIGTERM with the scheduler"
                                  : fmt::format("coffer run was killed by signal {} ({})",
                                                WTERMSIG(status), strsignal(WTERMSIG(status)));
      return outcome;
    }
    const int code = WEXITSTATUS(status);
    switch (code) {
      case kExitOk: outcome.outcome = jobs::Outcome::kSuccess; break;
      case kExitIncomplete:
        outcome.outcome = jobs::Outcome::kWarning;
        outcome.reason = "ended with a warning (exit status 3)";
        break;
      case kExitJobRunning:
        outcome.already_running = true;
        outcome.reason = "coffer run exited with status 14";
        break;
      case kExitUsage:
        outcome.reason = "the jobs file cannot be used or lost the job (exit status 2)";
        break;
      default: outcome.reason = fmt::format("coffer run exited with status {}", code);
    }
    return outcome;
  }

 private:
  std::vector<std::string> prefix_;
  int wake_fd_;
};

// This binary with the global options a run needs.
Result<std::vector<std::string>> RunPrefix(const GlobalOptions& global,
                                           const std::string& state_dir) {
  std::error_code error;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return Status::FromErrno(error.value(), "reading /proc/self/exe");
  std::vector<std::string> argv = {self.string()};
  auto add = [&](const char* name, const std::string& value) {
    if (!value.empty()) {
      argv.push_back(name);
      argv.push_back(value);
    }
  };
  if (!global.jobs_file.empty())
    add("--jobs", std::filesystem::absolute(global.jobs_file).string());
  add("--state-dir", std::filesystem::absolute(state_dir).string());
  add("--passphrase-file", global.passphrase_file);
  add("--key-file", global.key_file);
  add("--server", global.server);
  add("--tls-ca", global.tls_ca);
  add("--token-file", global.token_file);
  if (global.lock_wait != "0") add("--lock-wait", global.lock_wait);
  if (global.allow_unencrypted) argv.push_back("--allow-unencrypted");
  if (global.no_server) argv.push_back("--no-server");
  if (global.quiet) argv.push_back("--quiet");
  return argv;
}

void LogLine(std::string_view line) {
  fmt::print(stderr, "{}\n", line);
}

int RunScheduler(const GlobalOptions& global, const SchedulerArgs& args) {
  if (global.passphrase_fd >= 0) {
    fmt::print(stderr,
               "coffer: the scheduler cannot use --passphrase-fd (each run reads the passphrase "
               "again): use the job's passphrase-file or --passphrase-file\n");
    return kExitUsage;
  }
  // Before anything is logged: a SIGTERM sent as soon as the first line is
  // seen must find the handler.
  auto wake = InstallSignalHandlers();
  if (!wake.ok()) return Fail(wake.status());

  auto file = ReadJobsFile(global);
  if (!file.ok()) {
    fmt::print(stderr, "coffer: {}\n", file.status().message());
    return kExitUsage;
  }
  const std::string state_dir = StateDir(global);
  auto prefix = RunPrefix(global, state_dir);
  if (!prefix.ok()) return Fail(prefix.status());

  jobs::SystemClock clock;
  SignalSleeper sleeper(clock, wake->get());
  ChildJobStarter starter(*prefix, wake->get());
  jobs::SchedulerOptions options;
  options.log = LogLine;
  options.read_jobs = [&global] { return ReadJobsFile(global); };
  options.read_last_runs = [state_dir](const jobs::JobFile& jobs_file) {
    return jobs::ReadLastRuns(state_dir, jobs_file, LogLine);
  };
  jobs::LastRuns last_runs = jobs::ReadLastRuns(state_dir, *file, LogLine);
  jobs::Scheduler scheduler(std::move(*file), std::move(last_runs), clock, sleeper, starter,
                            std::move(options));
  if (!args.once) {
    scheduler.Run();
    return kExitOk;
  }
  const jobs::OnceSummary summary = scheduler.RunOnce();
  if (summary.failures > 0) return kExitError;
  if (summary.warnings > 0) return kExitIncomplete;
  return kExitOk;
}

}  // namespace

void RegisterScheduler(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<SchedulerArgs>();
  CLI::App* cmd = app.add_subcommand(
      "scheduler",
      "Run the jobs of the jobs file on their schedules, in the foreground (a systemd service)");
  cmd->add_flag("--once", args->once,
                "Run what is due now (catch-ups, and times of the last minute), then exit");
  cmd->footer(
      "Runs each job as `coffer run JOB`. SIGTERM or SIGINT stops it (exit 0), SIGHUP re-reads the "
      "jobs "
      "file. Exit status: 0; with --once 1 if a run failed, 3 if one ended with a warning; 2 a bad "
      "jobs file.");
  cmd->callback([&global, args, exit_code] { *exit_code = RunScheduler(global, *args); });
}

}  // namespace coffer::tools
