#include "tests/testing/s3rver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "tests/testing/wait_until.h"

namespace coffer::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kStartTimeout = std::chrono::seconds(20);
constexpr auto kStopGrace = std::chrono::seconds(5);
// A probe gives up on a socket that says nothing for this long (something
// other than s3rver holding the port, or a stalled server).
constexpr int kProbeTimeoutMs = 2000;
constexpr int kPortAttempts = 3;

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

bool Executable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0;
}

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// A port of 127.0.0.1 that was free a moment ago. Another process may take
// it before s3rver binds it; Start then tries another one.
int FreeLoopbackPort(std::string* why_not) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *why_not = Errno("socket");
    return 0;
  }
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    *why_not = Errno("bind 127.0.0.1:0");
  } else if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    *why_not = Errno("getsockname");
  } else {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

// Connects, sends `request` and returns the status line of the answer ("" if
// the port refuses, closes, or stays silent).
std::string StatusLineOf(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{kProbeTimeoutMs / 1000, (kProbeTimeoutMs % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string answer;
  sockaddr_in address = Loopback(port);
  int rc;
  do {
    rc = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  } while (rc != 0 && errno == EINTR);
  if (rc == 0 && send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                     static_cast<ssize_t>(request.size())) {
    char buffer[512];
    while (answer.find("\r\n") == std::string::npos && answer.size() < 4096) {
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n > 0) {
        answer.append(buffer, static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        break;
      }
    }
  }
  close(fd);
  const size_t end = answer.find("\r\n");
  return end == std::string::npos ? "" : answer.substr(0, end);
}

// s3rver creates the buckets before it listens; still, ask for each one so
// that a stranger on the port, or a bucket that failed, is not taken for a
// ready server. Anonymous requests need no signature.
bool AnswersForBuckets(int port, const std::vector<std::string>& buckets) {
  const std::string host = "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  if (buckets.empty()) {
    return StatusLineOf(port, "GET / HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n")
        .starts_with("HTTP/1.1 200");
  }
  for (const std::string& bucket : buckets) {
    const std::string request =
        "HEAD /" + bucket + " HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n";
    if (!StatusLineOf(port, request).starts_with("HTTP/1.1 200")) return false;
  }
  return true;
}

// What the child wrote to stdout and stderr, its last 4 KiB.
std::string LogTail(int log_fd) {
  std::string log;
  char buffer[4096];
  off_t offset = 0;
  for (;;) {
    const ssize_t n = pread(log_fd, buffer, sizeof(buffer), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    log.append(buffer, static_cast<size_t>(n));
    offset += n;
    if (log.size() > 8192) log.erase(0, log.size() - 4096);
  }
  if (log.size() > 4096) log.erase(0, log.size() - 4096);
  while (!log.empty() && (log.back() == '\n' || log.back() == ' ')) log.pop_back();
  return log.empty() ? "(no output)" : log;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped";
}

// Waits until `pid` (a child) has exited, without reaping it, so that its
// process group cannot be reused meanwhile. False after `timeout`.
bool WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    // The pidfd becomes readable when the process exits: an event, no polling.
    pollfd wait_for{pidfd, POLLIN, 0};
    int ready;
    do {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      ready = poll(&wait_for, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
    } while (ready < 0 && errno == EINTR);
    close(pidfd);
    return ready > 0;
  }
  // Kernels before 5.3 have no pidfd: look until it has exited.
  return WaitUntil(
      [pid] {
        siginfo_t info{};
        if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
          return errno != EINTR;  // not our child any more: nothing to wait for
        }
        return info.si_pid == pid;
      },
      timeout);
}

}  // namespace

std::string S3rver::Binary() {
  if (Executable(kDefaultBinary)) return kDefaultBinary;
  const char* configured = std::getenv("COFFER_S3RVER");
  if (configured && Executable(configured)) return configured;
  return "";
}

std::unique_ptr<S3rver> S3rver::Start(const std::string& data_dir,
                                      const std::vector<std::string>& buckets,
                                      std::string* why_not) {
  std::string ignored;
  if (!why_not) why_not = &ignored;
  const std::string binary = Binary();
  if (binary.empty()) {
    *why_not = std::string("s3rver is not installed: neither ") + kDefaultBinary +
               " nor $COFFER_S3RVER is an executable (npm install s3rver@3.7.1)";
    return nullptr;
  }
  for (int attempt = 1;; ++attempt) {
    const int port = FreeLoopbackPort(why_not);
    if (port == 0) return nullptr;
    std::unique_ptr<S3rver> server(new S3rver(binary, data_dir, buckets, port));
    if (server->Launch(why_not)) return server;
    // Someone else took the port between our probe and s3rver's bind.
    if (attempt == kPortAttempts || why_not->find("EADDRINUSE") == std::string::npos) {
      return nullptr;
    }
  }
}

