// coffer serve: the one process that owns a repository's database and serves
// it to every other coffer command. It never needs the passphrase.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "store/repo/layout.h"
#include "store/repo/local.h"
#include "store/s3/s3_settings.h"
#include "store/service/address.h"
#include "store/service/auth.h"
#include "store/service/server.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/units.h"

namespace coffer::tools {
namespace {

struct ServeArgs {
  std::string listen;
  std::string idle_exit = "0";
  bool foreground = false;
  int ready_fd = -1;
  std::string tls_cert;  // tcp:// only, like the three below
  std::string tls_key;
  std::string token_file;  // full rights
  std::vector<std::string> append_only_token_files;
};

Result<std::string> LoadToken(const std::string& file) {
  COFFER_ASSIGN_OR_RETURN(std::string text, service::ReadCredentialFile(file, "token"));
  return service::ParseToken(text, file);
}

// For a tcp:// listener, the certificate, key and tokens from their files
// (certificate, key and at least one token required); a unix socket takes
// none of them.
Status LoadTcpCredentials(const service::ServiceAddress& address, const ServeArgs& args,
                          service::ServerOptions* options) {
  bool any_token = !args.token_file.empty() || !args.append_only_token_files.empty();
  bool any = !args.tls_cert.empty() || !args.tls_key.empty() || any_token;
  if (address.kind != service::ServiceAddress::Kind::kTcp) {
    if (any) {
      return Status::InvalidArgument(
          "--tls-cert, --tls-key, --token-file and --append-only-token-file are for a tcp:// "
          "listener; " +
          address.ToString() + " is a unix socket, guarded by its file mode");
    }
    return Status::Ok();
  }
  if (args.tls_cert.empty() || args.tls_key.empty() || !any_token) {
    return Status::InvalidArgument("listening on " + address.ToString() +
                                   " needs --tls-cert FILE, --tls-key FILE and --token-file FILE "
                                   "(or --append-only-token-file FILE)");
  }
  COFFER_ASSIGN_OR_RETURN(options->tls_cert_pem,
                          service::ReadCredentialFile(args.tls_cert, "certificate"));
  COFFER_ASSIGN_OR_RETURN(options->tls_key_pem, service::ReadCredentialFile(args.tls_key, "key"));
  if (!args.token_file.empty()) {
    COFFER_ASSIGN_OR_RETURN(options->token, LoadToken(args.token_file));
  }
  for (const std::string& file : args.append_only_token_files) {
    COFFER_ASSIGN_OR_RETURN(std::string token, LoadToken(file));
    if (token == options->token) {
      return Status::InvalidArgument("the append-only token in " + file +
                                     " is the full token of --token-file: they must differ");
    }
    for (size_t i = 0; i < options->append_only_tokens.size(); ++i) {
      if (token == options->append_only_tokens[i]) {
        return Status::InvalidArgument("the append-only tokens in " +
                                       args.append_only_token_files[i] + " and " + file +
                                       " are the same");
      }
    }
    options->append_only_tokens.push_back(std::move(token));
  }
  return Status::Ok();
}

std::atomic<service::ObjectServer*> g_server{nullptr};
// Set by a SIGTERM or SIGINT that came before g_server was.
std::atomic<bool> g_stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

void RequestShutdown(int) {
  g_stop_requested.store(true);
  if (auto* server = g_server.load()) server->Shutdown();
}

// Detaches into the background; the parent returns once the child says it
// listens (a byte on the pipe) or has failed: 'e' and the status code (the
// child has printed the message), or end of file (exit code 1).
// Forks before the database is opened: RocksDB's threads do not survive fork.
bool Daemonize(int* ready_fd, int* parent_exit) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *parent_exit = Fail(Status::FromErrno(errno, "pipe"));
    return false;
  }
  pid_t pid = fork();
  if (pid < 0) {
    *parent_exit = Fail(Status::FromErrno(errno, "fork"));
    return false;
  }
  if (pid > 0) {
    close(fds[1]);
    char byte;
    ssize_t n;
    do {
      n = read(fds[0], &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1 && byte == 'e') {
      char code = 0;
      *parent_exit = read(fds[0], &code, 1) == 1 ? ExitCodeFor(Status(static_cast<Code>(code), ""))
                                                 : kExitError;
    } else {
      *parent_exit = n == 1 ? kExitOk : kExitError;
    }
    return false;
  }
  close(fds[0]);
  setsid();
  *ready_fd = fds[1];
  return true;
}

// Ends the process at once if the repository's folder is removed or replaced
// (`rm -rf REPO && coffer init REPO` while this server idles). RocksDB names
// its files by path, so closing the database normally would flush into, and
// delete "obsolete" files from, whatever folder now has that name. Committed
// snapshots are already durable; only a backup in progress is lost, and its
// client sees the server go.
class RepositoryWatch {
 public:
  static constexpr auto kInterval = std::chrono::milliseconds(200);

