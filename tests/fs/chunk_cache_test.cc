#include "fs/chunk_cache.h"

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace coffer::fs {
namespace {

ObjectId Id(uint8_t n) {
  ObjectId id;
  id.bytes[0] = n;
  return id;
}

ChunkCache::Loader Counting(std::atomic<int>* calls, size_t size) {
  return [calls, size](const ObjectId& id) -> Result<Bytes> {
    ++*calls;
    return Bytes(size, id.bytes[0]);
  };
}

// A loader that holds every load until released, counting those it holds.
class Gate {
 public:
  ChunkCache::Loader Loader(size_t size) {
    return [this, size](const ObjectId& id) -> Result<Bytes> {
      std::unique_lock lock(mu_);
      ++waiting_;
      started_.insert(id.bytes[0]);
      order_.push_back(id.bytes[0]);
      changed_.notify_all();
      changed_.wait(lock, [this] { return open_; });
      --waiting_;
      return Bytes(size, id.bytes[0]);
    };
  }
  // Waits until `n` loads are held at once (bounded: false after 10 s).
  bool AwaitWaiting(int n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return waiting_ >= n; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  std::set<uint8_t> started() {
    std::lock_guard lock(mu_);
    return started_;
  }
  std::vector<uint8_t> order() {
    std::lock_guard lock(mu_);
    return order_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int waiting_ = 0;
  bool open_ = false;
  std::set<uint8_t> started_;
  std::vector<uint8_t> order_;
};

constexpr uint64_t kFileChunk = 1 << 20;    // a file's average chunk
constexpr uint64_t kImageChunk = 64 << 10;  // a disk image's chunk

// Holds a cache's only loader with a (gated) load of chunk 1, queues
// readahead of chunks `from` to `to` (of `bytes` each) behind it, runs
// `meanwhile` (which may start readers), then opens the gate; returns once
// every load has run.
void BehindABusyLoader(
    ChunkCache& cache, Gate& gate, uint8_t from, uint8_t to,
    const std::function<void()>& meanwhile = [] {}, uint64_t bytes = kFileChunk) {
  std::thread first([&] { (void)cache.Get(Id(1)); });
  const bool held = gate.AwaitWaiting(1);
  EXPECT_TRUE(held) << "the first load never started";
  if (held) {
    for (uint8_t n = from; n <= to; ++n) {
      EXPECT_EQ(cache.Prefetch(Id(n), bytes), ChunkCache::Prefetched::kQueued);
    }
    meanwhile();
  }
  gate.Open();
  first.join();
  cache.WaitIdle();
}

TEST(ChunkCacheTest, SecondGetIsServedFromTheCache) {
  std::atomic<int> calls{0};
  ChunkCache cache(1 << 20, Counting(&calls, 100));
  auto a = cache.Get(Id(1));
  auto b = cache.Get(Id(1));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ((**b)[0], 1);
}

TEST(ChunkCacheTest, EvictsLeastRecentlyUsedWhenFull) {
  std::atomic<int> calls{0};
  ChunkCache cache(2 * 1200, Counting(&calls, 1000));  // room for two chunks of 1000 bytes
  ASSERT_TRUE(cache.Get(Id(1)).ok());
  ASSERT_TRUE(cache.Get(Id(2)).ok());
  ASSERT_TRUE(cache.Get(Id(1)).ok());  // 1 is now the most recent
  ASSERT_TRUE(cache.Get(Id(3)).ok());  // evicts 2
  EXPECT_EQ(calls, 3);
  ASSERT_TRUE(cache.Get(Id(1)).ok());
  EXPECT_EQ(calls, 3);
  ASSERT_TRUE(cache.Get(Id(2)).ok());
  EXPECT_EQ(calls, 4);
  EXPECT_LE(cache.used_bytes(), 2u * 1200);
}

TEST(ChunkCacheTest, KeepsTheLatestChunkEvenWhenItIsLargerThanTheCache) {
  std::atomic<int> calls{0};
  ChunkCache cache(1000, Counting(&calls, 4000));
  ASSERT_TRUE(cache.Get(Id(1)).ok());
  ASSERT_TRUE(cache.Get(Id(1)).ok());
  EXPECT_EQ(calls, 1) << "a chunk read piece by piece must not be opened for every piece";
  ASSERT_TRUE(cache.Get(Id(2)).ok());
  ASSERT_TRUE(cache.Get(Id(1)).ok());
  EXPECT_EQ(calls, 3) << "only the latest one stays";
}

TEST(ChunkCacheTest, FailuresAreNotCached) {
  std::atomic<int> calls{0};
  ChunkCache cache(1 << 20, [&](const ObjectId&) -> Result<Bytes> {
    ++calls;
    return Status::Corruption("bad tag");
  });
  EXPECT_EQ(cache.Get(Id(1)).status().code(), Code::kCorruption);
  EXPECT_EQ(cache.Get(Id(1)).status().code(), Code::kCorruption);
  EXPECT_EQ(calls, 2);
}

TEST(ChunkCacheTest, ConcurrentReadersOfOneChunkLoadItOnce) {
  Gate gate;
  std::atomic<int> calls{0};
  auto held = gate.Loader(1 << 20);
  ChunkCache cache(64 << 20, [&](const ObjectId& id) {
    ++calls;
    return held(id);
  });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (cache.Get(Id(7)).ok()) ++ok;
    });
  }
  ASSERT_TRUE(gate.AwaitWaiting(1));
  gate.Open();
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cache.loads(), 1u);
}

