// FuseSession: one mounted libfuse session, owned. Mount() sets up, in order,
// the argument list, the session, the signal handlers (optional) and the
// mount; the destructor undoes them in reverse order, so every exit path
// leaves no mount behind.
#pragma once

#include <memory>
#include <string>

#include "fs/fuse_includes.h"
#include "store/base/status.h"

namespace coffer::fs {

struct MountOptions {
  std::string fsname = "coffer";  // shown in /proc/mounts
  bool allow_other = false;
  bool signal_handlers = true;  // SIGINT, SIGTERM, SIGHUP end the loop (main thread only)
  // Each thread keeps a request buffer of max_write (1 MiB): 8 is a few per
  // core, and a slow fetch rarely holds more than the loaders' share.
  unsigned max_threads = 8;
};

class FuseSession {
 public:
  // Mounts read-only at `mountpoint`; `userdata` must remain live while mounted.
  static Result<std::unique_ptr<FuseSession>> Mount(const std::string& mountpoint,
                                                    const MountOptions& options,
                                                    const struct fuse_lowlevel_ops& ops,
                                                    void* userdata);
  ~FuseSession();
  FuseSession(const FuseSession&) = delete;
  FuseSession& operator=(const FuseSession&) = delete;

  // Serves requests on several threads until unmounted or signalled.
  Status Loop();
  // After Loop(): answers at most one request that arrives within `timeout_ms`
  // on this thread. False once the kernel side is gone (unmounted).
  bool ServeOne(int timeout_ms);
  // Asks the loop to end (from any thread); the kernel side ends at unmount.
  void Exit();
  // For notifications to the kernel (kernel_notifier.h).
  struct fuse_session* raw() const {
    return session_;
  }

 private:
  FuseSession() = default;

  MountOptions options_;
  struct fuse_args args_ = FUSE_ARGS_INIT(0, nullptr);
  struct fuse_session* session_ = nullptr;
  bool signals_ = false;
  bool mounted_ = false;
};

}  // namespace coffer::fs