  explicit RepositoryWatch(std::string repo)
      : repo_(std::move(repo)), identity_(Identity(repo_, FolderId{})) {}
  void Start() {
    thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  }

 private:
  struct FolderId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const FolderId&) const = default;
  };
  // The folder's identity; {} when nothing is at the path, and `otherwise`
  // when it cannot be told (no permission, say), which is not taken as gone.
  static FolderId Identity(const std::string& path, FolderId otherwise) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0) return {st.st_dev, st.st_ino};
    return errno == ENOENT || errno == ENOTDIR ? FolderId{} : otherwise;
  }
  void Run(std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any wake;
    std::unique_lock lock(mu);
    // Wakes every kInterval, and at once when the thread is asked to stop.
    while (!wake.wait_for(lock, stop, kInterval, [&stop] { return stop.stop_requested(); })) {
      if (Identity(repo_, identity_) == identity_) continue;
      fmt::print(stderr,
                 "coffer serve: {} was removed or replaced; stopping without writing to it\n",
                 repo_);
      _exit(kExitError);
    }
  }

  const std::string repo_;
  const FolderId identity_;
  std::jthread thread_;  // last: it uses the members above
};

// On --ready-fd, instead of the ready byte: 'e', the Code as one byte, then
// the message (tools/server_client.cc reads it).
void ReportStartFailure(int ready_fd, const Status& status) {
  std::string report = "e";
  report += static_cast<char>(status.code());
  report += status.message();
  (void)!write(ready_fd, report.data(), report.size());
}

