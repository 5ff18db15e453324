// How fast content-defined chunking runs, in MB/s: over bytes in memory, and
// over a file read from the page cache. Not a test: it asserts nothing about
// speed (see bench/micro/CMakeLists.txt).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "store/base/unique_fd.h"
#include "store/chunk/fastcdc.h"
#include "tests/store/chunk/chunk_test_util.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::chunk {
namespace {

using testing::ChunkLengths;
using testing::RandomBytes;
using testing::Seed;
using Clock = std::chrono::steady_clock;

constexpr size_t kMiB = 1024 * 1024;

TEST(ChunkingBench, NextBoundaryInMemory) {
  FastCdc cdc(Seed(9), ChunkerParams{});
  Bytes data = RandomBytes(512 * kMiB, 17);
  size_t chunks = 0;
  auto start = Clock::now();
  for (int round = 0; round < 4; ++round) chunks += ChunkLengths(cdc, data).size();
  std::chrono::duration<double> seconds = Clock::now() - start;
  double mb = 4.0 * static_cast<double>(data.size()) / 1e6;
  std::printf("NextBoundary: %.0f MB/s (%zu chunks, %.1f MB)\n", mb / seconds.count(), chunks, mb);
}

// The file was just written, so it is read from the page cache.
TEST(ChunkingBench, FdChunkerFromThePageCache) {
  FastCdc cdc(Seed(8), ChunkerParams{});
  coffer::testing::TempDir tmp("coffer-bench");
  const std::string path = tmp / "data";
  {
    Bytes data = RandomBytes(512 * kMiB, 27);
    UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    ASSERT_TRUE(out.valid()) << path;
    ASSERT_EQ(::write(out.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid()) << path;
  size_t chunks = 0;
  uint64_t bytes = 0;
  auto start = Clock::now();
  for (int round = 0; round < 4; ++round) {
    FdChunker chunker(cdc, fd.get(), 0, 512 * kMiB);
    for (;;) {
      Result<std::optional<ByteView>> next = chunker.Next();
      ASSERT_TRUE(next.ok());
      if (!next->has_value()) break;
      ++chunks;
    }
    bytes += chunker.bytes_read();
  }
  std::chrono::duration<double> seconds = Clock::now() - start;
  std::printf("FdChunker: %.0f MB/s (%zu chunks, %.1f MB)\n",
              static_cast<double>(bytes) / 1e6 / seconds.count(), chunks,
              static_cast<double>(bytes) / 1e6);
}

}  // namespace
}  // namespace coffer::chunk
