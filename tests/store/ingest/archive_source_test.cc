#include "store/ingest/archive_source.h"

#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>

#include "store/base/bytes.h"
#include "tests/testing/archive_fixtures.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::ingest {
namespace {

using testing::TempDir;

// Everything Read() returns, in pieces of `piece` bytes.
Result<std::string> ReadAll(ArchiveSource& source, size_t piece = 1 << 20) {
  std::string all;
  std::vector<uint8_t> buffer(piece);
  for (;;) {
    COFFER_ASSIGN_OR_RETURN(size_t n, source.Read(buffer));
    if (n == 0) return all;
    all.append(reinterpret_cast<const char*>(buffer.data()), n);
  }
}

std::string Flip(std::string bytes, size_t at) {
  bytes[at] = static_cast<char>(bytes[at] ^ 0x5a);
  return bytes;
}

class ArchiveSourceTest : public ::testing::TestWithParam<const char*> {
 protected:
  // A VMA-like stream: magic, then data no tar reader takes for a header.
  std::string RawData() const {
    return std::string("VMA\0\0\0\0\1", 8) + testing::RandomBytes(3 << 20, 11) +
           std::string(70000, '\0');
  }
  TempDir tmp_;
};

TEST_P(ArchiveSourceTest, ARawStreamIsReadBackWhole) {
  const std::string data = RawData();
  testing::WriteFile(tmp_ / "disk.vma", data);
  const std::string path = testing::Compress(tmp_ / "disk.vma", GetParam());
  auto source = ArchiveSource::Open(path);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->format(), ArchiveFormat::kRaw);
  EXPECT_EQ((*source)->compression(), GetParam());
  EXPECT_EQ((*source)->display_name(), path);
  // Odd piece sizes: the stream does not depend on how it is read.
  auto read = ReadAll(**source, 100'003);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, data);
  EXPECT_EQ((*source)->position(), data.size());
  auto again = (*source)->Read(std::span<uint8_t>());
  EXPECT_TRUE(again.ok());
}

TEST_P(ArchiveSourceTest, ATarIsRecognisedAndItsMembersRead) {
  testing::MakeVzdumpConfig(tmp_ / "config");
  testing::MakeVzdumpTar(tmp_ / "config", tmp_ / "config", tmp_ / "ct.tar");
  const std::string path = testing::Compress(tmp_ / "ct.tar", GetParam());
  auto source = ArchiveSource::Open(path);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->format(), ArchiveFormat::kTar);
  EXPECT_EQ((*source)->compression(), GetParam());
  std::vector<std::string> names;
  std::string conf;
  for (;;) {
    auto entry = (*source)->NextHeader();
    ASSERT_TRUE(entry.ok()) << entry.status().ToString();
    if (*entry == nullptr) break;
    names.push_back((*source)->member_name());
    if (names.back() != "./etc/vzdump/pct.conf") continue;
    for (;;) {
      auto block = (*source)->ReadDataBlock();
      ASSERT_TRUE(block.ok()) << block.status().ToString();
      if (block->end) break;
      conf.append(reinterpret_cast<const char*>(block->bytes.data()), block->bytes.size());
    }
  }
  // The config files first, then the whole folder again, in readdir order.
  ASSERT_EQ(names.size(), 7u);
  std::sort(names.begin() + 2, names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"./etc/vzdump/pct.conf", "./etc/vzdump/pct.fw", "./",
                                             "./etc/", "./etc/vzdump/", "./etc/vzdump/pct.conf",
                                             "./etc/vzdump/pct.fw"}));
  EXPECT_EQ(conf, testing::ReadFile(tmp_ / "config/etc/vzdump/pct.conf"));
  // The end stays the end.
  auto after = (*source)->NextHeader();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, nullptr);
}

// What only a compressed stream can tell.
class CompressedArchiveSourceTest : public ArchiveSourceTest {};

