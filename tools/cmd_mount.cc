// coffer mount: every snapshot of the repository as a read-only tree (FUSE).
//
// Without --foreground the command forks before opening the repository (a
// process with RocksDB's threads cannot fork safely); the child opens it,
// mounts, and reports back over a pipe only once a listing of the mountpoint
// has gone through the mount, so the tree is usable when the command returns.
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "fs/fuse_adapter.h"
#include "fs/fuse_session.h"
#include "fs/kernel_notifier.h"
#include "fs/snapshot_fs.h"
#include "store/base/unique_fd.h"
#include "store/model/snapshot_name.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/open_repository.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct MountArgs {
  std::string mountpoint;
  bool foreground = false;
  bool allow_other = false;
  std::string cache_size = "64M";
  std::string group;
};

std::atomic<bool> g_use_syslog{false};

void Log(const std::string& message) {
  if (g_use_syslog) {
    syslog(LOG_ERR, "%s", message.c_str());
  } else {
    fmt::print(stderr, "coffer: {}\n", message);
  }
}

Status CheckMountpoint(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "mountpoint " + path);
  if (!S_ISDIR(st.st_mode))
    return Status::InvalidArgument("mountpoint " + path + " is not a directory");
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return Status::FromErrno(errno, "mountpoint " + path);
  bool empty = true;
  while (struct dirent* d = readdir(dir)) {
    std::string_view name = d->d_name;
    if (name != "." && name != "..") {
      empty = false;
      break;
    }
  }
  closedir(dir);
  if (!empty) return Status::InvalidArgument("mountpoint " + path + " is not an empty directory");
  return Status::Ok();
}

// Lists the mountpoint through the mount: true once the filesystem answers.
bool MountAnswers(const std::string& mountpoint) {
  DIR* dir = opendir(mountpoint.c_str());
  if (dir == nullptr) return false;
  errno = 0;
  while (readdir(dir) != nullptr) {
  }
  bool ok = errno == 0;
  closedir(dir);
  return ok;
}

