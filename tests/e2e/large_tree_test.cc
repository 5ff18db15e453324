// Trees larger than one object may be: a directory of many thousand files and
// a file of many thousand chunks, through backup, ls, restore, mount, verify
// and gc (model/tree_split.h).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"
#include "tests/testing/fuse.h"

namespace coffer::e2e {
namespace {

using testing::Mounted;
using testing::RandomBytes;
using testing::ReadFile;
using testing::WriteFile;

constexpr int kFiles = 60'000;

// A 150-character name that does not compress, so the tree is as large as a
// real one of this many files.
std::string FileName(int i) {
  std::string hex = Hex(RandomBytes(71, static_cast<uint64_t>(i) + 1));
  return hex.substr(0, 150);
}

size_t CountLines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

size_t CountEntries(const std::string& dir) {
  size_t count = 0;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++count;
  }
  closedir(d);
  return count;
}

class LargeTreeTest : public CofferTest {
 protected:
  void SetUp() override {
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    ASSERT_EQ(mkdir(source_.c_str(), 0755), 0);
  }
  void TearDown() override {
    if (!mnt_.empty() && Mounted(mnt_)) RunProcess({"fusermount3", "-u", mnt_});
    EXPECT_TRUE(KillServersOf(repo_));
  }

  // kFiles small files with long names in source_/huge.
  void MakeHugeDirectory() {
    const std::string dir = source_ + "/huge";
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    for (int i = 0; i < kFiles; ++i) {
      const std::string content = "file " + std::to_string(i % 50) + "\n";
      int fd = open((dir + "/" + FileName(i)).c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
      ASSERT_GE(fd, 0) << i;
      ASSERT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
      close(fd);
    }
  }

  std::string source_, mnt_;
};

TEST_F(LargeTreeTest, AHugeDirectoryIsStoredInPartsAndEveryCommandSeesItWhole) {
  MakeHugeDirectory();
  nlohmann::json first = Backup({source_});
  const std::string first_name = first["snapshot"];

  Output ls = Coffer({"ls", first_name, InSnapshot(source_) + "/huge"});
  ASSERT_EQ(ls.code, 0) << ls.err;
  EXPECT_EQ(CountLines(ls.out), static_cast<size_t>(kFiles));

  // One file more: only the parts around it and the index are new, not the
  // whole directory again.
  WriteFile(source_ + "/huge/" + FileName(kFiles), "one more\n");
  nlohmann::json second = Backup({source_});
  const std::string second_name = second["snapshot"];
  EXPECT_LT(second["bytes_added"].get<uint64_t>(), first["bytes_added"].get<uint64_t>() / 4)
      << "first backup added " << first["bytes_added"] << " bytes, the second "
      << second["bytes_added"];

  // gc must keep every part of the directory the remaining snapshot uses.
  Output forget = Coffer({"forget", first_name});
  ASSERT_EQ(forget.code, 0) << forget.all();
  Output gc = Coffer({"gc"});
  ASSERT_EQ(gc.code, 0) << gc.all();
  Output verify = Coffer({"verify"});
  EXPECT_EQ(verify.code, 0) << verify.all();

  std::string target = RestoreAll(second_name);
  for (const std::string& diff : Compare(source_, target)) ADD_FAILURE() << diff;

  COFFER_REQUIRE_FUSE();  // the rest of the test mounts
  mnt_ = tmp_ / "mnt";
  ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
  Output mount = Coffer({"mount", mnt_});
  ASSERT_EQ(mount.code, 0) << mount.all();
  const std::string mounted = mnt_ + "/" + group_ + "/latest" + source_ + "/huge";
  EXPECT_EQ(CountEntries(mounted), static_cast<size_t>(kFiles + 1));
  EXPECT_EQ(ReadFile(mounted + "/" + FileName(kFiles)), "one more\n");
  EXPECT_EQ(ReadFile(mounted + "/" + FileName(4321)), "file 21\n");
  Output umount = CofferRaw({"umount", mnt_});
  EXPECT_EQ(umount.code, 0) << umount.all();
}

TEST_F(LargeTreeTest, AFileOfManyThousandChunksRoundTripsThroughGcAndVerify) {
  // Small chunks, so that a 12 MiB file has ~24k of them: more than one
  // entry keeps inline.
  repo_ = tmp_ / "small-chunks";
  Output init =
      Coffer({"init", "--kdf-ops", "1", "--kdf-memory", "8K", "--chunk-size", "256,512,1K"});
  ASSERT_EQ(init.code, 0) << init.all();
  WriteFile(source_ + "/disk.img", RandomBytes(12 << 20, 7));
  WriteFile(source_ + "/small.txt", "small\n");
  nlohmann::json summary = Backup({source_});
  ASSERT_GT(summary["chunks_added"].get<uint64_t>(), 16'000u);
  const std::string name = summary["snapshot"];

  Output gc = Coffer({"gc"});
  ASSERT_EQ(gc.code, 0) << gc.all();
  Output verify = Coffer({"verify"});
  EXPECT_EQ(verify.code, 0) << verify.all();
  Output cat = Coffer({"cat", name, InSnapshot(source_) + "/disk.img"});
  ASSERT_EQ(cat.code, 0) << cat.err;
  EXPECT_TRUE(cat.out == ReadFile(source_ + "/disk.img")) << "coffer cat differs";
  std::string target = RestoreAll(name);
  for (const std::string& diff : Compare(source_, target)) ADD_FAILURE() << diff;
}

}  // namespace
}  // namespace coffer::e2e
