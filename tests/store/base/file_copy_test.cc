#include "store/base/file_copy.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/testing/fs_fixtures.h"

namespace coffer {
namespace {

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131) ^ (i >> 9));
  return s;
}

FileToCopy Copy(std::string from, std::string to, uint64_t length) {
  FileToCopy file;
  file.from = std::move(from);
  file.to = std::move(to);
  file.length = length;
  return file;
}

class FileCopyTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
};

TEST_F(FileCopyTest, CopiesEachFileUpToItsLengthOrItsGivenContents) {
  const std::string big = Pattern(5 << 20);
  Write(tmp_ / "big", big);
  Write(tmp_ / "grown", "first part|written after the listing");
  std::vector<FileToCopy> files = {
      Copy(tmp_ / "big", tmp_ / "big.copy", big.size()),
      Copy(tmp_ / "grown", tmp_ / "grown.copy", 10),
      Copy(tmp_ / "absent", tmp_ / "current.copy", 8),
  };
  files.back().contents = "MANIFEST";
  ASSERT_TRUE(CopyFilesDurably(files, 3).ok());
  EXPECT_EQ(Read(tmp_ / "big.copy"), big);
  EXPECT_EQ(Read(tmp_ / "grown.copy"), "first part");
  EXPECT_EQ(Read(tmp_ / "current.copy"), "MANIFEST");
  struct stat st;
  ASSERT_EQ(stat((tmp_ / "big.copy").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(FileCopyTest, ASourceShorterThanListedIsCorruption) {
  Write(tmp_ / "short", "12345");
  Status s = CopyFilesDurably({Copy(tmp_ / "short", tmp_ / "copy", 6)}, 1);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
}

TEST_F(FileCopyTest, AnExistingDestinationIsNeverOverwritten) {
  Write(tmp_ / "from", "new");
  Write(tmp_ / "to", "mine");
  Status s = CopyFilesDurably({Copy(tmp_ / "from", tmp_ / "to", 3)}, 1);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  EXPECT_EQ(Read(tmp_ / "to"), "mine");
}

TEST_F(FileCopyTest, AMissingSourceIsNamed) {
  Status s = CopyFilesDurably({Copy(tmp_ / "absent", tmp_ / "to", 3)}, 2);
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("absent"), std::string::npos) << s.ToString();
}

// Across filesystems copy_file_range(2) may refuse (EXDEV); the copy is then
// made by reading and writing.
TEST_F(FileCopyTest, CopiesAcrossFilesystems) {
  struct stat shm;
  if (stat("/dev/shm", &shm) != 0 || access("/dev/shm", W_OK) != 0) {
    GTEST_SKIP() << "no writable /dev/shm to copy to";
  }
  const std::string bytes = Pattern(3 << 20);
  Write(tmp_ / "from", bytes);
  const std::string to = "/dev/shm/coffer-file-copy-test-" + std::to_string(getpid());
  Status s = CopyFilesDurably({Copy(tmp_ / "from", to, bytes.size())}, 1);
  const std::string copied = Read(to);
  std::filesystem::remove(to);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(copied, bytes);
}

}  // namespace
}  // namespace coffer
