// SnapshotFs: every snapshot of a repository as a read-only directory tree,
// independent of FUSE (the adapter in fuse_adapter.h calls it), so it is
// tested without a mount.
//
//   /TYPE/NAME/TIME/...   one directory per snapshot of group TYPE/NAME
//   /TYPE/NAME/latest     a symlink to the newest snapshot's TIME
//
// The type, group and snapshot directories are synthetic (fs/synthetic_dirs.h;
// mode 0555, owned by the mounting user, times of the newest snapshot below
// them). The snapshot list is read again when a synthetic directory is used
// and the last listing is older than `refresh_after`, so new snapshots appear
// without remounting; a new newest snapshot gives `latest` a new inode, so
// the kernel may cache the link's target. A damaged snapshot record
// (Snapshot::damaged()) is left out, logged once through FsOptions::log;
// `latest` is the newest intact one.
//
// Trees are read lazily, one directory at a time, and kept in a bounded cache
// (fs/tree_cache.h); a directory split into parts (store/model/tree_split.h)
// one part at a time, so a directory of millions of entries costs the cache a
// part or two, not the whole listing; likewise the extent parts of a file of
// millions of chunks, as reads and seeks reach them. Chunks come from a
// ChunkCache. Memory is bounded by `cache_bytes`, split between opened chunks,
// trees and the inode table (which asks the kernel, through KernelCache, to
// drop old names when it is over its share).
//
// Disk images: beside a regular file inside a snapshot that is stored as a
// disk image (in the fixed 64 KiB chunks of store/chunk/image_chunks.h: a
// block device or --image file backed up, a VM disk imported) or is named
// *.img or *.raw, and whose first sectors hold an MBR or GPT with at least
// one partition (fs/partition_table.h), the directory NAME.partitions holds
// one read-only file per partition, named by its number ("1", "5"), whose
// bytes are the partition's bytes of the image, read through the image's
// extents and chunks like the image itself. The table is read when that
// directory is first listed beside the image or looked up, kept in a small
// cache by the image's tree and name (a refused table too, logged once per
// reading), and held by the directory's inode while the kernel knows it. A
// stored entry of that name is shown instead.
//
// Reads, their readahead and the chunks offered to the kernel's page cache
// are FileReader's (fs/file_reader.h).
//
// Thread-safe. All data access goes through `Repository&`, which must remain
// live while this SnapshotFs is in use.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/chunk_cache.h"
#include "fs/inode_table.h"
#include "fs/kernel_cache.h"
#include "fs/lru_cache.h"
#include "fs/partition_table.h"
#include "fs/synthetic_dirs.h"
#include "fs/tree_cache.h"
#include "store/repo/repository.h"

namespace coffer::fs {

struct FsOptions {
  // Memory for caches: a quarter for opened chunks, an eighth for directory
  // listings, an eighth for the inodes the kernel remembers, a 64th for
  // disk images' partition tables. The rest is left for chunks being
  // fetched and opened, and the allocator's slack.
  uint64_t cache_bytes = 64ull << 20;
  // How far a sequential reader's chunks are opened ahead of its reads (at
  // most half the opened chunks' share, so readahead never evicts itself).
  // Twice the kernel's own 4 MiB, so the next batch is on its way while the
  // kernel's requests for the last one are answered.
  uint64_t readahead_bytes = 8ull << 20;
  std::chrono::milliseconds refresh_after{2000};
  std::string group;  // show only this group ("host/web1"); all when empty
  // Have the kernel enforce stored POSIX ACLs (needed when other users may
  // use the mount; the user who mounted holds the key and can read it all).
  bool enforce_acls = false;
  // Seams for tests: a monotonic clock in nanoseconds, and where damage is reported.
  std::function<int64_t()> now_ns;
  std::function<void(const std::string&)> log;
  // Owner of the synthetic directories.
  uid_t uid = 0;
  gid_t gid = 0;
};

// A disk image's partition table, as NAME.partitions shows it.
struct ImagePartitions {
  ObjectId holder;         // the tree object that holds the image's entry
  std::string image_name;  // the image's name in it
  PartitionTable table;    // at least one partition
};

// What lookup and getattr answer.
struct Attr {
  uint64_t ino = 0;
  struct stat st {};
  double timeout = 0;  // seconds the kernel may cache it
};

// One entry of a synthetic directory's listing.
struct DirItem {
  std::string name;
  mode_t type = 0;  // S_IFDIR, S_IFREG, ...
};

// An open directory: its listing, fixed at open so offsets stay meaningful.
// Item 0 is ".", item 1 "..", then the entries. Used by one reader at a time
// (the kernel serializes readdir on an open directory).
struct DirHandle {
  uint64_t ino = 0;
  NodePtr node;
  bool immutable = false;          // inside a snapshot: the kernel may cache the listing
  TreeObjectPtr listing;           // inside a snapshot: the entries, or the index of the parts
  std::vector<DirItem> synthetic;  // synthetic directories: the entries
  // A split directory: the part read last, as readdir goes through them in order.
  size_t part = 0;
  ObjectId part_id;
  TreeObjectPtr part_listing;

