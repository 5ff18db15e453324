// SnapshotFs: every snapshot of a repository as a read-only directory tree,
// independent of FUSE (the adapter in fuse_adapter.h calls it), so it is
// tested without a mount.
//
//   /TYPE/NAME/TIME/...   one directory per snapshot of group TYPE/NAME
//   /TYPE/NAME/latest     a symlink to the newest snapshot's TIME
//
// The type, group and snapshot directories are synthetic (mode 0555, owned by
// the mounting user, times of the newest snapshot below them). The snapshot
// list is read again when a synthetic directory is used and the last listing
// is older than `refresh_after`, so new snapshots appear without remounting.
// Trees are read lazily, one directory at a time, and kept in a bounded cache;
// chunks come from a ChunkCache.
//
// Thread-safe. All data access goes through `Repository&`, which must remain
// live while this SnapshotFs is in use.
#pragma once

#include <sys/stat.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fs/chunk_cache.h"
#include "fs/inode_table.h"
#include "fs/lru_cache.h"
#include "store/repo/repository.h"

namespace coffer::fs {

struct FsOptions {
  uint64_t chunk_cache_bytes = 64ull << 20;
  uint64_t tree_cache_bytes = 32ull << 20;
  std::chrono::milliseconds refresh_after{2000};
  std::string group;  // show only this group ("host/web1"); all when empty
  // Seams for tests: a monotonic clock in nanoseconds, and where damage is reported.
  std::function<int64_t()> now_ns;
  std::function<void(const std::string&)> log;
  // Owner of the synthetic directories.
  uid_t uid = 0;
  gid_t gid = 0;
};

// What lookup and getattr answer.
struct Attr {
  uint64_t ino = 0;
  struct stat st {};
  double timeout = 0;  // seconds the kernel may cache it
};

// One entry of a directory listing.
struct DirItem {
  std::string name;
  mode_t type = 0;  // S_IFDIR, S_IFREG, ...
  uint64_t next_offset = 0;
};

// An open directory: its listing, fixed at open so offsets stay meaningful.
struct DirHandle {
  uint64_t ino = 0;
  bool immutable = false;      // inside a snapshot: the kernel may cache the listing
  std::vector<DirItem> items;  // ".", "..", then the entries
};

// An open file: its entry and the start offset of every extent.
struct FileHandle {
  NodePtr node;
  std::vector<uint64_t> starts;  // starts[i] = offset of extent i; one past the end: the sum
  std::string path;              // for log lines: "host/web1/TIME/etc/fstab"
};

// The data of one read: iovecs into chunks kept alive by `keep`.
struct ReadData {
  std::vector<ChunkPtr> keep;
  std::vector<struct iovec> iov;
  size_t size = 0;
};

class SnapshotFs {
 public:
  static constexpr double kSnapshotTimeout = 86400;  // snapshots never change
  static constexpr double kSyntheticTimeout = 1;

  SnapshotFs(Repository& repo, FsOptions options);

  // Lists the snapshots once; an error here means the repository is unusable.
  Status Start();

  // Counts one kernel lookup of the returned inode.
  Result<Attr> Lookup(uint64_t parent, std::string_view name);
  void Forget(uint64_t ino, uint64_t n);
  Result<Attr> GetAttr(uint64_t ino);
  Result<std::string> ReadLink(uint64_t ino);

  Result<std::unique_ptr<DirHandle>> OpenDir(uint64_t ino);
  // For readdirplus: the item at `index` of an open directory, looked up
  // (counts one lookup). "." and ".." give ino 0 (not looked up).
  Result<Attr> LookupItem(const DirHandle& dir, const DirItem& item);

  Result<std::unique_ptr<FileHandle>> Open(uint64_t ino);
  Result<ReadData> Read(const FileHandle& file, uint64_t offset, size_t size);
  // SEEK_DATA / SEEK_HOLE; nullopt means ENXIO (no data or hole at or after `offset`).
  Result<std::optional<uint64_t>> Seek(const FileHandle& file, uint64_t offset, int whence);

  // nullopt: no such attribute (ENODATA).
  Result<std::optional<std::string>> GetXattr(uint64_t ino, std::string_view name);
  // Names, each followed by a NUL byte.
  Result<std::string> ListXattr(uint64_t ino);

  // Reports damage and errors (stderr or syslog, as the options say).
  void Log(const std::string& message) const { options_.log(message); }

  const ChunkCache& chunk_cache() const { return chunks_; }
  size_t inode_count() const { return inodes_.size(); }

 private:
  struct Index;
  std::shared_ptr<const Index> CurrentIndex(bool refresh);
  Result<std::shared_ptr<const Index>> ListNow();
  Result<std::shared_ptr<const pb::Tree>> TreeOf(const Node& node);
  Result<std::shared_ptr<const pb::Tree>> ReadTree(const std::string& id_bytes);
  Result<Attr> AcquireChild(uint64_t parent_ino, const Node& parent, const pb::Entry& entry);
  Result<uint64_t> AcquireSynthetic(const NodePtr& parent, std::string_view name, const Index& index);
  Attr AttrOf(uint64_t ino, const Node& node, const Index& index) const;
  std::string PathOf(const Node& node) const;

  Repository& repo_;
  FsOptions options_;
  InodeTable inodes_;
  ChunkCache chunks_;

  std::mutex index_mu_;
  std::shared_ptr<const Index> index_;
  std::mutex refresh_mu_;  // one listing at a time

  std::mutex trees_mu_;
  LruCache<std::string, std::shared_ptr<const pb::Tree>> trees_;
};

}  // namespace coffer::fs
