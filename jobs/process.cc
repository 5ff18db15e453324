#include "jobs/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <fmt/format.h>

#include "store/base/unique_fd.h"

extern char** environ;

namespace coffer::jobs {
namespace {

bool IsSecret(std::string_view entry) {
  for (std::string_view prefix : {"COFFER_PASSPHRASE", "COFFER_NEW_PASSPHRASE", "COFFER_TOKEN"}) {
    if (entry.starts_with(prefix)) return true;
  }
  return false;
}

std::vector<char*> PointersOf(const std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (const std::string& s : strings) pointers.push_back(const_cast<char*>(s.c_str()));
  pointers.push_back(nullptr);
  return pointers;
}

// Waits until the child `pidfd` refers to has ended (not reaped), at most
// until `deadline`; true if it ended.
bool WaitForExit(int pidfd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    struct pollfd item {
      pidfd, POLLIN, 0
    };
    const int ready = poll(&item, 1, left.count() > 0 ? static_cast<int>(left.count()) : 0);
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& set) {
  std::vector<std::string> env;
  for (char** entry = environ; entry && *entry; ++entry) {
    std::string_view text(*entry);
    if (IsSecret(text)) continue;
    const std::string_view name = text.substr(0, text.find('='));
    bool replaced = false;
    for (const auto& [set_name, value] : set) replaced = replaced || set_name == name;
    if (!replaced) env.emplace_back(text);
  }
  for (const auto& [name, value] : set) env.push_back(name + "=" + value);
  return env;
}

namespace {

// The process groups of the children started with own_process_group that
// have not been reaped yet, for the signal handler; 0 is a free slot. More
// at once than this is not a job's shape (a hook or a dump command at a
// time); a group that finds no slot is not passed signals.
constexpr size_t kTrackedGroups = 16;
std::atomic<pid_t> g_child_groups[kTrackedGroups];

void TrackGroup(pid_t group) {
  for (auto& slot : g_child_groups) {
    pid_t free_slot = 0;
    if (slot.compare_exchange_strong(free_slot, group)) return;
  }
}

void ForgetGroup(pid_t group) {
  for (auto& slot : g_child_groups) {
    pid_t tracked = group;
    if (slot.compare_exchange_strong(tracked, 0)) return;
  }
}

// Async-signal-safe: atomics, kill() and raise() only. SA_RESETHAND has put
// the default action back, and the signal, blocked while this runs, is
// delivered again when it returns.
void PassOnAndEnd(int signal_number) {
  const int saved_errno = errno;
  for (auto& slot : g_child_groups) {
    const pid_t group = slot.load();
    if (group > 0) kill(-group, signal_number);
  }
  raise(signal_number);
  errno = saved_errno;
}

static_assert(std::atomic<pid_t>::is_always_lock_free, "the signal handler reads these");

}  // namespace

void PassTerminationToChildGroups() {
  struct sigaction action {};
  action.sa_handler = PassOnAndEnd;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) sigaction(signal_number, &action, nullptr);
}

Result<pid_t> StartProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, int stdin_fd, int stdout_fd,
                           int stderr_fd, bool own_process_group) {
  if (argv.empty()) return Status::InvalidArgument("an empty command");
  UniqueFd null_input;
  if (stdin_fd < 0) {
    null_input.reset(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_input.valid()) return Status::FromErrno(errno, "open /dev/null");
    stdin_fd = null_input.get();
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  if (stderr_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (own_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&attributes, 0);
  }
  posix_spawnattr_setflags(&attributes, flags);
  // The child starts with no signal blocked and every signal at its default,
  // whatever this process (a daemon, a test) set: a hook must be killable.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);

  std::vector<char*> args = PointersOf(argv);
  std::vector<char*> envp = PointersOf(env);
  pid_t pid = -1;
  const int error = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) return Status::FromErrno(error, "cannot run " + argv[0]);
  if (own_process_group) TrackGroup(pid);
  return pid;
}

Result<std::string> WaitProcess(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::FromErrno(errno, "waitpid");
  }
  ForgetGroup(pid);  // at once: its number is free for reuse from now on
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status) == 0 ? std::string()
                                    : fmt::format("exited with status {}", WEXITSTATUS(status));
  }
  const int signal_number = WTERMSIG(status);
  const char* name = sigabbrev_np(signal_number);
  return fmt::format("was killed by signal {} ({})", signal_number, name ? name : "?");
}

Status RunHook(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               int output_fd, const HookLimits& limits) {
  COFFER_ASSIGN_OR_RETURN(pid_t pid, StartProcess(argv, env, -1, output_fd, output_fd,
                                                  /*own_process_group=*/true));
  // A pidfd can be polled with a timeout, and it never names another process
  // after this one is reaped.
  // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C".
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    const int error = errno;
    kill(-pid, SIGKILL);
    (void)WaitProcess(pid);
    return Status::FromErrno(error, "pidfd_open");
  }
  const auto started = std::chrono::steady_clock::now();
  if (!WaitForExit(pidfd.get(), started + limits.timeout)) {
    // The group's id is the hook's pid, which stays reserved until the hook
    // is reaped below: these signals cannot reach a stranger.
    kill(-pid, SIGTERM);
    WaitForExit(pidfd.get(), std::chrono::steady_clock::now() + limits.kill_grace);
    kill(-pid, SIGKILL);
    (void)WaitProcess(pid);
    return Status::Aborted(
        fmt::format("timed out after {} and was killed", FormatSpan(limits.timeout)));
  }
  COFFER_ASSIGN_OR_RETURN(std::string failure, WaitProcess(pid));
  if (!failure.empty()) return Status::Aborted(failure);
  return Status::Ok();
}

std::string FormatSpan(std::chrono::milliseconds span) {
  const int64_t ms = span.count();
  if (ms % 1000 != 0) return fmt::format("{}ms", ms);
  int64_t s = ms / 1000;
  std::string out;
  if (s >= 3600) out += fmt::format("{}h", s / 3600), s %= 3600;
  if (s >= 60) out += fmt::format("{}m", s / 60), s %= 60;
  if (s > 0 || out.empty()) out += fmt::format("{}s", s);
  return out;
}

}  // namespace coffer::jobs