  size_t count() const;
};

// Item `index` of an open directory (see SnapshotFs::ItemAt); the views are
// valid while the DirHandle is open and no other item was asked for.
struct DirItemView {
  std::string_view name;
  mode_t type = 0;
  const pb::Entry* entry = nullptr;  // inside a snapshot: the stored entry
  ObjectId holder;                   // inside a snapshot: the tree object holding it
  bool any_xattrs = false;           // some entry of that tree object has extended attributes
};

// Reading files (fs/file_reader.h): what Open returns, and what Read gives.
class FileReader;
struct FileHandle;
struct ReadData;

class SnapshotFs {
 public:
  static constexpr double kSnapshotTimeout = 86400;  // snapshots never change
  static constexpr double kSyntheticTimeout = 1;

  SnapshotFs(Repository& repo, FsOptions options);
  ~SnapshotFs();

  // Lists the snapshots once; an error here means the repository is unusable.
  Status Start();
  // Where offers and trims go; nullptr (the default) for none. `kernel` must
  // remain live while set; clear it before destroying it.
  void SetKernelCache(KernelCache* kernel);

  // Counts one kernel lookup of the returned inode.
  Result<Attr> Lookup(uint64_t parent, std::string_view name);
  void Forget(uint64_t ino, uint64_t n);
  Result<Attr> GetAttr(uint64_t ino);
  Result<std::string> ReadLink(uint64_t ino);

  Result<std::unique_ptr<DirHandle>> OpenDir(uint64_t ino);
  // For readdirplus: the item at `index` of an open directory, looked up
  // (counts one lookup). "." and ".." give ino 0 (not looked up).
  Result<Attr> LookupItem(DirHandle& dir, size_t index);
  // The item at `index` (< dir.count()) of an open directory; reads the part
  // of a split directory that holds it.
  Result<DirItemView> ItemAt(DirHandle& dir, size_t index);

  // The partitions directory that follows item `index` of an open snapshot
  // directory: "NAME.partitions" when that item is a disk image with a
  // partition table (see above), nullopt otherwise. Reads the image's table
  // the first time; one that cannot be read or is refused is logged, and
  // the listing goes on without it.
  Result<std::optional<std::string>> PartitionsDirAfter(DirHandle& dir, size_t index);

  Result<std::unique_ptr<FileHandle>> Open(uint64_t ino);
  // Up to `size` bytes from `offset` of what the handle shows.
  Result<ReadData> Read(FileHandle& file, uint64_t offset, size_t size);
  // SEEK_DATA / SEEK_HOLE; nullopt means ENXIO (no data or hole at or after `offset`).
  Result<std::optional<uint64_t>> Seek(FileHandle& file, uint64_t offset, int whence);

  // What GetXattr finds. kNoneHere: neither the entry nor any other entry of
  // its directory has extended attributes (a filesystem without them would
  // say ENOTSUP, and `ls -l` then stops asking for security labels; the FUSE
  // side says ENODATA for ACLs all the same); kAbsent: the entry has no
  // attribute of that name (ENODATA).
  struct XattrLookup {
    enum class Outcome { kValue, kAbsent, kNoneHere };
    Outcome outcome = Outcome::kNoneHere;
    std::string value;
  };
  // Answered from the inode table alone when the entry has no attributes.
  Result<XattrLookup> GetXattr(uint64_t ino, std::string_view name);
  // Names, each followed by a NUL byte.
  Result<std::string> ListXattr(uint64_t ino);

