#include "tests/e2e/e2e_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "store/repo/layout.h"
#include "store/repo/repo_lock.h"

extern char** environ;

namespace coffer::e2e {
namespace {

void Check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}

// The test's environment minus COFFER_*, with `extra` replacing any variable
// of the same name: getenv finds the first of two, so a TZ a test sets must
// not come after the one it runs under.
std::vector<std::string> ChildEnv(const std::vector<std::string>& extra) {
  auto set_by_extra = [&extra](const char* entry) {
    for (const std::string& e : extra) {
      const size_t name_end = e.find('=');
      if (name_end == std::string::npos) continue;
      if (std::strncmp(entry, e.c_str(), name_end + 1) == 0) return true;
    }
    return false;
  };
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "COFFER_", 7) == 0 || set_by_extra(*e)) continue;
    env.push_back(*e);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

void IgnoreSigpipeOnce() {
  static bool done = [] {
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}

// Forks and execs; the three pipe ends the parent keeps are returned.
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
            int* in_fd, int* out_fd, int* err_fd) {
  IgnoreSigpipeOnce();
  int in[2], out[2], err[2];
  Check(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0,
        "pipe");
  std::vector<std::string> env = ChildEnv(extra_env);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = fork();
  Check(pid >= 0, "fork");
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    execvpe(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  *in_fd = in[1];
  *out_fd = out[0];
  *err_fd = err[0];
  return pid;
}

// Writes `data` to in_fd (then closes it, if close_in) while draining both
// output pipes until they reach end of file.
void Pump(int in_fd, const std::string& data, bool close_in, int out_fd, int err_fd,
          std::string* out, std::string* err) {
  size_t written = 0;
  if (in_fd >= 0) fcntl(in_fd, F_SETFL, fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  bool in_open = in_fd >= 0 && (written < data.size() || close_in);
  if (in_fd >= 0 && data.empty() && close_in) {
    close(in_fd);
    in_open = false;
  }
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    pollfd fds[3];
    int n = 0;
    int i_in = -1, i_out = -1, i_err = -1;
    if (in_open && written < data.size()) {
      i_in = n;
      fds[n++] = {in_fd, POLLOUT, 0};
    }
    if (out_open) {
      i_out = n;
      fds[n++] = {out_fd, POLLIN, 0};
    }
    if (err_open) {
      i_err = n;
      fds[n++] = {err_fd, POLLIN, 0};
    }
    int r = poll(fds, static_cast<nfds_t>(n), -1);
    if (r < 0 && errno == EINTR) continue;
    Check(r >= 0, "poll");
    if (i_in >= 0 && fds[i_in].revents) {
      ssize_t w = write(in_fd, data.data() + written, data.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if (w < 0 && errno != EAGAIN && errno != EINTR) written = data.size();  // EPIPE: reader gone
      if (written >= data.size() && close_in) {
        close(in_fd);
        in_open = false;
      }
    }
    if (i_out >= 0 && fds[i_out].revents) {
      ssize_t k = read(out_fd, buf, sizeof buf);
      if (k > 0)
        out->append(buf, static_cast<size_t>(k));
      else if (k == 0 || errno != EINTR)
        out_open = false;
    }
    if (i_err >= 0 && fds[i_err].revents) {
      ssize_t k = read(err_fd, buf, sizeof buf);
      if (k > 0)
        err->append(buf, static_cast<size_t>(k));
      else if (k == 0 || errno != EINTR)
        err_open = false;
    }
  }
  if (in_open) close(in_fd);
  close(out_fd);
  close(err_fd);
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

}  // namespace

Output RunProcess(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                  const std::string& stdin_data) {
  int in, out, err;
  pid_t pid = Spawn(argv, env, &in, &out, &err);
  Output result;
  Pump(in, stdin_data, /*close_in=*/true, out, err, &result.out, &result.err);
  result.code = WaitExit(pid);
  return result;
}

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  pid_ = Spawn(argv, env, &stdin_fd_, &stdout_fd_, &stderr_fd_);
}

Child::~Child() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    CloseStdin();
    if (stdout_fd_ >= 0) close(stdout_fd_);
    if (stderr_fd_ >= 0) close(stderr_fd_);
    WaitExit(pid_);
  }
}

