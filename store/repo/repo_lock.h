// RepoLock: one process at a time holds a repository (until the server that
// lets commands share it exists). An flock(2) on DIR/lock, released by the
// kernel when the process dies, so a crash never leaves a stale lock. The
// holder writes its pid and command line into the file for whoever waits.
#pragma once

#include <chrono>
#include <string>

#include "store/base/status.h"
#include "store/base/unique_fd.h"

namespace coffer {

class RepoLock {
 public:
  // Waits up to `wait` for the lock; kBusy naming the holder when it runs out.
  static Result<RepoLock> Acquire(const std::string& lock_path, std::chrono::milliseconds wait,
                                  const std::string& holder_description);

 private:
  explicit RepoLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace coffer