TEST_P(CompressedArchiveSourceTest, AStreamCutShortIsDamageNamingTheFileAndPosition) {
  testing::WriteFile(tmp_ / "disk.vma", RawData());
  const std::string compressed =
      testing::ReadFile(testing::Compress(tmp_ / "disk.vma", GetParam()));
  testing::WriteFile(tmp_ / "cut", compressed.substr(0, compressed.size() * 2 / 3));
  auto source = ArchiveSource::Open(tmp_ / "cut");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  auto read = ReadAll(**source);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), Code::kCorruption) << read.status().ToString();
  EXPECT_NE(read.status().message().find(tmp_ / "cut"), std::string::npos)
      << read.status().message();
  EXPECT_NE(read.status().message().find("decompressed bytes"), std::string::npos)
      << read.status().message();
}

TEST_P(CompressedArchiveSourceTest, AFlippedByteInTheCompressedStreamIsDamage) {
  testing::WriteFile(tmp_ / "disk.vma", RawData());
  const std::string compressed =
      testing::ReadFile(testing::Compress(tmp_ / "disk.vma", GetParam()));
  // In the middle of the data, and in the trailer (zstd's checksum, gzip's
  // CRC-32 and length, lzop's end marker).
  for (size_t at : {compressed.size() / 2, compressed.size() - 6}) {
    SCOPED_TRACE("byte " + std::to_string(at));
    testing::WriteFile(tmp_ / "flipped", Flip(compressed, at));
    auto source = ArchiveSource::Open(tmp_ / "flipped");
    Status status = source.status();
    if (source.ok()) status = ReadAll(**source).status();
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.code(), Code::kCorruption) << status.ToString();
    EXPECT_NE(status.message().find(tmp_ / "flipped"), std::string::npos) << status.message();
  }
}

INSTANTIATE_TEST_SUITE_P(Compressions, ArchiveSourceTest,
                         ::testing::Values("none", "zstd", "gzip", "lzop"));
INSTANTIATE_TEST_SUITE_P(Compressions, CompressedArchiveSourceTest,
                         ::testing::Values("zstd", "gzip", "lzop"));

TEST(ArchiveSourceOpenTest, AnEmptyFileIsRefusedByName) {
  TempDir tmp;
  testing::WriteFile(tmp / "empty", "");
  auto source = ArchiveSource::Open(tmp / "empty");
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kInvalidArgument);
  EXPECT_NE(source.status().message().find(tmp / "empty"), std::string::npos);
}

TEST(ArchiveSourceOpenTest, AMissingFileIsNotFound) {
  TempDir tmp;
  auto source = ArchiveSource::Open(tmp / "nope.tar.zst");
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), Code::kNotFound);
}

TEST(ArchiveSourceOpenTest, ACompressedStreamThatYieldsNothingIsRefusedByName) {
  TempDir tmp;
  testing::WriteFile(tmp / "empty", "");
  const std::string empty = testing::ReadFile(testing::Compress(tmp / "empty", "zstd"));
  testing::WriteFile(tmp / "data", testing::RandomBytes(100000, 4));
  std::string damaged = testing::ReadFile(testing::Compress(tmp / "data", "zstd"));
  damaged[20] ^= 0x40;  // in the first block, past the frame header
  for (const std::string& bytes : {empty, damaged}) {
    auto source = ArchiveSource::OpenMemory(AsBytes(bytes), "the archive");
    ASSERT_FALSE(source.ok());
    EXPECT_EQ(source.status().code(), Code::kCorruption) << source.status().ToString();
    EXPECT_NE(source.status().message().find("the archive"), std::string::npos);
  }
}

TEST(ArchiveSourceOpenTest, StandardInputIsReadAsDash) {
  TempDir tmp;
  const std::string data = testing::RandomBytes(1 << 20, 5);
  testing::WriteFile(tmp / "data", data);
  const std::string path = testing::Compress(tmp / "data", "zstd");
  int saved = dup(STDIN_FILENO);
  int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(dup2(fd, STDIN_FILENO), STDIN_FILENO);
  close(fd);
  auto source = ArchiveSource::Open("-");
  Result<std::string> read = source.ok() ? ReadAll(**source) : Result<std::string>(source.status());
  dup2(saved, STDIN_FILENO);
  close(saved);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ((*source)->display_name(), "standard input");
  EXPECT_EQ(*read, data);
}

