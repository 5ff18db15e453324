#include "store/chunk/fastcdc.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "tests/store/chunk/chunk_test_util.h"

namespace coffer::chunk {
namespace {

using testing::ChunkLengths;
using testing::RandomBytes;
using testing::Seed;
using testing::SmallParams;

constexpr size_t kMiB = 1024 * 1024;

// The chunks' contents, to compare two chunkings by what they would store.
std::multiset<std::string_view> ChunkContents(ByteView data, const std::vector<size_t>& lengths) {
  std::multiset<std::string_view> out;
  for (size_t len : lengths) {
    out.insert(AsChars(data.first(len)));
    data = data.subspan(len);
  }
  return out;
}

// Chunks `data` as a stream would arrive: pieces of random size, calling
// NextBoundary again with more bytes whenever it answers 0.
std::vector<size_t> ChunkLengthsInPieces(const FastCdc& cdc, ByteView data, size_t max_piece,
                                         uint64_t rng_seed) {
  std::mt19937_64 rng(rng_seed);
  std::uniform_int_distribution<size_t> piece(1, max_piece);
  std::vector<size_t> lengths;
  size_t start = 0, available = 0;
  while (start < data.size()) {
    bool at_end = available == data.size();
    size_t len = cdc.NextBoundary(data.subspan(start, available - start), at_end);
    if (len == 0) {
      EXPECT_FALSE(at_end);
      available = std::min(data.size(), available + piece(rng));
      continue;
    }
    lengths.push_back(len);
    start += len;
  }
  return lengths;
}

TEST(ChunkerParamsTest, DefaultsAreValid) {
  EXPECT_TRUE(ChunkerParams{}.Validate().ok());
}

TEST(ChunkerParamsTest, RejectsSizesOutOfOrder) {
  EXPECT_EQ(
      ChunkerParams({.min_size = 4096, .avg_size = 4096, .max_size = 16384}).Validate().code(),
      Code::kInvalidArgument);
  EXPECT_EQ(ChunkerParams({.min_size = 1024, .avg_size = 4096, .max_size = 4096}).Validate().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(
      ChunkerParams({.min_size = 8192, .avg_size = 4096, .max_size = 16384}).Validate().code(),
      Code::kInvalidArgument);
}

TEST(ChunkerParamsTest, RejectsAverageThatIsNotAPowerOfTwo) {
  Status s = ChunkerParams({.min_size = 1024, .avg_size = 5000, .max_size = 16384}).Validate();
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("power of two"), std::string::npos);
}

TEST(ChunkerParamsTest, RejectsTinyAverage) {
  EXPECT_FALSE(ChunkerParams({.min_size = 1, .avg_size = 32, .max_size = 128}).Validate().ok());
  EXPECT_TRUE(ChunkerParams({.min_size = 1, .avg_size = 64, .max_size = 128}).Validate().ok());
}

TEST(ChunkerParamsTest, MaxSizeIsCappedAtEightMiB) {
  EXPECT_TRUE(ChunkerParams({.min_size = kMiB, .avg_size = 2 * kMiB, .max_size = 8 * kMiB})
                  .Validate()
                  .ok());
  EXPECT_FALSE(ChunkerParams({.min_size = kMiB, .avg_size = 2 * kMiB, .max_size = 8 * kMiB + 1})
                   .Validate()
                   .ok());
}

TEST(FastCdcTest, ChunkLengthsStayWithinMinAndMaxExceptTheLast) {
  for (ChunkerParams params : {SmallParams(), ChunkerParams{}}) {
    FastCdc cdc(Seed(1), params);
    Bytes data = RandomBytes(64 * params.avg_size + 12345, 7);
    std::vector<size_t> lengths = ChunkLengths(cdc, data);
    ASSERT_GT(lengths.size(), 10u);
    for (size_t i = 0; i + 1 < lengths.size(); ++i) {
      EXPECT_GE(lengths[i], params.min_size) << "chunk " << i;
      EXPECT_LE(lengths[i], params.max_size) << "chunk " << i;
    }
    EXPECT_GT(lengths.back(), 0u);
    EXPECT_LE(lengths.back(), params.max_size);
  }
}

TEST(FastCdcTest, ChunksCoverTheInputExactly) {
  FastCdc cdc(Seed(1), SmallParams());
  Bytes data = RandomBytes(3 * kMiB + 17, 8);
  std::vector<size_t> lengths = ChunkLengths(cdc, data);
  EXPECT_EQ(std::accumulate(lengths.begin(), lengths.end(), size_t{0}), data.size());
}

TEST(FastCdcTest, SameSeedGivesSameBoundaries) {
  Bytes data = RandomBytes(2 * kMiB, 9);
  FastCdc a(Seed(1), SmallParams());
  FastCdc b(Seed(1), SmallParams());
  EXPECT_EQ(ChunkLengths(a, data), ChunkLengths(b, data));
}

TEST(FastCdcTest, DifferentSeedGivesDifferentBoundaries) {
  Bytes data = RandomBytes(2 * kMiB, 9);
  std::vector<size_t> a = ChunkLengths(FastCdc(Seed(1), SmallParams()), data);
  std::vector<size_t> b = ChunkLengths(FastCdc(Seed(2), SmallParams()), data);
  // Count shared cut positions: random data puts few in common by chance.
  std::set<size_t> cuts_a;
  size_t pos = 0, shared = 0;
  for (size_t len : a) cuts_a.insert(pos += len);
  pos = 0;
  for (size_t len : b) shared += cuts_a.count(pos += len);
  EXPECT_LT(shared, b.size() / 10) << "of " << b.size() << " cuts";
}

TEST(FastCdcTest, MeanChunkSizeIsNearTheAverage) {
  for (ChunkerParams params : {SmallParams(), ChunkerParams{}}) {
    FastCdc cdc(Seed(3), params);
    Bytes data = RandomBytes(64 * kMiB, 10);
    std::vector<size_t> lengths = ChunkLengths(cdc, data);
    double mean = static_cast<double>(data.size()) / static_cast<double>(lengths.size());
    EXPECT_GT(mean, 0.7 * params.avg_size) << "avg " << params.avg_size;
    EXPECT_LT(mean, 1.3 * params.avg_size) << "avg " << params.avg_size;
  }
}

TEST(FastCdcTest, InsertionInTheMiddleChangesFewChunks) {
  FastCdc cdc(Seed(4), ChunkerParams{});
  Bytes original = RandomBytes(32 * kMiB, 11);
  Bytes inserted = RandomBytes(100, 12);
  Bytes edited = original;
  edited.insert(edited.begin() + 16 * kMiB, inserted.begin(), inserted.end());

  std::vector<size_t> before_lengths = ChunkLengths(cdc, original);
  std::vector<size_t> after_lengths = ChunkLengths(cdc, edited);
  auto before = ChunkContents(original, before_lengths);
  auto after = ChunkContents(edited, after_lengths);
  size_t new_chunks = 0;
  for (std::string_view chunk : after) new_chunks += before.count(chunk) == 0;
  EXPECT_GE(new_chunks, 1u);
  EXPECT_LE(new_chunks, 3u) << "of " << after.size() << " chunks";
}

TEST(FastCdcTest, FeedingSmallPiecesGivesSameBoundariesAsAllAtOnce) {
  {
    FastCdc cdc(Seed(5), SmallParams());
    Bytes data = RandomBytes(kMiB + 333, 13);
    EXPECT_EQ(ChunkLengthsInPieces(cdc, data, 700, 1), ChunkLengths(cdc, data));
  }
  {
    FastCdc cdc(Seed(5), ChunkerParams{});
    Bytes data = RandomBytes(12 * kMiB + 333, 14);
    EXPECT_EQ(ChunkLengthsInPieces(cdc, data, 256 * 1024, 2), ChunkLengths(cdc, data));
  }
}

TEST(FastCdcTest, BoundaryIsReportedOnlyOnceItsBytesArePresent) {
  FastCdc cdc(Seed(6), SmallParams());
  Bytes data = RandomBytes(64 * 1024, 15);
  ByteView view(data);
  size_t cut = cdc.NextBoundary(view, /*at_end=*/false);
  ASSERT_GT(cut, 0u);
  if (cut < SmallParams().max_size) {
    EXPECT_EQ(cdc.NextBoundary(view.first(cut - 1), false), 0u);
    EXPECT_EQ(cdc.NextBoundary(view.first(cut - 1), true), cut - 1);
  }
  EXPECT_EQ(cdc.NextBoundary(view.first(cut), false), cut);
}

TEST(FastCdcTest, ShortTailIsOneChunkOnlyAtEnd) {
  FastCdc cdc(Seed(7), SmallParams());
  Bytes data = RandomBytes(SmallParams().min_size - 1, 16);
  EXPECT_EQ(cdc.NextBoundary(data, /*at_end=*/false), 0u);
  EXPECT_EQ(cdc.NextBoundary(data, /*at_end=*/true), data.size());
  EXPECT_EQ(cdc.NextBoundary(ByteView(data).first(1), true), 1u);
}

TEST(FastCdcTest, EmptyInputHasNoChunk) {
  FastCdc cdc(Seed(7), SmallParams());
  EXPECT_EQ(cdc.NextBoundary({}, false), 0u);
  EXPECT_EQ(cdc.NextBoundary({}, true), 0u);
}

TEST(FastCdcTest, DataWithoutBoundaryIsCutAtMaxSize) {
  // Constant bytes make the gear hash constant after 64 bytes, so a cut comes
  // within 64 bytes of min_size, right after avg_size (the easier mask) or at
  // max_size; which one depends on the seed, so try several.
  const ChunkerParams params = SmallParams();
  Bytes zeros(10 * params.max_size, 0);
  int max_cuts = 0;
  for (uint8_t seed = 0; seed < 16; ++seed) {
    FastCdc cdc(Seed(seed), params);
    size_t len = cdc.NextBoundary(zeros, /*at_end=*/false);
    EXPECT_TRUE(len == params.max_size || len == params.avg_size + 1 ||
                (len > params.min_size && len <= params.min_size + 64))
        << len;
    EXPECT_EQ(cdc.NextBoundary(zeros, /*at_end=*/true), len);
    max_cuts += len == params.max_size;
  }
  EXPECT_GT(max_cuts, 0);
}

}  // namespace
}  // namespace coffer::chunk
