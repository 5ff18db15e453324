// coffer mount through the built binary and a real FUSE mount, checked with
// plain system calls.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"
#include "tests/testing/fuse.h"

namespace coffer::e2e {
namespace {

using testing::Mounted;
using testing::RandomBytes;
using testing::ReadFile;
using testing::WriteFile;

// Polls (bounded) until `mountpoint` is no longer in /proc/mounts.
bool AwaitUnmounted(const std::string& mountpoint) {
  return testing::WaitUntil([&] { return !Mounted(mountpoint); }, std::chrono::seconds(5));
}

class MountTest : public CofferTest {
 protected:
  void SetUp() override {
    COFFER_REQUIRE_FUSE();
    CofferTest::SetUp();
    source_ = tmp_ / "src";
    mnt_ = tmp_ / "mnt";
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
  }
  void TearDown() override {
    if (!mnt_.empty() && Mounted(mnt_)) {
      RunProcess({"fusermount3", "-u", mnt_});
      EXPECT_TRUE(AwaitUnmounted(mnt_));
    }
    if (!repo_.empty()) {
      EXPECT_TRUE(KillServersOf(repo_));
    }
  }
  // Mounts and expects success; the tree must be usable right away.
  void Mount() {
    Output o = Coffer({"mount", mnt_});
    ASSERT_EQ(o.code, 0) << o.all();
    ASSERT_TRUE(Mounted(mnt_));
  }
  std::string Latest() { return mnt_ + "/" + group_ + "/latest"; }

