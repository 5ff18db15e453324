#include "store/base/file_copy.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/store/kv/temp_dir.h"

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
  Write(tmp_.Sub("big"), big);
  Write(tmp_.Sub("grown"), "first part|written after the listing");
  std::vector<FileToCopy> files = {
      Copy(tmp_.Sub("big"), tmp_.Sub("big.copy"), big.size()),
      Copy(tmp_.Sub("grown"), tmp_.Sub("grown.copy"), 10),
      Copy(tmp_.Sub("absent"), tmp_.Sub("current.copy"), 8),
  };
  files.back().contents = "MANIFEST";
  ASSERT_TRUE(CopyFilesDurably(files, 3).ok());
  EXPECT_EQ(Read(tmp_.Sub("big.copy")), big);
  EXPECT_EQ(Read(tmp_.Sub("grown.copy")), "first part");
  EXPECT_EQ(Read(tmp_.Sub("current.copy")), "MANIFEST");
  struct stat st;
  ASSERT_EQ(stat(tmp_.Sub("big.copy").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(FileCopyTest, ASourceShorterThanListedIsCorruption) {
  Write(tmp_.Sub("short"), "12345");
  Status s = CopyFilesDurably({Copy(tmp_.Sub("short"), tmp_.Sub("copy"), 6)}, 1);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
}

TEST_F(FileCopyTest, AnExistingDestinationIsNeverOverwritten) {
  Write(tmp_.Sub("from"), "new");
  Write(tmp_.Sub("to"), "mine");
  Status s = CopyFilesDurably({Copy(tmp_.Sub("from"), tmp_.Sub("to"), 3)}, 1);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  EXPECT_EQ(Read(tmp_.Sub("to")), "mine");
}

TEST_F(FileCopyTest, AMissingSourceIsNamed) {
  Status s = CopyFilesDurably({Copy(tmp_.Sub("absent"), tmp_.Sub("to"), 3)}, 2);
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
  Write(tmp_.Sub("from"), bytes);
  const std::string to = "/dev/shm/coffer-file-copy-test-" + std::to_string(getpid());
  Status s = CopyFilesDurably({Copy(tmp_.Sub("from"), to, bytes.size())}, 1);
  const std::string copied = Read(to);
  std::filesystem::remove(to);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(copied, bytes);
}

}  // namespace
}  // namespace coffer