// The kernel reads ahead only 128 KiB on a FUSE mount by default; 4 MiB keeps
// several chunks in flight on the loop's threads (about 3.5x faster cold reads
// of big files). Best effort: only root may change it.
void RaiseReadahead(const std::string& mountpoint) {
  struct stat st;
  if (stat(mountpoint.c_str(), &st) != 0) return;
  std::string path =
      fmt::format("/sys/class/bdi/{}:{}/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.valid()) (void)!write(fd.get(), "4096", 4);
}

// Leaves the terminal: standard streams to /dev/null, a session of its own,
// and log lines to syslog from now on.
void Detach() {
  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (null.valid()) {
    dup2(null.get(), STDIN_FILENO);
    dup2(null.get(), STDOUT_FILENO);
    dup2(null.get(), STDERR_FILENO);
  }
  openlog("coffer", LOG_PID, LOG_DAEMON);
  g_use_syslog = true;
  setsid();
  (void)!chdir("/");
}

void Report(int fd, int code) {
  if (fd < 0) return;
  unsigned char byte = static_cast<unsigned char>(code);
  (void)!write(fd, &byte, 1);
  close(fd);
}

// The parent of a background mount: waits for the child's verdict.
int AwaitChild(pid_t child, int fd) {
  unsigned char byte = 0;
  ssize_t n;
  do {
    n = read(fd, &byte, 1);
  } while (n < 0 && errno == EINTR);
  close(fd);
  if (n == 1) {
    if (byte != 0) waitpid(child, nullptr, 0);
    return byte;
  }
  int status = 0;
  if (waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    return WEXITSTATUS(status);
  }
  return Fail(Status::IoError("the mount process ended before the mount was ready"));
}

int Serve(GlobalOptions global, const MountArgs& args, uint64_t cache_bytes, int ready_fd) {
  // One heap arena for the whole mount (before any thread starts): its memory
  // is mostly chunk-sized buffers freed by one thread and wanted by another,
  // and with a second arena each kept its own free megabytes (about 15 MiB
  // more at peak, at no measurable speed gain).
  mallopt(M_ARENA_MAX, 1);
  Opened opened = OpenRepository(global);
  if (!opened.repo) {
    Report(ready_fd, opened.exit_code);
    return opened.exit_code;
  }
  fs::FsOptions options;
  options.cache_bytes = cache_bytes;
  options.uid = getuid();
  options.gid = getgid();
  options.log = Log;
  options.group = args.group;
  options.enforce_acls = args.allow_other;
  fs::SnapshotFs snapshot_fs(*opened.repo, options);
  if (Status s = snapshot_fs.Start(); !s.ok()) {
    int code = Fail(s.WithContext("cannot list snapshots"));
    Report(ready_fd, code);
    return code;
  }
  fs::MountOptions mount;
  mount.fsname = "coffer:" + global.repo;
  mount.allow_other = args.allow_other;
  auto session = fs::FuseSession::Mount(args.mountpoint, mount, fs::LowLevelOps(), &snapshot_fs);
  if (!session.ok()) {
    int code = Fail(session.status());
    Report(ready_fd, code);
    return code;
  }
  std::thread ready([&args, ready_fd] {
    if (!MountAnswers(args.mountpoint)) {
      Log("the mount at " + args.mountpoint + " does not answer");
      Report(ready_fd, kExitError);
      return;
    }
    RaiseReadahead(args.mountpoint);
    if (ready_fd < 0) return;
    Detach();
    Report(ready_fd, kExitOk);
  });
  auto notifier = std::make_unique<fs::KernelNotifier>((*session)->raw(), snapshot_fs);
  snapshot_fs.SetKernelCache(notifier.get());
  Status loop = (*session)->Loop();
  snapshot_fs.SetKernelCache(nullptr);
  notifier->Stop();
  // A notification in progress may wait for a request that arrived after a
  // signal ended the loop: answer requests until it is done.
  while (!notifier->stopped() && (*session)->ServeOne(50)) {
  }
  notifier.reset();
  session->reset();  // unmounts (if still mounted), before the repository closes
  if (ready.joinable()) ready.join();
  if (!loop.ok()) {
    Log(loop.message());
    return kExitError;
  }
  return kExitOk;
}

int RunMount(const GlobalOptions& global_in, const MountArgs& args) {
  auto cache_bytes = ParseSize(args.cache_size);
  if (!cache_bytes.ok()) return Fail(cache_bytes.status());
  if (!args.group.empty()) {
    if (Status s = model::ValidateGroup(args.group); !s.ok()) return Fail(s);
  }
  if (Status s = CheckMountpoint(args.mountpoint); !s.ok()) {
    fmt::print(stderr, "coffer: {}\n", s.message());
    return kExitError;
  }
  GlobalOptions global = global_in;
  MountArgs absolute = args;
  char resolved[PATH_MAX];
  if (!global.repo.empty() && realpath(global.repo.c_str(), resolved)) global.repo = resolved;
  if (realpath(args.mountpoint.c_str(), resolved)) absolute.mountpoint = resolved;
  if (args.foreground) return Serve(global, absolute, *cache_bytes, -1);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Fail(Status::FromErrno(errno, "pipe"));
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t child = fork();
  if (child < 0) return Fail(Status::FromErrno(errno, "fork"));
  if (child > 0) {
    close(fds[1]);
    return AwaitChild(child, fds[0]);
  }
  close(fds[0]);
  std::_Exit(Serve(global, absolute, *cache_bytes, fds[1]));
}

}  // namespace

void RegisterMount(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<MountArgs>();
  CLI::App* cmd = app.add_subcommand("mount", "Mount every snapshot as a read-only directory tree");
  cmd->add_option("MOUNTPOINT", args->mountpoint, "An empty directory")->required();
  cmd->add_flag("--foreground", args->foreground, "Stay in the foreground (log to stderr)");
  cmd->add_flag("--allow-other", args->allow_other,
                "Let other users see the mount (modes and ACLs apply)");
  cmd->add_option("--cache-size", args->cache_size, "Memory for the mount's caches (e.g. 64M, 1G)")
      ->type_name("SIZE")
      ->capture_default_str();
  cmd->add_option("--group", args->group, "Show only this group (e.g. host/web1)")
      ->type_name("GROUP");
  cmd->callback([&global, args, exit_code] { *exit_code = RunMount(global, *args); });
}

}  // namespace coffer::tools
