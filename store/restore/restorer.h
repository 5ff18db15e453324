// Restorer: writes a snapshot, or a subtree or file of it, back to disk.
//
// The walk creates every entry in tree order in the calling thread; file
// contents are fetched, opened and written by worker threads, each file's
// metadata set after its content. A directory's metadata (owner, mode, xattrs,
// times) is set after everything inside it exists, so its mtime survives and
// a read-only directory can still be filled. Holes are left as holes.
//
// An entry that cannot be restored is reported and the restore goes on.
//
// Safe in a target other users can write to (root restoring into a shared
// folder): below the target, nothing is reached by a path. Each directory is
// opened with O_NOFOLLOW relative to its parent's descriptor, each entry is
// created relative to its directory's descriptor (O_EXCL, O_NOFOLLOW), and
// its metadata set through a descriptor of the entry itself (an O_PATH one
// for fifos and devices), or for a symlink by name without following it.
// Further hard links are made with linkat() from the first link's directory
// descriptor. A symlink found where a directory is to be restored is an
// error for that directory; it is neither followed nor replaced.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "store/repo/repository.h"

namespace coffer::restore {

// Moments between two system calls on one entry, where a race could change
// what a name in the target refers to.
enum class RestoreStep {
  kNodeMetadata,  // a symlink, fifo or device was created; its metadata is next
  kLink,          // a further hard link of a file is about to be made
};

struct RestoreOptions {
  std::string target;           // created if missing
  unsigned threads = 0;         // 0: one per core
  bool restore_owners = false;  // chown to the stored uid/gid (needs root)
  // A seam for tests of races: called in the walking thread at each step,
  // with the entry's path relative to the target.
  std::function<void(RestoreStep step, const std::string& rel)> before_step;
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
  // keeping its path: "etc/nginx" lands in TARGET/etc/nginx. A damaged
  // snapshot record fails with its damage (kCorruption).
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

// A piece of a file as RestoreRange wrote it: [begin, end).
struct RestoredRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Restores the part of FILE entry `entry` (its extents assembled, as
// Repository::ReadTree gives them) that covers [offset, offset + length)
// into `fd`, at the file's own offsets, as the Restorer writes whole files:
// chunks fetched a window at a time, checked, written with pwrite; holes
// left as holes. Whole extents are written, so the range grows to the
// extents it touches: what was written is returned. For restore tests of
// disk images, whose whole content would be too much to write back. A
// missing, damaged or wrongly sized chunk is kCorruption; nothing sets the
// file's length or metadata.
Result<RestoredRange> RestoreRange(Repository& repo, const pb::Entry& entry, uint64_t offset,
                                   uint64_t length, int fd);

}  // namespace coffer::restore
