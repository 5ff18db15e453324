#include "tools/server_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "store/base/unique_fd.h"
#include "store/objects/forwarding_object_store.h"
#include "store/repo/layout.h"
#include "store/repo/local.h"
#include "store/service/address.h"
#include "store/service/auth.h"
#include "store/service/remote_object_store.h"
#include "store/service/server.h"

namespace coffer::tools {
namespace {

std::string DurationArg(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(static_cast<double>(d.count()) / 1000) + "s";
}

// Where a server started on demand writes its error output: it holds no
// terminal, and a server that stops unexpectedly must leave a trace. Started
// afresh once it passes a mebibyte.
int OpenServerLog(const std::string& repo_dir) {
  constexpr off_t kMaxServerLogBytes = 1 << 20;
  std::string path = repo_dir + "/" + std::string(kServerLogName);
  struct stat st;
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  if (::stat(path.c_str(), &st) == 0 && st.st_size > kMaxServerLogBytes) flags |= O_TRUNC;
  int fd = ::open(path.c_str(), flags, 0600);
  return fd >= 0 ? fd : ::open("/dev/null", O_WRONLY | O_CLOEXEC);
}

// What a client may hold in its environment that its server must not inherit.
constexpr const char* kSecretVariables[] = {"COFFER_PASSPHRASE", "COFFER_PASSPHRASE_FILE",
                                            "COFFER_TOKEN", "COFFER_TOKEN_FILE"};

// Starts `coffer serve` for `repo_dir`, detached (its own session, stdin and
// stdout on /dev/null and stderr to REPO/serve.log, so it holds no pipe of
// ours) and without the client's secrets in its environment. Returns once
// it listens, or once it exited without listening (it lost the race for the
// lock to another server).
Status StartServer(const std::string& repo_dir, const ServerClientOptions& options) {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) return Status::FromErrno(errno, "pipe");
  UniqueFd read_end(ready[0]), write_end(ready[1]);
  pid_t child = fork();
  if (child < 0) return Status::FromErrno(errno, "fork");
  if (child == 0) {
    // The intermediate child exits at once; the server is reparented to init.
    setsid();
    if (fork() != 0) _exit(0);
    int null = open("/dev/null", O_RDWR);
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(OpenServerLog(repo_dir), STDERR_FILENO);
    unsetenv("COFFER_CRASH_AT");  // a client's crash test must not kill its server
    unsetenv("COFFER_PAUSE_AT");  // nor hold it
    // The server never needs a secret, and would keep the client's visible
    // in /proc/PID/environ for as long as it idles.
    for (const char* secret : kSecretVariables) unsetenv(secret);
    int fd = dup(write_end.get());  // without O_CLOEXEC: it crosses exec
    std::string fd_arg = std::to_string(fd);
    std::string idle = DurationArg(kAutoServerIdleExit);
    std::string wait = DurationArg(options.lock_wait);
    execl("/proc/self/exe", "coffer", "serve", "-r", repo_dir.c_str(), "--foreground",
          "--idle-exit", idle.c_str(), "--lock-wait", wait.c_str(), "--ready-fd", fd_arg.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  write_end.reset();
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  // "r" once it listens; nothing if it exited without listening (another
  // server won the race for the lock); 'e', a Code byte and a message if it
  // cannot open the repository at all.
  std::string report;
  char buf[512];
  for (;;) {
    ssize_t n = read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || report.size() > 4096) break;
    report.append(buf, static_cast<size_t>(n));
  }
  if (report.size() >= 2 && report[0] == 'e') {
    return Status(static_cast<Code>(static_cast<uint8_t>(report[1])), report.substr(2));
  }
  return Status::Ok();  // ready, or gone: the caller connects
}

// Connects to the server at options.server over TLS, with the token from
// --token-file, COFFER_TOKEN_FILE or COFFER_TOKEN.
Result<std::unique_ptr<ObjectStore>> ConnectRemote(const ServerClientOptions& options) {
  if (options.no_server) {
    return Status::InvalidArgument(
        "--no-server and --server (or COFFER_SERVER) exclude each other");
  }
  COFFER_ASSIGN_OR_RETURN(service::ServiceAddress address,
                          service::ParseServiceAddress(options.server));
  if (address.kind != service::ServiceAddress::Kind::kTcp) {
    return Status::InvalidArgument("--server " + options.server +
                                   ": expected tcp://HOST:PORT (a local server is found by -r)");
  }
  service::ConnectOptions connect;
  connect.client_name = options.command_line;
  if (!options.token_file.empty()) {
    COFFER_ASSIGN_OR_RETURN(std::string text,
                            service::ReadCredentialFile(options.token_file, "token"));
    COFFER_ASSIGN_OR_RETURN(connect.token, service::ParseToken(text, options.token_file));
  } else if (const char* env = std::getenv("COFFER_TOKEN"); env != nullptr && *env != '\0') {
    COFFER_ASSIGN_OR_RETURN(connect.token, service::ParseToken(env, "COFFER_TOKEN"));
  } else {
    return Status::InvalidArgument("no token for " + address.ToString() +
                                   ": set COFFER_TOKEN or COFFER_TOKEN_FILE, or give --token-file");
  }
  if (!options.tls_ca_file.empty()) {
    COFFER_ASSIGN_OR_RETURN(connect.tls_ca_pem,
                            service::ReadCredentialFile(options.tls_ca_file, "CA certificate"));
  }
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<service::RemoteObjectStore> remote,
                          service::RemoteObjectStore::Connect(options.server, connect));
  return std::unique_ptr<ObjectStore>(std::move(remote));
}

// The repository's database opened in this command's process and served
// on its socket by gRPC's threads, so that the command's own calls skip the
// socket and the server process while other commands reach the database as
// they reach any server. Closing it hands over: it waits until no writer
// registered through it is still writing and no collection runs (they would
// otherwise have to start again), refuses new ones from then on, stops
// serving, lets the calls in flight finish, and closes the database. A
// client still connected (a mount, or a backup about to register) starts a
// server of its own on its next call.
class HostingStore final : public ForwardingObjectStore {
 public:
  HostingStore(std::unique_ptr<ObjectStore> local, std::unique_ptr<service::ObjectServer> server,
               bool quiet)
      : ForwardingObjectStore(std::move(local)), server_(std::move(server)), quiet_(quiet) {}