  // Names the kernel should drop to bring the inode table back within its share.
  std::vector<Eviction> TakeEvictions(size_t max);

  // Reports damage and errors (stderr or syslog, as the options say).
  void Log(const std::string& message) const { options_.log(message); }

  const FsOptions& options() const { return options_; }

  const ChunkCache& chunk_cache() const { return chunks_; }
  size_t inode_count() const { return inodes_.size(); }
  uint64_t inode_bytes() const { return inodes_.bytes(); }
  uint64_t inode_budget() const { return inode_budget_; }
  uint64_t tree_cache_bytes() const;
  // Blocks until queued readahead has finished (for tests).
  void WaitForReadahead();

 private:
  // An entry as stored, and the tree object that holds it (a directory or
  // one part of a split directory).
  struct StoredEntry {
    const pb::Entry* entry = nullptr;  // FindChild: nullptr for no such name
    ObjectId holder;
    TreeObjectPtr holder_tree;  // owns `entry`
  };
  std::shared_ptr<const SyntheticDirs> CurrentDirs(bool refresh);
  Result<std::shared_ptr<const SyntheticDirs>> ListNow();
  Result<TreeObjectPtr> TreeOf(const Node& node);
  // Part `k` of split directory `dir` (tree `dir_id`), checked against its
  // index, and its id.
  Result<std::pair<ObjectId, TreeObjectPtr>> ReadPart(const ObjectId& dir_id, const TreeObject& dir,
                                                      size_t k);
  Result<StoredEntry> FindChild(const ObjectId& dir_id, const TreeObjectPtr& dir,
                                std::string_view name);
  // The stored entry of a kEntry node.
  Result<StoredEntry> EntryOf(const Node& node);
  Result<Attr> AcquireChild(uint64_t parent_ino, const Node& parent, const ObjectId& holder,
                            const pb::Entry& entry, bool xattrs_nearby);
  Result<uint64_t> AcquireSynthetic(const NodePtr& parent, std::string_view name,
                                    const SyntheticDirs& dirs);
  Attr AttrOf(uint64_t ino, const Node& node, const pb::Entry* entry,
              const SyntheticDirs& dirs) const;
  std::string PathOf(const Node& node) const;
  // "host/web1/TIME/etc/name" for `name` in directory `dir`, for log lines.
  std::string PathIn(const Node& dir, std::string_view name) const;

  // The partition table shown for image `entry` held by tree `holder`, from
  // the cache or read now; nullptr when none is shown. `path` is for logs.
  Result<std::shared_ptr<const ImagePartitions>> PartitionsOf(const ObjectId& holder,
                                                              const pb::Entry& entry,
                                                              const std::string& path);
  // NAME.partitions in snapshot directory `parent` (whose tree is `tree`).
  Result<Attr> LookupPartitions(uint64_t parent_ino, const Node& parent, const TreeObjectPtr& tree,
                                std::string_view name);
  // A partition's file in `parent`, a kPartitions directory.
  Result<Attr> LookupPartition(uint64_t parent_ino, const Node& parent, std::string_view name);
  // The image entry behind a kPartitions or kPartition node.
  Result<StoredEntry> ImageEntryOf(const Node& node);
  Attr PartitionAttr(uint64_t ino, const Node& node, const pb::Entry& image) const;

  Repository& repo_;
  FsOptions options_;
  uint64_t inode_budget_;
  InodeTable inodes_;
  ChunkCache chunks_;  // its loaders use repo_

  std::mutex dirs_mu_;
  std::shared_ptr<const SyntheticDirs> dirs_;
  std::mutex refresh_mu_;  // one listing at a time
  // Damaged records already logged, so each is logged once, not at every listing.
  std::mutex damage_mu_;
  std::set<SnapshotRef> damage_logged_;

  TreeCache trees_;

  // By the image's tree id and name; nullptr: no partitions shown.
  std::mutex tables_mu_;
  LruCache<std::string, std::shared_ptr<const ImagePartitions>> tables_;

  std::atomic<KernelCache*> kernel_{nullptr};
  std::unique_ptr<FileReader> reader_;  // uses chunks_, trees_ and kernel_
};

}  // namespace coffer::fs
