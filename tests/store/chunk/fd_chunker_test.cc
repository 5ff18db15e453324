#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

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
using testing::SmallParams;

constexpr size_t kMiB = 1024 * 1024;

class FdChunkerTest : public ::testing::Test {
 protected:
  // Writes `data` to a fresh temporary file and opens it for reading.
  int WriteFile(ByteView data) {
    path_ = tmp_ / ("data-" + std::to_string(++files_written_));
    UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd.valid()) << path_;
    for (size_t done = 0; done < data.size();) {
      ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
      EXPECT_GT(n, 0);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    fd_ = UniqueFd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd_.valid());
    return fd_.get();
  }

  // All chunks of the range, copied out, failing the test on an error.
  static std::vector<Bytes> ReadAll(FdChunker& chunker) {
    std::vector<Bytes> chunks;
    for (;;) {
      Result<std::optional<ByteView>> next = chunker.Next();
      EXPECT_TRUE(next.ok()) << next.status().ToString();
      if (!next.ok() || !next->has_value()) return chunks;
      chunks.emplace_back((*next)->begin(), (*next)->end());
    }
  }

  // The chunks FastCdc makes of `data` given all at once.
  static std::vector<Bytes> Expected(const FastCdc& cdc, ByteView data) {
    std::vector<Bytes> chunks;
    for (size_t len : ChunkLengths(cdc, data)) {
      chunks.emplace_back(data.begin(), data.begin() + len);
      data = data.subspan(len);
    }
    return chunks;
  }

  coffer::testing::TempDir tmp_;
  std::string path_;
  int files_written_ = 0;
  UniqueFd fd_;
};

TEST_F(FdChunkerTest, GivesSameChunksAsFastCdcOverTheSameBytes) {
  // 40 MiB is more than two buffers, so the tail compaction runs.
  FastCdc cdc(Seed(1), ChunkerParams{});
  Bytes data = RandomBytes(40 * kMiB + 999, 21);
  int fd = WriteFile(data);
  FdChunker chunker(cdc, fd, 0, data.size());
  std::vector<Bytes> chunks = ReadAll(chunker);
  EXPECT_EQ(chunks, Expected(cdc, data));
  EXPECT_EQ(chunker.bytes_read(), data.size());
}

TEST_F(FdChunkerTest, SmallChunksMatchFastCdcToo) {
  FastCdc cdc(Seed(2), SmallParams());
  Bytes data = RandomBytes(3 * kMiB + 5, 22);
  int fd = WriteFile(data);
  FdChunker chunker(cdc, fd, 0, data.size());
  EXPECT_EQ(ReadAll(chunker), Expected(cdc, data));
}

TEST_F(FdChunkerTest, HonoursOffsetAndLength) {
  FastCdc cdc(Seed(3), SmallParams());
  Bytes data = RandomBytes(2 * kMiB, 23);
  int fd = WriteFile(data);
  const uint64_t offset = 123457, length = kMiB + 77;
  FdChunker chunker(cdc, fd, offset, length);
  EXPECT_EQ(ReadAll(chunker), Expected(cdc, ByteView(data).subspan(offset, length)));
  EXPECT_EQ(chunker.bytes_read(), length);
}

TEST_F(FdChunkerTest, EmptyRangeGivesNoChunks) {
  FastCdc cdc(Seed(4), SmallParams());
  Bytes data = RandomBytes(1000, 24);
  int fd = WriteFile(data);
  FdChunker chunker(cdc, fd, 500, 0);
  EXPECT_TRUE(ReadAll(chunker).empty());
  EXPECT_EQ(chunker.bytes_read(), 0u);
}

TEST_F(FdChunkerTest, EmptyFileGivesNoChunks) {
  FastCdc cdc(Seed(4), SmallParams());
  int fd = WriteFile({});
  FdChunker chunker(cdc, fd, 0, 4096);
  EXPECT_TRUE(ReadAll(chunker).empty());
}

TEST_F(FdChunkerTest, FileShorterThanRangeStopsAtEndOfFile) {
  FastCdc cdc(Seed(5), ChunkerParams{});
  Bytes data = RandomBytes(5 * kMiB + 3, 25);
  int fd = WriteFile(data);
  FdChunker chunker(cdc, fd, kMiB, 100 * kMiB);
  EXPECT_EQ(ReadAll(chunker), Expected(cdc, ByteView(data).subspan(kMiB)));
  EXPECT_EQ(chunker.bytes_read(), data.size() - kMiB);
}

TEST_F(FdChunkerTest, EmptyChunkIsNeverReturnedAtEndOfRange) {
  FastCdc cdc(Seed(6), SmallParams());
  Bytes data = RandomBytes(SmallParams().min_size / 2, 26);
  int fd = WriteFile(data);
  FdChunker chunker(cdc, fd, 0, data.size());
  std::vector<Bytes> chunks = ReadAll(chunker);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0], data);
  // Further calls keep answering "no more chunks".
  Result<std::optional<ByteView>> again = chunker.Next();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST_F(FdChunkerTest, ReadErrorComesBackAsStatus) {
  FastCdc cdc(Seed(7), SmallParams());
  UniqueFd fd(::open(tmp_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  FdChunker chunker(cdc, fd.get(), 0, 4096);  // pread on a directory fails: EISDIR
  Result<std::optional<ByteView>> next = chunker.Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), Code::kIoError);
  EXPECT_EQ(next.status().message().rfind("read: ", 0), 0u) << next.status().message();
}

}  // namespace
}  // namespace coffer::chunk