TEST(ChunkCacheTest, DifferentChunksLoadInParallelUpToTheLoaderCount) {
  Gate gate;
  ChunkCache cache(64 << 20, gate.Loader(1000), /*loaders=*/3);
  std::vector<std::thread> readers;
  std::atomic<int> ok{0};
  for (uint8_t n = 1; n <= 5; ++n) {
    readers.emplace_back([&, n] {
      auto chunk = cache.Get(Id(n));
      if (chunk.ok() && (**chunk)[0] == n) ++ok;
    });
  }
  // Three loads are held at once: none waits for another to finish.
  ASSERT_TRUE(gate.AwaitWaiting(3)) << "loads of different chunks ran one after another";
  EXPECT_EQ(gate.started().size(), 3u) << "more loads ran at once than there are loaders";
  gate.Open();
  for (auto& t : readers) t.join();
  EXPECT_EQ(ok, 5);
  EXPECT_EQ(cache.max_parallel_loads(), 3u);
}

TEST(ChunkCacheTest, PrefetchLoadsInTheBackgroundAndGetFindsIt) {
  std::atomic<int> calls{0};
  ChunkCache cache(1 << 20, Counting(&calls, 100));
  EXPECT_EQ(cache.Prefetch(Id(4), 100), ChunkCache::Prefetched::kQueued);
  EXPECT_EQ(cache.Prefetch(Id(4), 100), ChunkCache::Prefetched::kHeld) << "queued already";
  cache.WaitIdle();
  EXPECT_TRUE(cache.Has(Id(4)));
  auto chunk = cache.Get(Id(4));
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ((**chunk)[0], 4);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cache.Prefetch(Id(4), 100), ChunkCache::Prefetched::kHeld) << "cached already";
}

TEST(ChunkCacheTest, AReaderIsServedBeforeQueuedReadahead) {
  Gate gate;
  ChunkCache cache(64 << 20, gate.Loader(10), /*loaders=*/1);
  std::thread reader;
  BehindABusyLoader(cache, gate, 2, 5, [&] {
    reader = std::thread([&] { (void)cache.Get(Id(9)); });
    // Bounded poll until the reader has asked (Has() turns true then).
    for (int i = 0; i < 100000 && !cache.Has(Id(9)); ++i) std::this_thread::yield();
    EXPECT_TRUE(cache.Has(Id(9)));
  });
  if (reader.joinable()) reader.join();
  EXPECT_EQ(gate.order(), (std::vector<uint8_t>{1, 9, 2, 3, 4, 5}));
}

// A batch loader that answers each id with `answer` and records the size
// of every batch it is given.
class BatchSizes {
 public:
  explicit BatchSizes(std::function<Result<Bytes>(const ObjectId&)> answer)
      : answer_(std::move(answer)) {}
  ChunkCache::BatchLoader Loader() {
    return [this](std::span<const ObjectId> ids, const ChunkCache::BatchVisitor& use) {
      {
        std::lock_guard lock(mu_);
        sizes_.push_back(ids.size());
      }
      for (size_t i = 0; i < ids.size(); ++i) use(i, answer_(ids[i]));
      return Status::Ok();
    };
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }

 private:
  std::function<Result<Bytes>(const ObjectId&)> answer_;
  std::mutex mu_;
  std::vector<size_t> sizes_;
};

TEST(ChunkCacheTest, QueuedReadaheadIsFetchedInBatchesAndEachAnswerStandsAlone) {
  Gate gate;
  BatchSizes batches([](const ObjectId& id) -> Result<Bytes> {
    if (id.bytes[0] == 3) return Status::Corruption("bad tag");
    return Bytes(10, id.bytes[0]);
  });
  ChunkCache cache(64 << 20, gate.Loader(10), /*loaders=*/1, batches.Loader());
  BehindABusyLoader(cache, gate, 2, 7);
  EXPECT_EQ(batches.sizes(), (std::vector<size_t>{2, 2, 2}))
      << "two 1 MiB chunks make kMaxAheadBatchBytes";
  EXPECT_FALSE(cache.Has(Id(3))) << "a failure is not cached";
  for (uint8_t n : {2, 4, 5, 6, 7}) {
    EXPECT_TRUE(cache.Has(Id(n))) << int(n);
    auto chunk = cache.Get(Id(n));
    ASSERT_TRUE(chunk.ok());
    EXPECT_EQ(**chunk, Bytes(10, n));
  }
  EXPECT_EQ(gate.order(), std::vector<uint8_t>{1}) << "readahead went through the single loader";
}