  ~HostingStore() override {
    bool told = false;
    // Once no one writes, a backup or gc that starts in the moment before
    // the socket closes is sent to a server of its own, not registered here.
    while (!server_->CloseToNewWritersIf([this] { return !HasWritersOrCollection(); })) {
      if (!told && !quiet_) {
        fmt::print(stderr,
                   "coffer: waiting for the commands writing to the repository through this one "
                   "to finish\n");
        told = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // Right after the refusal, not at a poll's next turn: a refused client's
    // next connection must find no one here.
    server_->StopServing();
    CloseTarget();
    // Never destroyed, as in `coffer serve`: the process ends soon (one
    // command, one process), and gRPC 1.51's ~Server can wait ten seconds
    // after large replies (grpc/grpc#41050). Reachable from a static, so not
    // a leak to a leak checker, and not destroyed during the process's exit.
    static auto* const finished = new std::vector<service::ObjectServer*>;
    finished->push_back(server_.release());
  }

 private:
  std::unique_ptr<service::ObjectServer> server_;
  bool quiet_;
};

// Opens the database under the repository lock, without waiting for it, and
// serves it on `address`. kBusy if another process holds the lock.
Result<std::unique_ptr<ObjectStore>> HostRepository(const std::string& repo_dir,
                                                    const std::string& address,
                                                    const ServerClientOptions& options) {
  COFFER_ASSIGN_OR_RETURN(
      std::unique_ptr<ObjectStore> local,
      OpenLocalStore(repo_dir, {std::chrono::milliseconds(0), options.command_line}));
  service::ServerOptions served;
  served.repository_format = kFormatVersion;
  served.idle_exit = kAutoServerIdleExit;  // how often clients say they are still there
  COFFER_ASSIGN_OR_RETURN(served.check_object, UnencryptedObjectCheck(*local));
  COFFER_ASSIGN_OR_RETURN(std::unique_ptr<service::ObjectServer> server,
                          service::ObjectServer::Start(*local, address, served));
  return std::unique_ptr<ObjectStore>(
      std::make_unique<HostingStore>(std::move(local), std::move(server), options.quiet));
}

// Starts a server and connects to it. One that lost the race for the lock,
// or met a server still shutting down or a command still closing the
// database it served, exits at once: then try again, within the lock wait
// the user granted (at least a few seconds). kNotFound if none came up.
Result<std::unique_ptr<service::RemoteObjectStore>> StartServerAndConnect(
    const std::string& repo_dir, const std::string& address, const ServerClientOptions& options,
    const service::ConnectOptions& connect) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::max<std::chrono::milliseconds>(options.lock_wait, std::chrono::seconds(10));
  Result<std::unique_ptr<service::RemoteObjectStore>> remote =
      Status::NotFound("no server for " + repo_dir);
  while (std::chrono::steady_clock::now() < deadline) {
    COFFER_RETURN_IF_ERROR(StartServer(repo_dir, options));
    auto attempt_end =
        std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2));
    while (std::chrono::steady_clock::now() < attempt_end) {
      remote = service::RemoteObjectStore::Connect(address, connect);
      if (remote.ok()) return remote;
      if (remote.status().code() != Code::kNotFound && remote.status().code() != Code::kBusy) {
        return remote.status();
      }
      std::this_thread::sleep_for(
          std::chrono::milliseconds(20));  // the winner is opening the database
    }
  }
  return Status::NotFound("no server for " + repo_dir);
}

}  // namespace