  std::string source_, mnt_;
};

TEST_F(MountTest, SnapshotReadsBackExactlyAsBackedUp) {
  testing::MakeKitchenSinkTree(source_);
  Backup({source_});
  Mount();
  struct stat st;
  ASSERT_EQ(stat(Latest().c_str(), &st), 0) << "latest does not resolve";
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  auto diffs = testing::CompareTrees(source_, Latest() + source_, /*compare_owners=*/true);
  for (const auto& d : diffs) ADD_FAILURE() << d;

  Output umount = CofferRaw({"umount", mnt_});
  EXPECT_EQ(umount.code, 0) << umount.all();
  EXPECT_FALSE(Mounted(mnt_));
  // The repository is released when umount returns.
  Output after = Coffer({"snapshots"});
  EXPECT_EQ(after.code, 0) << after.all();
}

// What users check with: GNU tar compares modes, owners, times, sizes,
// contents, link targets and xattrs of an archive of the source against the
// mounted snapshot. (The path deeper than PATH_MAX is left out: tar --compare
// cannot stat it even on the source; CompareTrees covers it.)
TEST_F(MountTest, TarCompareOfTheSourceAgainstTheMountFindsNothing) {
  testing::MakeKitchenSinkTree(source_);
  Backup({source_});
  Mount();
  std::string archive = tmp_ / "source.tar";
  Output create = RunProcess({"tar", "--xattrs", "--xattrs-include=*", "--exclude=deep", "-cf",
                              archive, "-C", "/", source_.substr(1)});
  ASSERT_EQ(create.code, 0) << create.all();
  Output compare = RunProcess(
      {"tar", "--xattrs", "--xattrs-include=*", "--compare", "-f", archive, "-C", Latest()});
  EXPECT_EQ(compare.code, 0) << compare.all();
  EXPECT_EQ(compare.out, "") << compare.all();
}

TEST_F(MountTest, WritesFailWithErofs) {
  mkdir(source_.c_str(), 0755);
  WriteFile(source_ + "/f", "data");
  Backup({source_});
  Mount();
  std::string dir = Latest() + source_;
  EXPECT_LT(open((dir + "/new").c_str(), O_WRONLY | O_CREAT, 0644), 0);
  EXPECT_EQ(errno, EROFS);
  EXPECT_LT(open((dir + "/f").c_str(), O_WRONLY), 0);
  EXPECT_EQ(errno, EROFS);
  EXPECT_NE(unlink((dir + "/f").c_str()), 0);
  EXPECT_EQ(errno, EROFS);
  EXPECT_NE(mkdir((dir + "/d").c_str(), 0755), 0);
  EXPECT_EQ(errno, EROFS);
  EXPECT_NE(chmod((dir + "/f").c_str(), 0600), 0);
  EXPECT_EQ(errno, EROFS);
  EXPECT_EQ(ReadFile(dir + "/f"), "data");
}

TEST_F(MountTest, DamagedChunkGivesEioOnThatFileOnly) {
  mkdir(source_.c_str(), 0755);
  std::string content = RandomBytes(3 * 1024 * 1024 + 5, 4242);
  WriteFile(source_ + "/data.bin", content);
  WriteFile(source_ + "/small.txt", "a small file kept inline");
  Backup({source_});
  ASSERT_GT(FlipMiddleOfBlobFiles(repo_ + "/db"), 0);
  Mount();
  std::string dir = Latest() + source_;
  int fd = open((dir + "/data.bin").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string buf(1 << 20, '\0');
  ssize_t n = 0;
  uint64_t total = 0;
  while ((n = read(fd, buf.data(), buf.size())) > 0) {
    EXPECT_EQ(content.compare(total, static_cast<size_t>(n), buf.data(), static_cast<size_t>(n)),
              0);
    total += static_cast<uint64_t>(n);
  }
  EXPECT_LT(n, 0) << "the damaged file read to the end";
  EXPECT_EQ(errno, EIO);
  close(fd);
  EXPECT_EQ(ReadFile(dir + "/small.txt"), "a small file kept inline");
}

// The mount is a long-lived client of the repository's server: when that
// server dies, the next read starts a new one and goes on.
TEST_F(MountTest, ServerKilledUnderTheMountIsStartedAgain) {
  mkdir(source_.c_str(), 0755);
  std::string content = RandomBytes(2 * 1024 * 1024 + 3, 77);
  WriteFile(source_ + "/data.bin", content);
  Backup({source_});
  Mount();
  ASSERT_TRUE(KillServersOf(repo_));
  EXPECT_EQ(ReadFile(Latest() + source_ + "/data.bin"), content);
  EXPECT_EQ(ServersOf(repo_).size(), 1u);
}

TEST_F(MountTest, FailsBeforeMountingOnBadInput) {
  mkdir(source_.c_str(), 0755);
  WriteFile(source_ + "/f", "x");
  Backup({source_});
  WriteFile(mnt_ + "/occupied", "");
  Output busy = Coffer({"mount", mnt_});
  EXPECT_EQ(busy.code, 1) << busy.all();
  EXPECT_NE(busy.err.find("not an empty directory"), std::string::npos) << busy.err;
  unlink((mnt_ + "/occupied").c_str());

  Output wrong = CofferRaw({"-r", repo_, "mount", mnt_}, {"COFFER_PASSPHRASE=wrong"});
  EXPECT_EQ(wrong.code, 12) << wrong.all();
  Output missing = CofferRaw({"-r", tmp_ / "nothing", "mount", mnt_}, PassEnv());
  EXPECT_EQ(missing.code, 10) << missing.all();
  EXPECT_FALSE(Mounted(mnt_));
}

TEST_F(MountTest, LiveMountShowsNewSnapshots) {
  mkdir(source_.c_str(), 0755);
  WriteFile(source_ + "/f", "first");
  Backup({source_}, {"--time", "2020-01-02T03:04:05Z"});
  Mount();
  char link[256];
  ssize_t n = readlink(Latest().c_str(), link, sizeof link);
  ASSERT_GT(n, 0) << "latest is no symlink";
  EXPECT_EQ(std::string(link, static_cast<size_t>(n)), "2020-01-02T03:04:05Z");

  // While mounted: a new snapshot of the same group and one of a new group.
  WriteFile(source_ + "/f", "second");
  Backup({source_}, {"--time", "2021-01-02T03:04:05Z"});
  std::string other = "host/other";
  Output o = Coffer({"backup", "--group", other, "--time", "2022-01-02T03:04:05Z", source_});
  ASSERT_EQ(o.code, 0) << o.all();

  std::string next = mnt_ + "/" + group_ + "/2021-01-02T03:04:05Z";
  std::string other_dir = mnt_ + "/" + other + "/2022-01-02T03:04:05Z";
  std::string latest_target;
  auto visible = [&] {
    struct stat st;
    char buf[256];
    ssize_t k = readlink(Latest().c_str(), buf, sizeof buf);
    latest_target = k > 0 ? std::string(buf, static_cast<size_t>(k)) : "";
    return stat(next.c_str(), &st) == 0 && stat(other_dir.c_str(), &st) == 0 &&
           latest_target == "2021-01-02T03:04:05Z";
  };
  EXPECT_TRUE(testing::WaitUntil(visible, std::chrono::seconds(10)))
      << "after 10 s: latest -> " << latest_target;
  EXPECT_EQ(ReadFile(next + source_ + "/f"), "second");
  EXPECT_EQ(ReadFile(Latest() + source_ + "/f"), "second");
  EXPECT_EQ(ReadFile(other_dir + source_ + "/f"), "second");
  EXPECT_EQ(ReadFile(mnt_ + "/" + group_ + "/2020-01-02T03:04:05Z" + source_ + "/f"), "first");

  Output umount = CofferRaw({"umount", mnt_});
  EXPECT_EQ(umount.code, 0) << umount.all();
  EXPECT_FALSE(Mounted(mnt_));
}

}  // namespace
}  // namespace coffer::e2e
