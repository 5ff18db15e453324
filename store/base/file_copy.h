// Copying whole files into a new folder the way cp does it, but durably:
// the kernel copies the bytes (copy_file_range, which shares extents on
// filesystems that can), and nothing is reported done before it is on disk.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/base/status.h"

namespace coffer {

struct FileToCopy {
  std::string from;
  std::string to;       // created; kAlreadyExists if it exists
  uint64_t length = 0;  // bytes copied from the start of `from` (it may be longer)
  // If set, written instead of `from`'s bytes (`from` is not read).
  std::optional<std::string> contents;
};

// Copies every file with up to `threads` at once, each created with mode
// 0600 and its data fsynced before this returns (the caller syncs the
// folder: SyncDirectory, file_io.h). kCorruption if a source is shorter
// than its `length`. On error some copies may exist: the caller removes the
// folder it made.
Status CopyFilesDurably(const std::vector<FileToCopy>& files, unsigned threads);

}  // namespace coffer
