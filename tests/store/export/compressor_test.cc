// The compressor's streams read back by the zstd and gzip programs vzdump's
// restore uses (`zstd -dc`, `gzip -dc`), and checked by their own tests.
#include "store/export/compressor.h"

#include <gtest/gtest.h>

#include "tests/testing/fs_fixtures.h"

namespace coffer::exporting {
namespace {

using testing::TempDir;

// A few MiB of what an archive holds: random (incompressible) data, text,
// runs of zeros, and a pattern repeated at a distance.
std::string MixedData() {
  std::string data = testing::RandomBytes(1 << 20, 1);
  for (int i = 0; data.size() < (3u << 20); ++i)
    data += "line " + std::to_string(i) + " of some text\n";
  data += std::string(1 << 20, '\0');
  data += data.substr(100, 700000);
  data += testing::RandomBytes(12345, 2);
  return data;
}

struct Compressed {
  std::string bytes;
  uint64_t bytes_out = 0;
};

// Compresses `data` handed over in writes of `piece` bytes (the last may be shorter).
Compressed Compress(Compression compression, const std::string& data, size_t piece,
                    unsigned threads = 0) {
  Compressed out;
  auto compressor = Compressor::Create(
      compression,
      [&out](ByteView bytes) {
        EXPECT_FALSE(bytes.empty()) << "the output was called with nothing";
        out.bytes.append(AsChars(bytes));
        return Status::Ok();
      },
      threads);
  EXPECT_TRUE(compressor.ok()) << compressor.status().ToString();
  if (!compressor.ok()) return out;
  for (size_t at = 0; at < data.size(); at += piece) {
    Status wrote = (*compressor)->Write(AsBytes(std::string_view(data).substr(at, piece)));
    EXPECT_TRUE(wrote.ok()) << wrote.ToString();
  }
  Status finished = (*compressor)->Finish();
  EXPECT_TRUE(finished.ok()) << finished.ToString();
  out.bytes_out = (*compressor)->bytes_out();
  return out;
}

class CompressorTest : public ::testing::Test {
 protected:
  // What `program -dc` makes of `compressed`, after `program -t` accepted it.
  std::string Decompressed(const std::string& program, const std::string& compressed) {
    const std::string in = tmp_ / "in", out = tmp_ / "out";
    testing::WriteFile(in, compressed);
    std::string said;
    EXPECT_EQ(testing::RunCommand({program, "-t", "-q", in}, &said), 0)
        << program << " -t: " << said;
    EXPECT_EQ(
        testing::RunCommand({"sh", "-c", "\"$0\" -dc \"$1\" > \"$2\"", program, in, out}, &said), 0)
        << program << " -dc: " << said;
    EXPECT_EQ(said, "");
    return testing::ReadFile(out);
  }

  // Round trips `data` through each compressor and its program.
  void ExpectRoundTrips(const std::string& data, size_t piece) {
    const Compressed zstd = Compress(Compression::kZstd, data, piece);
    EXPECT_EQ(zstd.bytes_out, zstd.bytes.size());
    EXPECT_TRUE(Decompressed("zstd", zstd.bytes) == data) << "zstd round trip differs";
    const Compressed gzip = Compress(Compression::kGzip, data, piece);
    EXPECT_EQ(gzip.bytes_out, gzip.bytes.size());
    EXPECT_TRUE(Decompressed("gzip", gzip.bytes) == data) << "gzip round trip differs";
    const Compressed none = Compress(Compression::kNone, data, piece);
    EXPECT_EQ(none.bytes_out, data.size());
    EXPECT_TRUE(none.bytes == data) << "uncompressed output differs";
  }

