// Archiver: turns directory trees or a byte stream into a committed snapshot.
//
// The walk runs in the calling thread, directory by directory, in name order;
// file contents are read, chunked and hashed by a pool of file workers while
// the walk goes on, and sealed by the WriteSession's workers. A directory's
// tree is written once all its entries are known, bottom-up; the snapshot
// record is committed last (WriteSession::Commit).
//
// Change detection: a file whose size, mtime, ctime and inode match the same
// path in the parent snapshot is not read; its extents and xattrs are reused.
//
// Sources that cannot be read are reported in BackupResult::errors and left
// out; the snapshot is still committed and marked incomplete.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/repo/repository.h"

namespace coffer::ingest {

struct BackupOptions {
  std::string group;    // validated by the caller
  int64_t time_ns = 0;  // whole seconds
  std::vector<std::string> tags;
  std::vector<std::string> excludes;  // fnmatch patterns (exclude.h)
  bool one_file_system = false;
  bool force = false;  // read every file, ignore the parent
  // Regular files named in the paths are disk images: fixed, aligned chunks
  // (image_builder.h), as block devices named there always are.
  bool image = false;
  std::string hostname;
  std::string username;
  unsigned threads = 0;  // 0: one per core
};

// Live counters for a progress display; read from any thread.
struct BackupProgress {
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> dirs{0};
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> errors{0};
  void set_current(std::string path) {
    std::lock_guard lock(mutex);
    current = std::move(path);
  }
  std::string current_path() {
    std::lock_guard lock(mutex);
    return current;
  }
  std::mutex mutex;
  std::string current;
};

struct SourceError {
  std::string path;
  Status status;
};

struct BackupResult {
  Snapshot snapshot;
  std::vector<SourceError> errors;
};

class Archiver {
 public:
  // `repo` and `progress` (may be null) must remain live while the Archiver is in use.
  Archiver(Repository& repo, BackupOptions options, BackupProgress* progress);

  // Backs up `paths` (absolute or relative to the working directory), stored
  // under their absolute paths without the leading slash.
  Result<BackupResult> BackupPaths(const std::vector<std::string>& paths);

  // Backs up the stream `fd` until EOF as one file named `name` at the root.
  // `producer_done` is called at EOF; if it fails, nothing is committed and
  // its status is returned (a dump command that failed must not leave a
  // snapshot that looks complete).
  Result<BackupResult> BackupStream(int fd, const std::string& name,
                                    const std::function<Status()>& producer_done);

 private:
  Repository& repo_;
  BackupOptions options_;
  BackupProgress* progress_;
  BackupProgress own_progress_;
};

// "a/./b/../c" relative to `cwd` -> "/a/c", without touching the filesystem
// (a symlink given on the command line is stored as the link, like restic).
std::string AbsolutePath(const std::string& path, const std::string& cwd);

}  // namespace coffer::ingest
