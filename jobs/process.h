// Running a job's commands: its hooks (with a timeout, killed with their
// children) and the producer of a command job, all without a shell of our
// own (a command written as a string is already {"/bin/sh", "-c", TEXT}).
//
// Children are started with posix_spawnp, so that starting one is safe in a
// process that has threads (RocksDB's, gRPC's). Each hook runs in a process
// group of its own: a timeout sends SIGTERM to the whole group, then
// SIGKILL to whatever is left of it once the hook has exited or the grace
// has passed, so a hook's background children cannot outlive it holding a
// database dump half written. Standard input is /dev/null.
//
// The environment of every child is this process's minus its secrets
// (COFFER_PASSPHRASE*, COFFER_NEW_PASSPHRASE*, COFFER_TOKEN*): a hook is
// told what is happening, never how to open the repository.
//
// Thread safety: the functions share no state; any thread may call them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "store/base/status.h"

namespace coffer::jobs {

// This process's environment without the secrets above, with each `set`
// (NAME, value) replacing or adding a variable; "NAME=value" entries.
std::vector<std::string> ChildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& set);

// Starts `argv` (argv[0] searched in PATH) with `env`, its standard input,
// output and error on the given descriptors (-1: /dev/null for input, this
// process's for the others), in a process group of its own when
// `own_process_group`. kNotFound / kPermissionDenied when it cannot be run.
Result<pid_t> StartProcess(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, int stdin_fd, int stdout_fd,
                           int stderr_fd, bool own_process_group);

// Waits for the child `pid`; "exited with status N" / "was killed by signal
// N (NAME)" as a reason when it did not exit with 0, empty if it did.
Result<std::string> WaitProcess(pid_t pid);

struct HookLimits {
  std::chrono::milliseconds timeout{std::chrono::hours(1)};
  // Between SIGTERM to the hook's group and SIGKILL to what is left of it.
  std::chrono::milliseconds kill_grace{std::chrono::seconds(10)};
};

// Runs the hook `argv` with `env`, its standard output and error appended to
// `output_fd`, and waits for it at most limits.timeout. OK when it exited
// with 0; kAborted with the reason ("exited with status 3") when it did not,
// or "timed out after 2s and was killed" when it ran too long (its whole
// process group is then killed as described above); kNotFound or
// kPermissionDenied when it cannot be started.
Status RunHook(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               int output_fd, const HookLimits& limits);

// Makes SIGTERM, SIGINT and SIGHUP reach the children started in a process
// group of their own (hooks, a dump command) and still running, which a
// signal to this process alone would leave behind: the handler passes the
// signal on to each such group, then this process ends by the signal as it
// would have without a handler. For `coffer run`, which the scheduler and
// systemd stop with SIGTERM in the middle of a hook. Idempotent.
void PassTerminationToChildGroups();

// "2s", "1m30s", "1h": a timeout as people write it, for messages.
std::string FormatSpan(std::chrono::milliseconds span);

}  // namespace coffer::jobs
