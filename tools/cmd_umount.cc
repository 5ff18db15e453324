// coffer umount: unmount a `coffer mount` (fusermount3 -u), then wait until
// the mount process has released the repository, so that the next command
// (a backup, say) finds it unlocked.
#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "store/base/unique_fd.h"
#include "store/repo/layout.h"
#include "store/service/address.h"
#include "store/service/remote_object_store.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"

extern char** environ;

namespace coffer::tools {
namespace {

// /proc/mounts escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      out.push_back(static_cast<char>(std::strtol(field.substr(i + 1, 3).c_str(), nullptr, 8)));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

// The repository of the Coffer mount at `mountpoint` ("" if it is not one).
std::optional<std::string> CofferMountSource(const std::string& mountpoint) {
  std::ifstream mounts("/proc/self/mounts");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string source, target, type;
    fields >> source >> target >> type;
    if (type != "fuse.coffer" || Unescape(target) != mountpoint) continue;
    source = Unescape(source);
    return source.starts_with("coffer:") ? source.substr(7) : std::string();
  }
  return std::nullopt;
}

int RunFusermount(const std::string& mountpoint) {
  const char* argv[] = {"fusermount3", "-u", mountpoint.c_str(), nullptr};
  pid_t pid;
  int rc = posix_spawnp(&pid, "fusermount3", nullptr, nullptr, const_cast<char**>(argv), environ);
  if (rc != 0) return Fail(Status::FromErrno(rc, "cannot run fusermount3"));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Fail(Status::IoError("fusermount3 -u " + mountpoint + " failed"));
  }
  return kExitOk;
}

// Waits (bounded) until nobody holds the repository's lock. A mount through
// the repository's server holds no lock, and the server's is no obstacle to
// the next command: nothing to wait for then.
void AwaitRelease(const std::string& repo) {
  if (service::RemoteObjectStore::Connect(service::DefaultServiceAddress(repo)).ok()) return;
  UniqueFd fd(open(RepoLayout(repo).lock().c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (flock(fd.get(), LOCK_SH | LOCK_NB) == 0) {
      flock(fd.get(), LOCK_UN);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int RunUmount(const std::string& mountpoint_arg) {
  char resolved[PATH_MAX];
  std::string mountpoint = realpath(mountpoint_arg.c_str(), resolved) ? resolved : mountpoint_arg;
  auto repo = CofferMountSource(mountpoint);
  if (!repo) return Fail(Status::NotFound(mountpoint_arg + " is not a Coffer mount"));
  if (int code = RunFusermount(mountpoint); code != kExitOk) return code;
  if (!repo->empty()) AwaitRelease(*repo);
  return kExitOk;
}

}  // namespace

void RegisterUmount(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto mountpoint = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("umount", "Unmount a mount made by coffer mount");
  cmd->add_option("MOUNTPOINT", *mountpoint, "Where the repository is mounted")->required();
  cmd->callback([mountpoint, exit_code] { *exit_code = RunUmount(*mountpoint); });
}

}  // namespace coffer::tools