TEST(ArchiveSourceOpenTest, MemoryIsReadLikeAFile) {
  TempDir tmp;
  const std::string data = testing::RandomBytes(100000, 6);
  testing::WriteFile(tmp / "data", data);
  const std::string compressed = testing::ReadFile(testing::Compress(tmp / "data", "zstd"));
  auto source = ArchiveSource::OpenMemory(AsBytes(compressed), "in memory");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->display_name(), "in memory");
  EXPECT_EQ((*source)->compression(), "zstd");
  EXPECT_EQ(*ReadAll(**source), data);
}

// Gzip "members" follow one another (`cat a.gz b.gz`); each is checked.
TEST(ArchiveSourceOpenTest, GzipMembersInARowAreOneStream) {
  TempDir tmp;
  const std::string one = testing::RandomBytes(300000, 12), two = testing::RandomBytes(200000, 13);
  testing::WriteFile(tmp / "one", one);
  testing::WriteFile(tmp / "two", two);
  const std::string members = testing::ReadFile(testing::Compress(tmp / "one", "gzip")) +
                              testing::ReadFile(testing::Compress(tmp / "two", "gzip"));
  auto source = ArchiveSource::OpenMemory(AsBytes(members), "members");
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->compression(), "gzip");
  auto read = ReadAll(**source);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, one + two);

  // Zeros after the last member are a tape's padding; anything else is damage.
  const std::string padded = members + std::string(5000, '\0');
  source = ArchiveSource::OpenMemory(AsBytes(padded), "padded");
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(*ReadAll(**source), one + two);
  const std::string trailing = members + "trailing";
  source = ArchiveSource::OpenMemory(AsBytes(trailing), "trailing");
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(ReadAll(**source).status().code(), Code::kCorruption);
  // A damaged CRC-32 of the first member, which libarchive's reader ignores.
  std::string first = testing::ReadFile(tmp / "one.gz");
  first[first.size() - 8] ^= 1;
  const std::string damaged = first + testing::ReadFile(tmp / "two.gz");
  source = ArchiveSource::OpenMemory(AsBytes(damaged), "damaged");
  ASSERT_TRUE(source.ok());
  auto bad = ReadAll(**source);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  EXPECT_NE(bad.status().message().find("incorrect data check"), std::string::npos)
      << bad.status().message();
}

TEST(ArchiveSourceOpenTest, SkipToEndChecksWhatIsLeft) {
  TempDir tmp;
  testing::WriteFile(tmp / "data", testing::RandomBytes(2 << 20, 8));
  std::string compressed = testing::ReadFile(testing::Compress(tmp / "data", "zstd"));
  // Intact: the rest is counted.
  {
    auto source = ArchiveSource::OpenMemory(AsBytes(compressed), "intact");
    ASSERT_TRUE(source.ok());
    std::vector<uint8_t> head(1000);
    ASSERT_EQ(*(*source)->Read(head), 1000u);
    auto skipped = (*source)->SkipToEnd();
    ASSERT_TRUE(skipped.ok()) << skipped.status().ToString();
    EXPECT_EQ(*skipped, (2u << 20) - 1000);
  }
  // The checksum at the very end is damaged: found although nobody read there.
  compressed[compressed.size() - 2] ^= 1;
  auto source = ArchiveSource::OpenMemory(AsBytes(compressed), "damaged");
  ASSERT_TRUE(source.ok());
  std::vector<uint8_t> head(1000);
  ASSERT_TRUE((*source)->Read(head).ok());
  auto skipped = (*source)->SkipToEnd();
  ASSERT_FALSE(skipped.ok());
  EXPECT_EQ(skipped.status().code(), Code::kCorruption);
  EXPECT_NE(skipped.status().message().find("damaged"), std::string::npos);
}

}  // namespace
}  // namespace coffer::ingest
