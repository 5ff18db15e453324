#include "fs/chunk_cache.h"

#include <atomic>
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

TEST(ChunkCacheTest, SecondGetIsServedFromTheCache) {
  ChunkCache cache(1 << 20);
  std::atomic<int> calls{0};
  auto a = cache.Get(Id(1), Counting(&calls, 100));
  auto b = cache.Get(Id(1), Counting(&calls, 100));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ((**b)[0], 1);
}

TEST(ChunkCacheTest, EvictsLeastRecentlyUsedWhenFull) {
  ChunkCache cache(2 * 1100);  // room for two chunks of 1000 bytes
  std::atomic<int> calls{0};
  auto load = Counting(&calls, 1000);
  ASSERT_TRUE(cache.Get(Id(1), load).ok());
  ASSERT_TRUE(cache.Get(Id(2), load).ok());
  ASSERT_TRUE(cache.Get(Id(1), load).ok());  // 1 is now the most recent
  ASSERT_TRUE(cache.Get(Id(3), load).ok());  // evicts 2
  EXPECT_EQ(calls, 3);
  ASSERT_TRUE(cache.Get(Id(1), load).ok());
  EXPECT_EQ(calls, 3);
  ASSERT_TRUE(cache.Get(Id(2), load).ok());
  EXPECT_EQ(calls, 4);
  EXPECT_LE(cache.used_bytes(), 2u * 1100);
}

TEST(ChunkCacheTest, FailuresAreNotCached) {
  ChunkCache cache(1 << 20);
  int calls = 0;
  auto failing = [&](const ObjectId&) -> Result<Bytes> {
    ++calls;
    return Status::Corruption("bad tag");
  };
  EXPECT_EQ(cache.Get(Id(1), failing).status().code(), Code::kCorruption);
  EXPECT_EQ(cache.Get(Id(1), failing).status().code(), Code::kCorruption);
  EXPECT_EQ(calls, 2);
}

TEST(ChunkCacheTest, ConcurrentReadersOfOneChunkLoadItOnce) {
  ChunkCache cache(64 << 20);
  std::atomic<int> calls{0};
  std::atomic<bool> go{false};
  auto slow = [&](const ObjectId& id) -> Result<Bytes> {
    ++calls;
    while (!go) std::this_thread::yield();  // hold every other reader in the wait
    return Bytes(1 << 20, id.bytes[0]);
  };
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (cache.Get(Id(7), slow).ok()) ++ok;
    });
  }
  while (calls == 0) std::this_thread::yield();
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(cache.loads(), 1u);
}

TEST(ChunkCacheTest, ExceptionFromLoaderBecomesAnError) {
  ChunkCache cache(1 << 20);
  auto throwing = [](const ObjectId&) -> Result<Bytes> { throw std::runtime_error("boom"); };
  auto r = cache.Get(Id(9), throwing);
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace coffer::fs
