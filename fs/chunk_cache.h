// ChunkCache: opened (authenticated, decompressed) chunks, bounded by their
// total size and evicted least recently used first.
//
// Thread-safe. Concurrent requests for one chunk load it once: the first
// caller runs the loader, the others wait for its result. Failures are not
// cached, so a transient error is retried on the next read.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "fs/lru_cache.h"
#include "store/base/bytes.h"
#include "store/base/object_id.h"
#include "store/base/status.h"

namespace coffer::fs {

using ChunkPtr = std::shared_ptr<const Bytes>;

class ChunkCache {
 public:
  using Loader = std::function<Result<Bytes>(const ObjectId&)>;

  explicit ChunkCache(uint64_t capacity_bytes) : lru_(capacity_bytes) {}

  // The chunk `id`, from the cache or from `load`.
  Result<ChunkPtr> Get(const ObjectId& id, const Loader& load);

  uint64_t loads() const;   // loader calls so far
  uint64_t used_bytes() const;

 private:
  using Pending = std::shared_future<Result<ChunkPtr>>;

  mutable std::mutex mu_;
  LruCache<ObjectId, ChunkPtr, ObjectIdHash> lru_;
  std::unordered_map<ObjectId, Pending, ObjectIdHash> loading_;
  uint64_t loads_ = 0;
};

}  // namespace coffer::fs
