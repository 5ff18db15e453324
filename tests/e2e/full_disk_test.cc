// A repository on a filesystem that fills up: the backup that does not fit
// fails with a clear message, what was stored before still verifies and
// restores, and once space is freed the next backup works. The filesystem is
// a small tmpfs mounted by the test (root only; skipped otherwise).
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/e2e_util.h"

namespace coffer::e2e {
namespace {

using testing::RandomBytes;
using testing::WriteFile;

constexpr size_t kMiB = 1024 * 1024;

class FullDiskTest : public CofferTest {
 protected:
  void SetUp() override {
    mount_ = tmp_ / "small";
    mkdir(mount_.c_str(), 0700);
    // RocksDB recovers from a full disk once 64 MiB are free again, so the
    // filesystem must be larger than that.
    if (mount("coffer-test", mount_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
              "size=160m,mode=0700") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << strerror(errno);
    }
    mounted_ = true;
    CofferTest::SetUp();  // makes repo_ = tmp_/repo; we want it on the small filesystem
    if (HasFatalFailure()) return;
    EXPECT_TRUE(KillServersOf(repo_));
    repo_ = mount_ + "/repo";
    Output init = Coffer({"init", "--kdf-ops", "1", "--kdf-memory", "8K"});
    ASSERT_EQ(init.code, 0) << init.all();
  }
  void TearDown() override {
    if (!mounted_) return;
    EXPECT_TRUE(KillServersOf(repo_));
    EXPECT_EQ(umount2(mount_.c_str(), MNT_DETACH), 0) << strerror(errno);
  }

  std::string mount_;
  bool mounted_ = false;
};

TEST_F(FullDiskTest, BackupThatDoesNotFitFailsClearlyAndTheRestSurvives) {
  std::string small = tmp_ / "small-src";
  mkdir(small.c_str(), 0755);
  WriteFile(small + "/a.bin", RandomBytes(6 * kMiB, 1));
  WriteFile(small + "/notes.txt", "kept safe\n");
  std::string kept = Backup({small}).value("snapshot", "?");

  // Leave about 40 MiB free, then try to store 60 MiB of random data.
  std::string filler = mount_ + "/filler";
  struct statvfs fs;
  ASSERT_EQ(statvfs(mount_.c_str(), &fs), 0);
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  ASSERT_GT(free_bytes, 80 * kMiB);
  WriteFile(filler, std::string(free_bytes - 40 * kMiB, 'f'));
  std::string big = tmp_ / "big-src";
  mkdir(big.c_str(), 0755);
  WriteFile(big + "/b.bin", RandomBytes(60 * kMiB, 2));
  Output failed = Coffer({"backup", "--group", "host/big", big});
  EXPECT_EQ(failed.code, 1) << failed.all();
  EXPECT_NE(failed.err.find("no space left"), std::string::npos) << failed.err;
  EXPECT_EQ(std::count(failed.err.begin(), failed.err.end(), '\n'), 1) << failed.err;

  // Nothing of the failed backup is listed; the earlier snapshot verifies and restores.
  auto snapshots = Snapshots();
  ASSERT_EQ(snapshots.size(), 1u) << snapshots.dump();
  Output verify = Coffer({"verify"});
  EXPECT_EQ(verify.code, 0) << verify.all();
  std::string target = RestoreAll(kept);
  for (const auto& d : Compare(small, target)) ADD_FAILURE() << d;

  // Space freed: the next backup works, and gc frees what the failed one left.
  ASSERT_EQ(unlink(filler.c_str()), 0);
  WriteFile(small + "/more.bin", RandomBytes(3 * kMiB, 3));
  std::string next = Backup({small}).value("snapshot", "?");
  Output gc = Coffer({"gc", "--json"});
  ASSERT_EQ(gc.code, 0) << gc.all();
  auto report = nlohmann::json::parse(gc.out, nullptr, false);
  EXPECT_GT(report.value("bytes_freed", 0), 10 * kMiB) << gc.out;
  target = RestoreAll(next);
  for (const auto& d : Compare(small, target)) ADD_FAILURE() << d;
}

}  // namespace
}  // namespace coffer::e2e
