// InodeTable: the inode numbers the kernel knows, with their lookup counts.
//
// Every node has a key that says what it is (a synthetic path, a child of a
// directory by name, or a hardlink group of one snapshot), so looking the same
// thing up twice gives the same inode while the kernel remembers it. The
// kernel's lookups are counted; a node whose count drops to zero is dropped
// unless it is pinned (the synthetic directories, which are few). Inode
// numbers are never reused. Thread-safe; nodes are immutable once made.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "store/model/coffer.pb.h"
#include "store/repo/repository.h"

namespace coffer::fs {

struct Node {
  enum class Kind {
    kRoot,      // MOUNT/
    kType,      // MOUNT/host
    kGroup,     // MOUNT/host/web1
    kLatest,    // MOUNT/host/web1/latest (a symlink)
    kSnapshot,  // MOUNT/host/web1/2026-11-24T02:00:00Z
    kEntry,     // anything inside a snapshot
  };
  Kind kind = Kind::kRoot;
  uint64_t parent = 0;    // the inode looked up in (for kEntry: the first link's)
  std::string name;       // the last path component
  std::string path;       // synthetic nodes: "host", "host/web1", "host/web1/TIME"
  std::shared_ptr<const Snapshot> snapshot;  // kSnapshot, kEntry
  pb::Entry entry;        // kEntry
};
using NodePtr = std::shared_ptr<const Node>;

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
  size_t size() const;

 private:
  struct Slot {
    NodePtr node;
    uint64_t lookups = 0;
    std::string key;
    bool pinned = false;
  };
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Slot> slots_;
  std::unordered_map<std::string, uint64_t> by_key_;
  uint64_t next_ = kRootIno + 1;
};

}  // namespace coffer::fs
