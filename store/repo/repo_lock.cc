#include "store/repo/repo_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace coffer {

static std::string ReadHolder(int fd) {
  char buf[512];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "another process";
  std::string text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\0')) text.pop_back();
  return text;
}

Result<RepoLock> RepoLock::Acquire(const std::string& lock_path, std::chrono::milliseconds wait,
                                   const std::string& holder_description) {
  UniqueFd fd(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::FromErrno(errno, "open " + lock_path);
  auto deadline = std::chrono::steady_clock::now() + wait;
  // Polling, because flock has no timed wait; the interval bounds the delay
  // after the holder exits, not correctness.
  while (flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      return Status::FromErrno(errno, "lock " + lock_path);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Busy("repository is locked by " + ReadHolder(fd.get()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string text = "pid " + std::to_string(getpid()) + " (" + holder_description + ")\n";
  if (ftruncate(fd.get(), 0) != 0 || pwrite(fd.get(), text.data(), text.size(), 0) < 0) {
    return Status::FromErrno(errno, "write " + lock_path);
  }
  return RepoLock(std::move(fd));
}

}  // namespace coffer
