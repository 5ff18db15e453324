// InodeTable: the inode numbers the kernel knows, with their lookup counts.
//
// Every node has a key that says what it is (a synthetic path, a child of a
// directory by name, a hardlink group of one snapshot, or an image's
// partitions directory and a partition in it), so looking the same
// thing up twice gives the same inode while the kernel remembers it. The
// kernel's lookups are counted; a node whose count drops to zero is dropped
// unless it is pinned (the synthetic directories, which are few). Inode
// numbers are never reused. Thread-safe; nodes are immutable once made.
//
// Nodes are small on purpose: an entry's node says where the entry is (the
// tree that holds it, and its name), not what it holds, so the table costs
// a few hundred bytes per inode the kernel remembers. The kernel keeps a dentry
// and an inode for every name it has seen until memory runs short, so a walk
// over a million files would still make a million nodes; the table therefore
// counts its bytes, and when they exceed the budget it offers the oldest
// unused entries (files and symlinks, never directories; partitions are few
// and left to the kernel's own forgetting) for eviction: the
// caller asks the kernel to drop those names, and the kernel's forgets then
// shrink the table.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/base/object_id.h"
#include "store/model/coffer.pb.h"
#include "store/repo/repository.h"

namespace coffer::fs {

struct ImagePartitions;  // snapshot_fs.h

struct Node {
  enum class Kind : uint8_t {
    kRoot,        // MOUNT/
    kType,        // MOUNT/host
    kGroup,       // MOUNT/host/web1
    kLatest,      // MOUNT/host/web1/latest (a symlink to `snapshot`)
    kSnapshot,    // MOUNT/host/web1/2026-11-24T02:00:00Z
    kEntry,       // anything inside a snapshot
    kPartitions,  // MOUNT/.../disk.img.partitions: beside a disk image inside a snapshot
    kPartition,   // MOUNT/.../disk.img.partitions/1: one partition of that image
  };
  Kind kind = Kind::kRoot;
  pb::Entry::Type type = pb::Entry::FILE;  // kEntry
  bool has_xattrs = false;                 // kEntry: the stored entry has extended attributes
  bool xattrs_nearby = false;              // kEntry: some entry of its directory has them
  uint32_t partition = 0;                  // kPartition: its index in image->table.partitions
  uint64_t parent = 0;                     // the inode looked up in (for kEntry: the first link's)
  // kEntry: its name in `holder`; synthetic nodes: their path ("host",
  // "host/web1", "host/web1/TIME", "host/web1/latest").
  std::string name;
  std::shared_ptr<const Snapshot> snapshot;  // kSnapshot, kEntry; kLatest: its target
  ObjectId holder;                           // kEntry: the tree that holds the entry
  ObjectId subtree;  // directories inside a snapshot: their tree; kSnapshot: the root tree
  // kPartitions, kPartition: the image and its partition table, parsed once
  // when the directory was first looked up and kept while the kernel knows it.
  std::shared_ptr<const ImagePartitions> image;
};
using NodePtr = std::shared_ptr<const Node>;

// A name the kernel should drop so that it forgets `ino`.
struct Eviction {
  uint64_t parent = 0;
  std::string name;
  uint64_t ino = 0;
};

class InodeTable {
 public:
  static constexpr uint64_t kRootIno = 1;

  InodeTable();

  // The inode for `key`, made by `make` when absent; counts one lookup.
  uint64_t Acquire(const std::string& key, const std::function<NodePtr()>& make, bool pinned);
  // The node, or nullptr for an inode the table does not know.
  NodePtr Get(uint64_t ino) const;
  // The inode for `key` if known, without counting a lookup; 0 otherwise.
  uint64_t Peek(const std::string& key) const;
  // The kernel forgot `n` lookups of `ino`.
  void Forget(uint64_t ino, uint64_t n);

  // When the table holds more than `budget_bytes`: up to `max` evictable
  // nodes, oldest unused first, enough to bring it to three quarters of the
  // budget. Each is offered once until it is looked up again.
  std::vector<Eviction> TakeEvictions(uint64_t budget_bytes, size_t max);

  size_t size() const;
  uint64_t bytes() const;  // an estimate of the table's memory

 private:
  struct Slot {
    NodePtr node;
    uint64_t lookups = 0;
    std::string key;
    uint64_t cost = 0;
    bool pinned = false;
    bool used = false;     // looked up again since it was queued: a second chance
    bool offered = false;  // offered for eviction; waiting for the kernel to forget
  };
  static uint64_t CostOf(const Slot& slot);
  static bool Evictable(const Node& node);

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Slot> slots_;
  std::unordered_map<std::string_view, uint64_t> by_key_;  // views of Slot::key
  std::deque<uint64_t> evictable_;                         // candidates in the order they were made
  uint64_t next_ = kRootIno + 1;
  uint64_t bytes_ = 0;
  uint64_t offered_bytes_ = 0;  // of slots offered for eviction and not yet forgotten
  bool trimming_ = false;       // over the budget, going down to three quarters of it
};

}  // namespace coffer::fs