// A reader's chunk leads a batch with the readahead queued behind it, and the
// reader has it as soon as it is opened, before the rest of the batch.
TEST(ChunkCacheTest, AReadersChunkLeadsABatchOfTheReadaheadQueuedBehindIt) {
  Gate gate;
  std::mutex mu;
  std::condition_variable changed;
  std::vector<std::vector<uint8_t>> batches;
  bool reader_has_chunk = false;
  auto load_many = [&](std::span<const ObjectId> ids, const ChunkCache::BatchVisitor& use) {
    std::vector<uint8_t> batch;
    for (const ObjectId& id : ids) batch.push_back(id.bytes[0]);
    {
      std::lock_guard lock(mu);
      batches.push_back(batch);
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      use(i, Bytes(10, ids[i].bytes[0]));
      if (i == 0 && ids[0].bytes[0] == 2) {  // the rest waits until the reader has its chunk
        std::unique_lock lock(mu);
        if (!changed.wait_for(lock, std::chrono::seconds(10), [&] { return reader_has_chunk; })) {
          return Status::IoError("the reader never got the first chunk of its batch");
        }
      }
    }
    return Status::Ok();
  };
  ChunkCache cache(64 << 20, gate.Loader(10), /*loaders=*/1, load_many);
  Result<ChunkPtr> got = Status::IoError("not read");
  std::thread reader;
  BehindABusyLoader(cache, gate, 3, 7, [&] {
    reader = std::thread([&] {
      got = cache.Get(Id(2));
      std::lock_guard lock(mu);
      reader_has_chunk = true;
      changed.notify_all();
    });
    // Bounded poll until the reader has asked (Has() turns true then).
    for (int i = 0; i < 100000 && !cache.Has(Id(2)); ++i) std::this_thread::yield();
    EXPECT_TRUE(cache.Has(Id(2)));
  });
  if (reader.joinable()) reader.join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(**got, Bytes(10, 2));
  std::lock_guard lock(mu);
  ASSERT_FALSE(batches.empty());
  EXPECT_EQ(batches.front(), (std::vector<uint8_t>{2, 3, 4}))
      << "the reader's chunk first, then the readahead queued first, kMaxAheadBatchBytes of it";
  for (uint8_t n = 2; n <= 7; ++n) EXPECT_TRUE(cache.Has(Id(n))) << int(n);
}

// A disk image's 64 KiB chunks: a batch is measured in bytes, so one round
// trip takes 32 of them where it takes two of a file's.
TEST(ChunkCacheTest, SmallChunksGoThirtyTwoToABatch) {
  Gate gate;
  BatchSizes batches([](const ObjectId& id) -> Result<Bytes> { return Bytes(10, id.bytes[0]); });
  ChunkCache cache(64 << 20, gate.Loader(10), /*loaders=*/1, batches.Loader());
  BehindABusyLoader(
      cache, gate, 2, 70, [] {}, kImageChunk);  // 69 chunks, 4.3 MiB
  EXPECT_EQ(batches.sizes(), (std::vector<size_t>{32, 32, 5}));
  for (uint8_t n = 2; n <= 70; ++n) EXPECT_TRUE(cache.Has(Id(n))) << int(n);
}

// Readahead is refused once kMaxQueuedAheadBytes wait, however small the
// chunks, and accepted again once the queue has drained.
TEST(ChunkCacheTest, ReadaheadBeyondTheQueuedBytesIsRefusedUntilTheQueueDrains) {
  Gate gate;
  ChunkCache cache(64 << 20, gate.Loader(10), /*loaders=*/1);
  constexpr uint8_t kFits = ChunkCache::kMaxQueuedAheadBytes / kFileChunk;  // 16
  BehindABusyLoader(cache, gate, 2, 1 + kFits, [&] {
    EXPECT_EQ(cache.Prefetch(Id(100), kImageChunk), ChunkCache::Prefetched::kQueueFull);
    EXPECT_FALSE(cache.Has(Id(100)));
  });
  EXPECT_EQ(cache.Prefetch(Id(100), kImageChunk), ChunkCache::Prefetched::kQueued);
  cache.WaitIdle();
  EXPECT_TRUE(cache.Has(Id(100)));
}

TEST(ChunkCacheTest, ALoaderThatAnswersTooFewFailsTheRestOnly) {
  auto load_many = [](std::span<const ObjectId> ids, const ChunkCache::BatchVisitor& use) {
    use(0, Bytes(10, ids[0].bytes[0]));
    return Status::Ok();  // and forgets the others
  };
  Gate gate;
  ChunkCache cache(64 << 20, gate.Loader(10), /*loaders=*/1, load_many);
  BehindABusyLoader(cache, gate, 2, 3);
  EXPECT_TRUE(cache.Has(Id(2)));
  EXPECT_FALSE(cache.Has(Id(3))) << "an unanswered chunk is an error, not cached";
}

TEST(ChunkCacheTest, ExceptionFromLoaderBecomesAnError) {
  ChunkCache cache(1 << 20,
                   [](const ObjectId&) -> Result<Bytes> { throw std::runtime_error("boom"); });
  auto r = cache.Get(Id(9));
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace coffer::fs
