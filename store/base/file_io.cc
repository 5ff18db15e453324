#include "store/base/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "store/base/unique_fd.h"

namespace coffer {

Status WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, what);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status SyncDirectory(const std::string& dir) {
  UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno(errno, "open " + dir);
  if (fsync(fd.get()) != 0) return Status::FromErrno(errno, "sync " + dir);
  return Status::Ok();
}

}  // namespace coffer
