// The FUSE glue with a real mount in this process: SnapshotFs behind
// FuseSession, the adapter and the KernelNotifier, checked with plain system
// calls (errno of attribute questions, bytes read sequentially, at random and
// by several readers at once, names dropped when the inode table is full).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "fs/fuse_adapter.h"
#include "fs/fuse_session.h"
#include "fs/kernel_notifier.h"
#include "fs/snapshot_fs.h"
#include "store/ingest/archiver.h"
#include "tests/store/repo/repo_test_util.h"
#include "tests/testing/fuse.h"
#include "tests/testing/wait_until.h"

namespace coffer::fs {
namespace {

using testing::Mounted;
using testing::TempDir;
using testing::WaitUntil;

std::string Pread(int fd, uint64_t offset, size_t size) {
  std::string out(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(fd, out.data() + got, size - got, static_cast<off_t>(offset + got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

class FuseMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    COFFER_REQUIRE_FUSE();
    repo_ = testing::InitAndOpen(tmp_ / "repo");
    ASSERT_NE(repo_, nullptr);
    source_ = tmp_ / "src";
    mnt_ = tmp_ / "mnt";
    ASSERT_EQ(mkdir(source_.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
    big_ = testing::RandomBytes(6 * 1024 * 1024 + 4321, 99);
    testing::WriteFile(source_ + "/big.bin", big_);
    testing::WriteFile(source_ + "/tagged.txt", "has an attribute");
    testing::SetXattr(source_ + "/tagged.txt", "user.colour", "blue");
    ASSERT_EQ(mkdir((source_ + "/plain").c_str(), 0755), 0);
    testing::WriteFile(source_ + "/plain/untagged.txt", "nothing here");
  }

  void TearDown() override {
    if (session_) {
      RunUmount();
      loop_.join();
      fs_->SetKernelCache(nullptr);
      notifier_->Stop();
      while (!notifier_->stopped() && session_->ServeOne(50)) {
      }
      notifier_.reset();
      session_.reset();
    }
    EXPECT_FALSE(Mounted(mnt_));
  }

  void RunUmount() {
    std::string out;
    EXPECT_EQ(testing::RunCommand({"fusermount3", "-u", mnt_}, &out), 0) << out;
  }

  void BackupAndMount() {
    ingest::BackupOptions backup;
    backup.group = "host/test";
    backup.time_ns = 1'000'000'000;
    ingest::Archiver archiver(*repo_, backup, nullptr);
    auto result = archiver.BackupPaths({source_});
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    fs_ = std::make_unique<SnapshotFs>(*repo_, options_);
    ASSERT_TRUE(fs_->Start().ok());
    MountOptions mount;
    mount.signal_handlers = false;
    auto session = FuseSession::Mount(mnt_, mount, LowLevelOps(), fs_.get());
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    session_ = std::move(session).value();
    notifier_ = std::make_unique<KernelNotifier>(session_->raw(), *fs_);
    fs_->SetKernelCache(notifier_.get());
    loop_ = std::thread([this] { (void)session_->Loop(); });
    ASSERT_TRUE(WaitUntil([&] { return access(In("big.bin").c_str(), R_OK) == 0; },
                          std::chrono::seconds(10)));
  }

  std::string In(const std::string& rel) {
    return mnt_ + "/host/test/latest" + source_ + "/" + rel;
  }

  TempDir tmp_;
  std::unique_ptr<Repository> repo_;
  std::string source_, mnt_, big_;
  FsOptions options_;
  std::unique_ptr<SnapshotFs> fs_;
  std::unique_ptr<FuseSession> session_;
  std::unique_ptr<KernelNotifier> notifier_;
  std::thread loop_;
};

TEST_F(FuseMountTest, AttributeQuestionsGetTheRightErrno) {
  BackupAndMount();
  char value[64];
  // Present: its value.
  ssize_t n = lgetxattr(In("tagged.txt").c_str(), "user.colour", value, sizeof value);
  ASSERT_EQ(n, 4);
  EXPECT_EQ(std::string(value, 4), "blue");
  // Absent, where entries of the directory have attributes: ENODATA.
  EXPECT_EQ(lgetxattr(In("tagged.txt").c_str(), "user.none", value, sizeof value), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(lgetxattr(In("big.bin").c_str(), "security.selinux", value, sizeof value), -1);
  EXPECT_EQ(errno, ENODATA);
  // Where no entry of the directory has any: as a filesystem without them.
  EXPECT_EQ(lgetxattr(In("plain/untagged.txt").c_str(), "security.selinux", value, sizeof value),
            -1);
  EXPECT_EQ(errno, ENOTSUP);
  // But never for an ACL: ls would take ENOTSUP for the whole mount.
  EXPECT_EQ(getxattr(In("plain/untagged.txt").c_str(), "system.posix_acl_access", nullptr, 0), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(getxattr(In("plain").c_str(), "system.posix_acl_default", nullptr, 0), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(llistxattr(In("plain/untagged.txt").c_str(), value, sizeof value), 0);
  // The file itself still reads.
  int fd = open(In("plain/untagged.txt").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Pread(fd, 0, 100), "nothing here");
  close(fd);
}

// `ls -l DIR` asks about DIR first; DIR's own directory has no attributes.
// An ENOTSUP there made ls skip ACLs on the whole mount: no '+' anywhere.
TEST_F(FuseMountTest, LsLongShowsThePlusOfAnAclBelowADirectoryWithoutAttributes) {
  ASSERT_EQ(mkdir((source_ + "/plain/acl").c_str(), 0755), 0);
  testing::WriteFile(source_ + "/plain/acl/shared.txt", "shared");
  std::string out;
  if (testing::RunCommand({"setfacl", "-m", "u:nobody:r", source_ + "/plain/acl/shared.txt"},
                          &out) != 0) {
    GTEST_SKIP() << "setfacl (package acl) is not usable here: " << out;
  }
  BackupAndMount();
  for (const std::string& listed : {source_ + "/plain/acl", In("plain/acl")}) {
    ASSERT_EQ(testing::RunCommand({"ls", "-l", listed}, &out), 0) << out;
    EXPECT_NE(out.find("-rw-r--r--+ "), std::string::npos) << listed << ":\n" << out;
  }
}

TEST_F(FuseMountTest, SequentialAndRandomReadsGiveTheFileBytes) {
  BackupAndMount();
  int fd = open(In("big.bin").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  // Random 4 KiB reads first: every chunk they open is offered to the page cache.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 64; ++i) {
    uint64_t off = rng() % big_.size();
    ASSERT_EQ(Pread(fd, off, 4096), big_.substr(off, 4096)) << "at " << off;
  }
  ASSERT_TRUE(WaitUntil([&] { return notifier_->stored_bytes() > 0; }, std::chrono::seconds(10)))
      << "the kernel took none of the offered pages";
  // Now the page cache holds offered pages: every byte must still be right.
  std::string all = Pread(fd, 0, big_.size() + 100);
  EXPECT_TRUE(all == big_) << "the file read back differently after random reads";
  close(fd);
  // A fresh sequential read with the page cache dropped (readahead path).
  fd = open(In("big.bin").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  std::string seq;
  for (uint64_t off = 0; off < big_.size(); off += 128 << 10) seq += Pread(fd, off, 128 << 10);
  EXPECT_TRUE(seq == big_) << "the file read back differently sequentially";
  close(fd);
}

TEST_F(FuseMountTest, ReadersOfDifferentChunksAtOnceGetTheirOwnBytes) {
  BackupAndMount();
  std::vector<std::thread> readers;
  std::atomic<int> right{0};
  const int kReaders = 6;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      int fd = open(In("big.bin").c_str(), O_RDONLY);
      if (fd < 0) return;
      uint64_t off = static_cast<uint64_t>(r) * (1 << 20) + 333;
      if (Pread(fd, off, 200000) == big_.substr(off, 200000)) ++right;
      close(fd);
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(right, kReaders);
}

TEST_F(FuseMountTest, BrowsingManyFilesKeepsTheInodeTableWithinItsShare) {
  for (int i = 0; i < 2000; ++i) testing::WriteFile(source_ + "/plain/f" + std::to_string(i), "z");
  options_.cache_bytes = 1 << 20;  // 128 KiB for inodes: a few hundred of them
  BackupAndMount();
  for (int i = 0; i < 2000; ++i) {
    struct stat st;
    ASSERT_EQ(lstat(In("plain/f" + std::to_string(i)).c_str(), &st), 0) << i;
  }
  // The kernel drops the names it was asked to and forgets their inodes.
  EXPECT_TRUE(WaitUntil([&] { return fs_->inode_bytes() <= fs_->inode_budget(); },
                        std::chrono::seconds(10)))
      << fs_->inode_bytes() << " bytes of inodes, budget " << fs_->inode_budget();
  EXPECT_LT(fs_->inode_count(), 1000u);
  // Dropped names are simply looked up again.
  struct stat st;
  EXPECT_EQ(lstat(In("plain/f0").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1);
}

}  // namespace
}  // namespace coffer::fs