S3rver::S3rver(std::string binary, std::string data_dir, std::vector<std::string> buckets, int port)
    : binary_(std::move(binary)),
      data_dir_(std::move(data_dir)),
      buckets_(std::move(buckets)),
      port_(port) {}

S3rver::~S3rver() {
  Stop();
}

std::string S3rver::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

bool S3rver::Launch(std::string* why_not) {
  std::string ignored;
  if (!why_not) why_not = &ignored;
  // Everything the child needs is made before fork: between fork and exec
  // only async-signal-safe calls are allowed (the test may have threads).
  std::vector<std::string> args = {
      binary_, "-d", data_dir_, "-a", "127.0.0.1", "-p", std::to_string(port_)};
  for (const std::string& bucket : buckets_) {
    args.push_back("--configure-bucket");
    args.push_back(bucket);
  }
  args.push_back("--silent");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  // s3rver's continuation tokens (any listing cut into pages) use DES,
  // which OpenSSL 3 keeps in its legacy provider only.
  std::vector<std::string> env_strings = {"NODE_OPTIONS=--openssl-legacy-provider"};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("NODE_OPTIONS=", 0) != 0) env_strings.push_back(*e);
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  // An anonymous in-memory file: s3rver's output for *why_not, nothing to
  // clean up, and it never blocks the child the way an undrained pipe would.
  const int log_fd = memfd_create("s3rver-log", MFD_CLOEXEC);
  if (log_fd < 0) {
    *why_not = Errno("memfd_create");
    return false;
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    *why_not = Errno("open /dev/null");
    close(log_fd);
    return false;
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    *why_not = Errno("fork");
    close(log_fd);
    close(null_fd);
    return false;
  }
  if (pid == 0) {
    // Its own process group, so that Stop reaches everything it starts.
    setpgid(0, 0);
    // A test process that dies without its destructors (a crash, a ctest
    // timeout) takes the server with it instead of leaving it running.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);  // it died before prctl
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // No inherited socket (a test's listener, say) may outlive its owner in s3rver.
    close_range(3, ~0U, 0);
    execve(argv[0], argv.data(), envp.data());
    static const char kExecFailed[] = "S3rver: execve of the s3rver binary failed\n";
    [[maybe_unused]] const ssize_t ignored_write =
        write(STDERR_FILENO, kExecFailed, sizeof(kExecFailed) - 1);
    _exit(127);
  }
  setpgid(pid, pid);  // also here, so a kill(-pid) right away cannot miss
  close(null_fd);
  pid_ = pid;
  log_fd_ = log_fd;

  // Waits until the server exits or answers on the port for every bucket.
  int status = 0;
  bool exited = false;
  const bool settled = WaitUntil(
      [&] {
        exited = waitpid(pid_, &status, WNOHANG) == pid_;
        return exited || AnswersForBuckets(port_, buckets_);
      },
      kStartTimeout);
  if (exited) {
    *why_not = "s3rver on port " + std::to_string(port_) + " " + DescribeExit(status) +
               " before it answered: " + LogTail(log_fd_);
    pid_ = -1;
    close(log_fd_);
    log_fd_ = -1;
    return false;
  }
  if (settled) return true;
  *why_not = "s3rver did not answer on port " + std::to_string(port_) + " within " +
             std::to_string(kStartTimeout.count()) + " s: " + LogTail(log_fd_);
  Stop();
  return false;
}

bool S3rver::Stop() {
  if (pid_ <= 0) return true;
  kill(-pid_, SIGTERM);
  const bool stopped_on_term = WaitForExit(pid_, kStopGrace);
  // The leader is not reaped yet, so the group id is still ours: this also
  // ends anything it left behind.
  kill(-pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (log_fd_ >= 0) close(log_fd_);
  log_fd_ = -1;
  return stopped_on_term;
}

bool S3rver::Restart(std::string* why_not) {
  Stop();
  return Launch(why_not);
}

}  // namespace coffer::testing
