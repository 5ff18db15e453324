#include "tools/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "store/base/unique_fd.h"

namespace coffer::tools {

Status WriteSecretFile(const std::string& path, std::string_view text, bool replace) {
  if (!replace && access(path.c_str(), F_OK) == 0) {
    return Status::AlreadyExists(path + " exists: give --force to replace it");
  }
  return ReplaceFileDurably(path, text, 0600);
}

Status ReplaceFileDurably(const std::string& path, std::string_view text, mode_t mode) {
  const std::string temp = path + ".tmp";
  UniqueFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid()) return Status::FromErrno(errno, "cannot write " + temp);
  // The mode of an existing temporary file is kept by O_CREAT, and the umask
  // narrows a new one's: set it.
  if (fchmod(fd.get(), mode) != 0) {
    Status failed = Status::FromErrno(errno, "chmod " + temp);
    unlink(temp.c_str());
    return failed;
  }
  for (size_t done = 0; done < text.size();) {
    ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status failed = Status::FromErrno(errno, "cannot write " + temp);
      unlink(temp.c_str());
      return failed;
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) {
    Status failed = Status::FromErrno(errno, "cannot write " + temp);
    unlink(temp.c_str());
    return failed;
  }
  fd.reset();
  if (rename(temp.c_str(), path.c_str()) != 0) {
    Status failed = Status::FromErrno(errno, "cannot rename " + temp + " to " + path);
    unlink(temp.c_str());
    return failed;
  }
  // The rename itself is durable once the folder is synced.
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "."
                             : slash == 0               ? "/"
                                                        : path.substr(0, slash);
  UniqueFd dir(open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid()) (void)fsync(dir.get());
  return Status::Ok();
}

}  // namespace coffer::tools