  TempDir tmp_;
};

TEST_F(CompressorTest, MixedDataInMediumWritesRoundTrips) {
  const std::string data = MixedData();
  ASSERT_GT(data.size(), 4u << 20);
  ExpectRoundTrips(data, 65537);
  // Compressed, not stored: the text and zeros shrink.
  EXPECT_LT(Compress(Compression::kZstd, data, 65537).bytes.size(), data.size() * 3 / 4);
  EXPECT_LT(Compress(Compression::kGzip, data, 65537).bytes.size(), data.size() * 3 / 4);
}

TEST_F(CompressorTest, OneLargeWriteRoundTrips) {
  // Larger than the output buffer many times over, in one call.
  std::string data = MixedData();
  data += testing::RandomBytes(12 << 20, 3);
  ExpectRoundTrips(data, data.size());
}

TEST_F(CompressorTest, ManyTinyWritesRoundTrip) {
  const std::string data = MixedData().substr(0, 300000);
  ExpectRoundTrips(data, 1);
  ExpectRoundTrips(data, 7);
}

TEST_F(CompressorTest, EmptyInputIsAnEmptyStream) {
  ExpectRoundTrips("", 1);
  EXPECT_EQ(Compress(Compression::kNone, "", 1).bytes_out, 0u);
  // Still a whole stream each, with its header and trailer.
  EXPECT_GT(Compress(Compression::kZstd, "", 1).bytes.size(), 0u);
  EXPECT_EQ(Compress(Compression::kGzip, "", 1).bytes.substr(0, 2), "\x1f\x8b");
}

TEST_F(CompressorTest, ZstdStreamsCarryTheContentChecksumWithOrWithoutWorkers) {
  const std::string data = MixedData();
  for (unsigned threads : {1u, 2u}) {
    SCOPED_TRACE(threads);
    const Compressed zstd = Compress(Compression::kZstd, data, 1 << 20, threads);
    EXPECT_TRUE(Decompressed("zstd", zstd.bytes) == data);
    testing::WriteFile(tmp_ / "checked.zst", zstd.bytes);
    std::string listed;
    ASSERT_EQ(testing::RunCommand({"zstd", "-lv", tmp_ / "checked.zst"}, &listed), 0) << listed;
    EXPECT_NE(listed.find("Check: XXH64"), std::string::npos) << listed;
    // A flipped byte in the last block is caught by the checksum (or the block).
    std::string damaged = zstd.bytes;
    damaged[damaged.size() - 10] ^= 0x01;
    testing::WriteFile(tmp_ / "damaged.zst", damaged);
    std::string said;
    EXPECT_NE(testing::RunCommand({"zstd", "-t", "-q", tmp_ / "damaged.zst"}, &said), 0);
  }
}

TEST_F(CompressorTest, TheOutputsFailureIsReturned) {
  for (Compression compression : {Compression::kNone, Compression::kZstd, Compression::kGzip}) {
    SCOPED_TRACE(static_cast<int>(compression));
    auto compressor = Compressor::Create(
        compression, [](ByteView) { return Status::NoSpace("disk full"); }, 1);
    ASSERT_TRUE(compressor.ok());
    // The output is called at the latest when the stream ends.
    Status wrote = (*compressor)->Write(AsBytes(std::string_view("some data")));
    Status status = wrote.ok() ? (*compressor)->Finish() : wrote;
    EXPECT_EQ(status.code(), Code::kNoSpace) << status.ToString();
  }
}

TEST(CompressionNamesTest, ParsedAndExtended) {
  EXPECT_EQ(*ParseCompression("zstd"), Compression::kZstd);
  EXPECT_EQ(*ParseCompression("gzip"), Compression::kGzip);
  EXPECT_EQ(*ParseCompression("none"), Compression::kNone);
  for (const char* name : {"", "lzo", "ZSTD", "gz", "zst", "zstd ", "none\n"}) {
    auto parsed = ParseCompression(name);
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("zstd, gzip or none"), std::string::npos);
  }
  EXPECT_EQ(CompressionExtension(Compression::kZstd), ".zst");
  EXPECT_EQ(CompressionExtension(Compression::kGzip), ".gz");
  EXPECT_EQ(CompressionExtension(Compression::kNone), "");
}

}  // namespace
}  // namespace coffer::exporting