void Child::WriteStdin(const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = write(stdin_fd_, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    Check(w > 0, "write to child");
    done += static_cast<size_t>(w);
  }
}

void Child::CloseStdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

Output Child::Wait() {
  Output result;
  Pump(stdin_fd_, {}, /*close_in=*/true, stdout_fd_, stderr_fd_, &result.out, &result.err);
  stdin_fd_ = stdout_fd_ = stderr_fd_ = -1;
  result.code = WaitExit(pid_);
  pid_ = -1;
  return result;
}

bool FileContains(const std::string& path, const std::string& needle) {
  return testing::ReadFile(path).find(needle) != std::string::npos;
}

static std::vector<std::string>* g_files;

std::vector<std::string> FilesBelow(const std::string& root) {
  std::vector<std::string> files;
  g_files = &files;
  nftw(
      root.c_str(),
      [](const char* p, const struct stat* st, int type, struct FTW*) {
        if (type == FTW_F && S_ISREG(st->st_mode)) g_files->push_back(p);
        return 0;
      },
      32, FTW_PHYS);
  g_files = nullptr;
  return files;
}

std::string Help(const std::vector<std::string>& command) {
  std::vector<std::string> argv = {COFFER_BINARY};
  argv.insert(argv.end(), command.begin(), command.end());
  argv.push_back("--help");
  Output o = RunProcess(argv);
  EXPECT_EQ(o.code, 0) << o.all();
  return o.out;
}

std::vector<std::string> Section(const std::string& help, const std::string& title) {
  std::vector<std::string> out;
  bool in = false;
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    if (line == title)
      in = true;
    else if (!line.empty() && line[0] != ' ')
      in = false;
    else if (in && !line.empty())
      out.push_back(line);
  }
  return out;
}

std::string Hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

void CofferTest::SetUp() {
  repo_ = tmp_ / "repo";
  Output init = Coffer({"init", "--kdf-ops", "1", "--kdf-memory", "8K"});
  ASSERT_EQ(init.code, 0) << init.all();
}

Output CofferTest::Coffer(const std::vector<std::string>& args, const std::vector<std::string>& env,
                          const std::string& stdin_data) {
  std::vector<std::string> argv = {COFFER_BINARY, "-r", repo_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> full_env = PassEnv();
  full_env.insert(full_env.end(), env.begin(), env.end());
  return e2e::RunProcess(argv, full_env, stdin_data);
}

Output CofferTest::CofferRaw(const std::vector<std::string>& args,
                             const std::vector<std::string>& env, const std::string& stdin_data) {
  std::vector<std::string> argv = {COFFER_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return e2e::RunProcess(argv, env, stdin_data);
}

nlohmann::json CofferTest::Snapshots() {
  Output o = Coffer({"snapshots", "--json"});
  EXPECT_EQ(o.code, 0) << o.all();
  auto j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(j.is_array()) << o.out;
  return j.is_array() ? j : nlohmann::json::array();
}

nlohmann::json CofferTest::Backup(const std::vector<std::string>& paths,
                                  const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"backup", "--json", "--group", group_};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), paths.begin(), paths.end());
  Output o = Coffer(args);
  EXPECT_EQ(o.code, 0) << o.all();
  auto j = nlohmann::json::parse(o.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(j.is_object()) << o.all();
  return j.is_object() ? j : nlohmann::json::object();
}

std::string CofferTest::RestoreAll(const std::string& snapshot) {
  std::string target = tmp_ / ("restore" + std::to_string(restores_++));
  Output o = Coffer({"restore", "--target", target, snapshot});
  EXPECT_EQ(o.code, 0) << o.all();
  return target;
}

