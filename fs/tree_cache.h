// TreeCache: the tree objects of snapshots the mount has read, decoded and
// kept in a cache bounded by their size in memory, least recently used
// evicted first. Directories (SnapshotFs) and the extent parts of large
// files (FileReader) are both read through it. A tree object is read as
// stored: a split directory's parts and a file's extent parts are separate
// objects, read when they are needed. Thread-safe; `repo` must remain live
// while the cache is in use.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "fs/lru_cache.h"
#include "store/repo/repository.h"

namespace coffer::fs {

// One tree object inside a snapshot, as read from the repository: a whole
// directory, one part of a split directory, a split directory's index, or
// one extent part of a file.
struct TreeObject {
  pb::Tree tree;
  // Some entry of this object has extended attributes. For a split
  // directory this is known per part: an entry without them answers as if
  // its directory had none when its part has none.
  bool any_xattrs = false;
  // A split directory's index: where each part's entries start in the
  // directory, and (last) how many entries it has.
  std::vector<uint64_t> part_starts;
  // What the decoded object occupies in memory: its cost in the cache.
  uint64_t memory_bytes = 0;

  bool split() const { return tree.parts_size() > 0; }
  uint64_t entry_count() const {
    return split() ? part_starts.back() : static_cast<uint64_t>(tree.entries_size());
  }
};
using TreeObjectPtr = std::shared_ptr<const TreeObject>;

class TreeCache {
 public:
  TreeCache(Repository& repo, uint64_t capacity_bytes);

  // The tree object `id`, from the cache or read now.
  Result<TreeObjectPtr> Read(const ObjectId& id);
  // Reads the trees below a directory just opened into the cache, breadth
  // first, a batch of kReadAheadBatch per store round trip, until
  // kReadAheadTrees were read: a walk of the tree (`ls -lR`, `find`, `cp -r`)
  // then finds most directories read already, where it would otherwise wait
  // for one round trip each. It looks at no more than 4 * kReadAheadTrees
  // directories, read before or not, and stops once the trees it read take
  // half the cache: more would evict what it read before the walk gets
  // there, and only add to the mount's peak memory. Failures are left for
  // the walk to meet.
  void ReadAheadBelow(const TreeObject& dir);
  static constexpr size_t kReadAheadBatch = 128;
  static constexpr size_t kReadAheadTrees = 512;

  uint64_t used_bytes() const;

 private:
  // Decodes what the object holds besides its tree, and caches it.
  Result<TreeObjectPtr> Keep(const ObjectId& id, pb::Tree tree);

  Repository& repo_;
  const uint64_t capacity_bytes_;
  mutable std::mutex mu_;
  LruCache<ObjectId, TreeObjectPtr, ObjectIdHash> trees_;
};

// Where each of `items` begins when laid end to end from `first`, then
// where the last one ends: a split directory's parts, a file's extents or
// extent parts.
template <typename Items, typename SizeOf>
std::vector<uint64_t> Starts(const Items& items, uint64_t first, SizeOf size_of) {
  std::vector<uint64_t> starts;
  starts.reserve(static_cast<size_t>(items.size()) + 1);
  starts.push_back(first);
  for (const auto& item : items) starts.push_back(starts.back() + size_of(item));
  return starts;
}

// Which item of `starts` (made by Starts) holds `at`: the last that begins at
// or before it. `at` must be below starts.back().
inline size_t ItemHolding(const std::vector<uint64_t>& starts, uint64_t at) {
  return static_cast<size_t>(std::upper_bound(starts.begin(), starts.end() - 1, at) -
                             starts.begin()) -
         1;
}

}  // namespace coffer::fs
