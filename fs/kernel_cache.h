// KernelCache: what SnapshotFs tells the kernel's caches besides answering
// requests. The FUSE side implements it (kernel_notifier.h); SnapshotFs and
// its FileReader call it, so neither needs FUSE to be tested.
#pragma once

#include <cstdint>

#include "fs/chunk_cache.h"
#include "store/base/bytes.h"

namespace coffer::fs {

// Calls must not block.
class KernelCache {
 public:
  virtual ~KernelCache() = default;
  // File data the kernel has not asked for: `data` is [offset, offset +
  // data.size()) of file `ino`, whole pages (or up to the end of the file);
  // `keep` owns the memory.
  virtual void Offer(uint64_t ino, uint64_t offset, ByteView data, ChunkPtr keep) = 0;
  // The inode table is over its share: drop SnapshotFs::TakeEvictions().
  virtual void Trim() = 0;
};

}  // namespace coffer::fs
