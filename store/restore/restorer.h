// Restorer: writes a snapshot, or a subtree or file of it, back to disk.
//
// The walk creates every entry in tree order in the calling thread; file
// contents are fetched, opened and written by worker threads, each file's
// metadata set after its content. A directory's metadata (owner, mode, xattrs,
// times) is set after everything inside it exists, so its mtime survives and
// a read-only directory can still be filled. Holes are left as holes.
//
// An entry that cannot be restored is reported and the restore goes on.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "store/repo/repository.h"

namespace coffer::restore {

struct RestoreOptions {
  std::string target;     // created if missing
  unsigned threads = 0;   // 0: one per core
  bool restore_owners = false;  // chown to the stored uid/gid (needs root)
};

struct RestoreProgress {
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> errors{0};
};

struct RestoreError {
  std::string path;  // relative to the target
  Status status;
};

struct RestoreResult {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t bytes = 0;
  std::vector<RestoreError> errors;
  bool damaged() const;  // some error was a damaged object
};

class Restorer {
 public:
  // `repo` and `progress` (may be null) must remain live while the Restorer is in use.
  Restorer(Repository& repo, RestoreOptions options, RestoreProgress* progress = nullptr);

  // Restores `path` of the snapshot ("" for all of it) below the target,
  // keeping its path: "etc/nginx" lands in TARGET/etc/nginx.
  Result<RestoreResult> Restore(const Snapshot& snapshot, std::string_view path);

 private:
  Repository& repo_;
  RestoreOptions options_;
  RestoreProgress* progress_;
  RestoreProgress own_progress_;
};

// Writes the content of a FILE entry to `fd` from its current offset (for
// `coffer cat`): holes as zeros.
Status WriteFileContent(Repository& repo, const pb::Entry& entry, int fd);

}  // namespace coffer::restore