Result<std::unique_ptr<ObjectStore>> ConnectRepository(const std::string& repo_dir,
                                                       const ServerClientOptions& options) {
  if (!options.server.empty()) return ConnectRemote(options);
  COFFER_RETURN_IF_ERROR(CheckLocalRepository(repo_dir));
  LocalOpenOptions local{options.lock_wait, options.command_line};
  std::string address = service::DefaultServiceAddress(repo_dir);
  // A repository path too long for a unix socket is served in-process.
  if (options.no_server || !service::ParseServiceAddress(address).ok()) {
    return OpenLocalStore(repo_dir, local);
  }
  service::ConnectOptions connect;
  connect.client_name = options.command_line;
  // A server that dies under a long-lived client (a mount), or a command
  // that served the database and ended, is followed by a server started
  // here. A backup that was writing fails at its commit instead (ObjectStore).
  connect.restart_server = [repo_dir, address, options, connect]() -> Status {
    static std::mutex one_at_a_time;
    std::lock_guard lock(one_at_a_time);
    service::ConnectOptions probe = connect;
    probe.restart_server = nullptr;
    return StartServerAndConnect(repo_dir, address, options, probe).status();
  };
  auto remote = service::RemoteObjectStore::Connect(address, connect);
  if (remote.ok()) return std::unique_ptr<ObjectStore>(std::move(remote).value());
  if (remote.status().code() != Code::kNotFound) return remote.status();

  if (options.host_when_alone) {
    auto hosted = HostRepository(repo_dir, address, options);
    // Busy: a server is starting, or another command serves the database.
    if (hosted.ok() || hosted.status().code() != Code::kBusy) return hosted;
  }
  remote = StartServerAndConnect(repo_dir, address, options, connect);
  if (remote.ok()) return std::unique_ptr<ObjectStore>(std::move(remote).value());
  if (remote.status().code() != Code::kNotFound) return remote.status();
  // No server came up: most likely a process holds the database in-process,
  // and this names it (exit 11).
  return OpenLocalStore(repo_dir, local);
}

}  // namespace coffer::tools