std::vector<std::string> CofferTest::Compare(const std::string& source, const std::string& target) {
  return testing::CompareTrees(source, target + source, geteuid() == 0);
}

std::vector<std::string> CommandLine(pid_t pid) {
  std::string raw = testing::ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\0') {
      args.push_back(raw.substr(start, i - start));
      start = i + 1;
    }
  }
  return args;
}

bool Alive(pid_t pid) {
  std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

std::vector<pid_t> ServersOf(const std::string& repo) {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::vector<std::string> args = CommandLine(static_cast<pid_t>(pid));
    bool serve = false, names_repo = false;
    for (const auto& a : args) {
      if (a == "serve") serve = true;
      if (a.find(repo) != std::string::npos) names_repo = true;
    }
    if (serve && names_repo && !args.empty() && args[0].find("coffer") != std::string::npos &&
        Alive(static_cast<pid_t>(pid))) {
      pids.push_back(static_cast<pid_t>(pid));
    }
  }
  closedir(proc);
  return pids;
}

bool KillServersOf(const std::string& repo) {
  for (pid_t pid : ServersOf(repo)) kill(pid, SIGKILL);
  return testing::WaitUntil([&] { return ServersOf(repo).empty(); }, std::chrono::seconds(10));
}

int FlipMiddleOfBlobFiles(const std::string& db) {
  int flipped = 0;
  for (const auto& path : FilesBelow(db)) {
    if (!path.ends_with(".blob")) continue;
    std::string data = testing::ReadFile(path);
    if (data.size() < 1024) continue;
    data[data.size() / 2] = static_cast<char>(data[data.size() / 2] ^ 0x5a);
    testing::WriteFile(path, data);
    ++flipped;
  }
  return flipped;
}

void ChangeStoppedDatabase(const std::string& repo,
                           const std::function<void(kv::Database&)>& change) {
  ASSERT_TRUE(KillServersOf(repo));
  constexpr std::chrono::milliseconds kWait{10000};
  auto lock = RepoLock::Acquire(RepoLayout(repo).lock(), kWait, "end-to-end test");
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  Result<std::unique_ptr<kv::Database>> db = Status(Code::kBusy, "not opened yet");
  testing::WaitUntil(
      [&] {
        db = kv::Database::Open(RepoLayout(repo).db());
        return db.ok() || db.status().code() != Code::kBusy;
      },
      kWait);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  change(**db);
}

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool Listening(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

bool MakeCert(const std::string& dir, const std::string& name) {
  std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
      "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
      dir + "/" + name + ".key' -out '" + dir + "/" + name + ".crt' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::unique_ptr<Child> StartTlsServer(const std::string& repo, const std::string& cert_dir,
                                      const std::vector<std::string>& options,
                                      std::string* address) {
  // Another process may take the port between our check and the server's
  // bind; then start again with another.
  for (int attempt = 0; attempt < 3; ++attempt) {
    int port = FreeLoopbackPort();
    if (port <= 0) return nullptr;
    *address = "tcp://127.0.0.1:" + std::to_string(port);
    std::vector<std::string> argv = {COFFER_BINARY,
                                     "serve",
                                     "-r",
                                     repo,
                                     "--foreground",
                                     "--listen",
                                     *address,
                                     "--tls-cert",
                                     cert_dir + "/server.crt",
                                     "--tls-key",
                                     cert_dir + "/server.key"};
    argv.insert(argv.end(), options.begin(), options.end());
    auto server = std::make_unique<Child>(argv, std::vector<std::string>{});
    if (testing::WaitUntil([&] { return Listening(port) || kill(server->pid(), 0) != 0; },
                           std::chrono::seconds(20)) &&
        Listening(port)) {
      return server;
    }
  }
  return nullptr;
}

}  // namespace coffer::e2e
