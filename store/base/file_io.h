// Small durable-write steps shared by whatever writes files: writing a whole
// buffer through a file descriptor, and making a folder's new names durable.
#pragma once

#include <string>
#include <string_view>

#include "store/base/status.h"

namespace coffer {

// write(2) until all of `data` is written, retrying EINTR. An error is
// Status::FromErrno(errno, what), so `what` names the file ("write FILE").
Status WriteAll(int fd, std::string_view data, std::string_view what);

// fsync(2) of a folder, so the names of the files created in it (or renamed
// into it) are on disk.
Status SyncDirectory(const std::string& dir);

}  // namespace coffer
