// ChunkCache: opened (authenticated, decompressed) chunks, bounded by their
// total size and evicted least recently used first.
//
// Chunks are opened by the cache's own loader threads, so different chunks
// load in parallel while their number stays fixed: each load holds a few
// copies of its chunk while it is fetched and opened, and the codecs keep
// per-thread scratch buffers, so a fixed set of loaders bounds that memory
// however many threads ask. Requests for one chunk load it once: the first
// queues the load, the others wait for the same result. Readahead (Prefetch)
// queues behind every pending Get and is dropped when too much is queued.
// Given a batch loader, a loader takes several queued readahead chunks at
// once (its share of the queue, at most kMaxAheadBatchBytes and
// kMaxAheadBatch chunks) and fetches them with one call: through a server,
// one round trip for them all. Both the queue and the batches are bounded in
// bytes, not chunks: a disk image's 64 KiB chunks are sixteen times as many
// per byte as a file's 1 MiB ones, and one round trip per four of them would
// cost more than opening them. A chunk a reader
// waits for leads its batch, followed by the readahead queued first (the
// same reader's next chunks, usually), and each chunk of a batch is ready as
// soon as it is opened: the reader waits for its own chunk only, and a
// sequential reader costs one round trip per batch rather than per chunk.
// Failures are not cached, so a transient error is retried on the next read.
//
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "fs/lru_cache.h"
#include "store/base/bytes.h"
#include "store/base/object_id.h"
#include "store/base/status.h"

namespace coffer::fs {

using ChunkPtr = std::shared_ptr<const Bytes>;

class ChunkCache {
 public:
  using Loader = std::function<Result<Bytes>(const ObjectId&)>;
  // Hands one answer per id to `use`, in order, each as soon as it is ready
  // (as Repository::ReadObjects); an error of the whole call fails the ids
  // not answered yet.
  using BatchVisitor = std::function<void(size_t index, Result<Bytes> chunk)>;
  using BatchLoader = std::function<Status(std::span<const ObjectId>, const BatchVisitor& use)>;
  // One batch of readahead: at most this many bytes (as Prefetch was told)
  // and chunks. Two of a file's average chunks; 32 of a disk image's. Smaller
  // batches keep more loaders busy at once (a disk image read through the
  // mount went twice as fast as with 4 MiB ones) and hold less in flight.
  static constexpr uint64_t kMaxAheadBatchBytes = 2ull << 20;
  static constexpr size_t kMaxAheadBatch = 64;
  // Readahead waiting beyond this many bytes is refused: it would arrive late.
  static constexpr uint64_t kMaxQueuedAheadBytes = 16ull << 20;

  // `load` (and `load_many`, if given) run on `loaders` threads of the cache's own.
  ChunkCache(uint64_t capacity_bytes, Loader load, unsigned loaders = 3,
             BatchLoader load_many = nullptr);
  // Finishes the loads in progress; queued ones fail.
  ~ChunkCache();
  ChunkCache(const ChunkCache&) = delete;
  ChunkCache& operator=(const ChunkCache&) = delete;

  // The chunk `id`, from the cache or loaded now.
  Result<ChunkPtr> Get(const ObjectId& id);
  enum class Prefetched {
    kQueued,
    kHeld,       // cached or loading already
    kQueueFull,  // kMaxQueuedAheadBytes wait already: ask again later
  };
  // Queues a load of `id`, a chunk of `bytes` bytes (the batches' measure),
  // if it is neither cached nor loading.
  Prefetched Prefetch(const ObjectId& id, uint64_t bytes);
  // Whether `id` is cached or being loaded (no load, no change of order).
  bool Has(const ObjectId& id) const;
  // Blocks until no load is queued or running (for tests).
  void WaitIdle() const;

  uint64_t loads() const;  // loader calls so far
  uint64_t used_bytes() const;
  unsigned max_parallel_loads() const;  // the most loads that ran at once

 private:
  using Pending = std::shared_future<Result<ChunkPtr>>;
  struct Load {
    std::promise<Result<ChunkPtr>> promise;
    Pending result;
    bool wanted = false;  // a Get waits for it: in the demand queue
    bool started = false;
  };
  using Job = std::pair<ObjectId, std::shared_ptr<Load>>;
  void Work();
  // The next loads for one loader, marked started. Call with mu_ held.
  std::vector<Job> TakeLocked();
  // Run `load` or `load_many` and publish the results; called by a loader
  // without the lock.
  void Run(const Job& job);
  void RunMany(const std::vector<Job>& jobs);
  void Publish(const Job& job, Result<ChunkPtr> result);

  const Loader load_;
  const BatchLoader load_many_;
  const unsigned loader_count_;
  mutable std::mutex mu_;
  std::condition_variable work_;
  mutable std::condition_variable idle_;
  LruCache<ObjectId, ChunkPtr, ObjectIdHash> lru_;
  std::unordered_map<ObjectId, std::shared_ptr<Load>, ObjectIdHash> loading_;
  std::deque<ObjectId> wanted_;  // loads a reader waits for, first
  struct Ahead {
    ObjectId id;
    uint64_t bytes;
  };
  std::deque<Ahead> ahead_;   // readahead, when no reader waits
  uint64_t ahead_bytes_ = 0;  // the sum of ahead_'s bytes
  uint64_t loads_ = 0;
  unsigned running_ = 0;
  unsigned max_running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> loaders_;  // last: they use everything above
};

}  // namespace coffer::fs