int RunServe(const GlobalOptions& global, ServeArgs args) {
  if (global.repo.empty()) {
    return Fail(Status::InvalidArgument("no repository: give -r DIR or set COFFER_REPO"));
  }
  if (s3::IsS3Address(global.repo)) {
    return Fail(Status::InvalidArgument(
        "coffer serve serves a repository folder; a copy in object storage is served by its "
        "object storage"));
  }
  auto idle = ParseDuration(args.idle_exit);
  if (!idle.ok()) return Fail(idle.status());
  auto wait = ParseDuration(global.lock_wait);
  if (!wait.ok()) return Fail(wait.status());
  std::string address =
      args.listen.empty() ? service::DefaultServiceAddress(global.repo) : args.listen;
  auto parsed = service::ParseListenAddress(address);
  if (!parsed.ok()) return Fail(parsed.status());
  service::ServerOptions options;
  if (Status s = LoadTcpCredentials(*parsed, args, &options); !s.ok()) return Fail(s);
  if (Status s = CheckLocalRepository(global.repo); !s.ok()) {
    return Fail(s, FailedStep::kOpeningRepository);
  }

  bool quiet_loss = args.ready_fd >= 0;  // started by a client: losing a race is normal
  if (!args.foreground) {
    int parent_exit = 0;
    if (!Daemonize(&args.ready_fd, &parent_exit)) {
      if (parent_exit == kExitOk && !global.quiet)
        fmt::print("serving {} on {}\n", global.repo, address);
      return parent_exit;
    }
  }

  RepositoryWatch watch(global.repo);  // the folder as it is before the database opens
  auto store = OpenLocalStore(global.repo, {*wait, "coffer serve"});
  if (!store.ok()) {
    if (quiet_loss && store.status().code() == Code::kBusy) return ExitCodeFor(store.status());
    // The client that started us says why, rather than waiting for a server
    // that will not come (a damaged database, above all).
    if (args.ready_fd >= 0) ReportStartFailure(args.ready_fd, store.status());
    return Fail(store.status());
  }
  auto check = UnencryptedObjectCheck(**store);
  if (!check.ok()) return Fail(check.status());
  options.check_object = *check;
  options.repository_format = kFormatVersion;
  options.idle_exit = *idle;
  // A server for other hosts also answers its own host's commands on the
  // repository's socket, as a server started on demand would: otherwise they
  // could not start one (this process holds the database) and would need
  // --server and a token for a repository folder they can read.
  const std::string local_socket = service::DefaultServiceAddress(global.repo);
  const bool serves_local_socket = parsed->kind == service::ServiceAddress::Kind::kTcp &&
                                   service::ParseListenAddress(local_socket).ok();
  if (serves_local_socket) options.local_socket = local_socket;
  // The handlers go in before the server listens: a SIGTERM sent as soon
  // as the port answers (by a supervisor, or a test) must stop it cleanly,
  // not kill it with the socket left behind.
  struct sigaction sa {};
  sa.sa_handler = RequestShutdown;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  auto server = service::ObjectServer::Start(**store, address, options);
  if (!server.ok()) return Fail(server.status());
  g_server = server->get();
  if (g_stop_requested.load()) (*server)->Shutdown();

  if (args.ready_fd >= 0) {
    (void)!write(args.ready_fd, "r", 1);
    close(args.ready_fd);
    if (!args.foreground) {  // the daemon's stdio goes nowhere once it listens
      int null = open("/dev/null", O_RDWR);
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      close(null);
    }
  } else if (!global.quiet) {
    fmt::print(stderr, "serving {} on {}{}\n", global.repo, (*server)->address().ToString(),
               serves_local_socket ? " and " + local_socket : std::string());
    if (parsed->kind == service::ServiceAddress::Kind::kTcp && !serves_local_socket) {
      fmt::print(stderr,
                 "coffer: {}/serve.sock is longer than a unix socket path may be ({} bytes); "
                 "commands on this host reach this server only with --server and a token\n",
                 global.repo, service::kMaxUnixPathBytes);
    }
  }
  watch.Start();
  Status s = (*server)->Serve(*idle);
  // Nothing is served any more: the database is closed and the lock given up
  // now, for the next command. Then the server is left to the process's end
  // (g_server keeps it reachable, and a second signal finds it stopped):
  // gRPC 1.51's ~Server waits in grpc_shutdown() for an executor thread's
  // poll, up to ten seconds after large replies (grpc/grpc#41050).
  store->reset();
  g_server = server->release();
  return s.ok() ? kExitOk : Fail(s);
}

}  // namespace

void RegisterServe(CLI::App& app, GlobalOptions& global, int* exit_code) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve a repository to other coffer commands");
  cmd->add_option("--listen", args->listen,
                  "Address to serve on: unix:PATH (default REPO/serve.sock) or tcp://HOST:PORT "
                  "(which also serves REPO/serve.sock to this host)")
      ->type_name("ADDRESS");
  cmd->add_option("--idle-exit", args->idle_exit,
                  "Exit after this long with no client (e.g. 30s; 0: never)")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("--tls-cert", args->tls_cert,
                  "Certificate (PEM) of a tcp:// listener, signed by a CA its clients trust")
      ->type_name("FILE");
  cmd->add_option("--tls-key", args->tls_key, "Private key (PEM) of the --tls-cert certificate")
      ->type_name("FILE");
  cmd->add_option("--token-file", args->token_file,
                  "File holding the full-rights token clients of a tcp:// listener may send")
      ->type_name("FILE");
  AddRepeatableOption(cmd, "--append-only-token-file", "FILE", args->append_only_token_files,
                      "File holding a token that may only add and read snapshots, never forget, "
                      "prune or gc");
  cmd->add_flag("--foreground", args->foreground, "Stay in the foreground");
  cmd->add_option("--ready-fd", args->ready_fd,
                  "Write one byte to file descriptor FD once listening, or why not (used when "
                  "coffer starts a server)")
      ->type_name("FD");
  cmd->callback([&global, args, exit_code] { *exit_code = RunServe(global, *args); });
}

}  // namespace coffer::tools
