#include "fs/fuse_session.h"

#include <poll.h>

#include <cerrno>
#include <cstdlib>

namespace coffer::fs {

namespace {

// fsname goes into a comma-separated option list: escape commas and backslashes.
std::string EscapeOption(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<FuseSession>> FuseSession::Mount(const std::string& mountpoint,
                                                        const MountOptions& options,
                                                        const struct fuse_lowlevel_ops& ops,
                                                        void* userdata) {
  std::unique_ptr<FuseSession> s(new FuseSession());
  s->options_ = options;
  std::string mount_options =
      "ro,default_permissions,subtype=coffer,fsname=" + EscapeOption(options.fsname);
  if (options.allow_other) mount_options += ",allow_other";
  for (const char* arg : {"coffer", "-o", mount_options.c_str()}) {
    if (fuse_opt_add_arg(&s->args_, arg) != 0) return Status::IoError("out of memory");
  }
  s->session_ = fuse_session_new(&s->args_, &ops, sizeof ops, userdata);
  if (s->session_ == nullptr) return Status::IoError("cannot start a FUSE session");
  if (options.signal_handlers) {
    if (fuse_set_signal_handlers(s->session_) != 0)
      return Status::IoError("cannot set signal handlers");
    s->signals_ = true;
  }
  if (fuse_session_mount(s->session_, mountpoint.c_str()) != 0) {
    return Status::IoError("cannot mount at " + mountpoint +
                           " (is /dev/fuse there and fusermount3 installed?)");
  }
  s->mounted_ = true;
  return s;
}

FuseSession::~FuseSession() {
  if (mounted_) fuse_session_unmount(session_);
  if (signals_) fuse_remove_signal_handlers(session_);
  if (session_) fuse_session_destroy(session_);
  fuse_opt_free_args(&args_);
}

Status FuseSession::Loop() {
  struct fuse_loop_config* config = fuse_loop_cfg_create();
  if (config == nullptr) return Status::IoError("out of memory");
  fuse_loop_cfg_set_max_threads(config, options_.max_threads);
  fuse_loop_cfg_set_clone_fd(config, 0);
  int rc = fuse_session_loop_mt(session_, config);
  fuse_loop_cfg_destroy(config);
  fuse_session_reset(session_);  // a signal ended the loop; ServeOne() may still answer
  // A signal ending the loop is a normal way to stop.
  if (rc < 0) return Status::FromErrno(-rc, "FUSE loop");
  return Status::Ok();
}

bool FuseSession::ServeOne(int timeout_ms) {
  struct pollfd p = {fuse_session_fd(session_), POLLIN, 0};
  int ready = poll(&p, 1, timeout_ms);
  if (ready < 0) return errno == EINTR;
  if (ready == 0) return true;
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) return false;
  struct fuse_buf buf = {};
  int n = fuse_session_receive_buf(session_, &buf);
  if (n > 0) fuse_session_process_buf(session_, &buf);
  std::free(buf.mem);
  // libfuse answers an unmount (ENODEV) with 0 and marks the session exited.
  if (n == 0) return !fuse_session_exited(session_);
  return n > 0 || n == -EINTR || n == -EAGAIN;
}

void FuseSession::Exit() {
  fuse_session_exit(session_);
}

}  // namespace coffer::fs
