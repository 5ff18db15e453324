// The database on a filesystem that fills up, at many different moments: in
// the middle of buffered chunk writes, of a flush, of a synced commit. Every
// failing write must fail with kNoSpace (never abort the process, which
// librocksdb's assertions would do if a file it failed to write were written
// again), everything committed before stays readable, and once space is
// freed the database takes writes again without being reopened.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "store/kv/database.h"
#include "tests/testing/fs_fixtures.h"

namespace coffer::kv {
namespace {

constexpr size_t kKiB = 1024, kMiB = 1024 * kKiB;

Bytes RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Writes `bytes` of zeros to `path` (as much as fits).
void Fill(const std::string& path, uint64_t bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::vector<char> block(kMiB, 0);
  while (bytes > 0) {
    size_t n = std::min<uint64_t>(bytes, block.size());
    ssize_t w = ::write(fd, block.data(), n);
    if (w <= 0) break;
    bytes -= static_cast<uint64_t>(w);
  }
  ::close(fd);
}

uint64_t FreeBytes(const std::string& dir) {
  struct statvfs fs;
  if (::statvfs(dir.c_str(), &fs) != 0) return 0;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

class DatabaseFullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    small_ = tmp_ / "small";
    std::filesystem::create_directories(small_);
    // RocksDB resumes after a full disk once it sees room for a write buffer
    // or so; the filesystem must leave room for that beside the filler.
    if (::mount("coffer-kv-test", small_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                "size=128m,mode=0700") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (!mounted_) return;
    EXPECT_EQ(::umount2(small_.c_str(), MNT_DETACH), 0) << std::strerror(errno);
  }

  testing::TempDir tmp_;
  std::string small_;
  bool mounted_ = false;
};

TEST_F(DatabaseFullDiskTest, EveryWriteOnAFullDiskFailsCleanlyAndWritesResumeOnceSpaceIsFreed) {
  auto created = Database::Create(small_ + "/db");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<Database> db = std::move(created).value();
  const std::string filler = small_ + "/filler";
  const Bytes chunk = RandomBytes(200 * kKiB, 1);

  // Each round fills the disk to a different level, then writes as a backup
  // does (buffered chunks, a flush and a synced record now and then) until
  // the disk is full; the rounds differ in where the first failure lands.
  std::vector<std::string> committed;
  int next_chunk = 0;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Round 0 leaves nothing at all: even RocksDB's own LOG cannot grow.
    const uint64_t leave = round == 0 ? 0 : (3 + 5 * round) * kMiB + round * 37 * kKiB;
    const uint64_t free_now = FreeBytes(small_);
    ASSERT_GT(free_now, leave + 8 * kMiB);
    Fill(filler, free_now - leave);

    Status failed = Status::Ok();
    for (int i = 0; failed.ok() && i < 10000; ++i) {
      std::string key = "chunk-" + std::to_string(next_chunk);
      failed = db->Put(Column::kChunks, key, chunk, Durability::kBuffered);
      if (!failed.ok()) break;
      ++next_chunk;
      if (i % 8 == 7) {
        failed = db->Flush({Column::kChunks});
        if (!failed.ok()) break;
        std::string record = "commit-" + std::to_string(next_chunk);
        failed = db->Put(Column::kMeta, record, RandomBytes(100 + round, next_chunk),
                         Durability::kSynced);
        if (failed.ok()) committed.push_back(record);
      }
    }
    ASSERT_FALSE(failed.ok()) << "the disk never filled up";
    EXPECT_EQ(failed.code(), Code::kNoSpace) << failed.ToString();

    // What was committed reads back while the disk is still full.
    for (const std::string& record : committed) {
      EXPECT_TRUE(db->Get(Column::kMeta, record).ok()) << record;
    }

    // Space freed: the next synced write goes through on the same handle.
    ASSERT_EQ(::unlink(filler.c_str()), 0);
    std::string record = "after-" + std::to_string(round);
    Status resumed = db->Put(Column::kMeta, record, RandomBytes(64, round), Durability::kSynced);
    ASSERT_TRUE(resumed.ok()) << resumed.ToString();
    committed.push_back(record);
    // Make room for the next round: drop this round's chunks.
    for (int k = 0; k < next_chunk; ++k) {
      ASSERT_TRUE(
          db->Delete(Column::kChunks, "chunk-" + std::to_string(k), Durability::kBuffered).ok());
    }
    ASSERT_TRUE(db->Flush({Column::kChunks}).ok());
    ASSERT_TRUE(db->CompactAll({Column::kChunks}).ok());
  }

  // And all of it survives a reopen.
  db.reset();
  auto reopened = Database::Open(small_ + "/db");
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  for (const std::string& record : committed) {
    EXPECT_TRUE(reopened.value()->Get(Column::kMeta, record).ok()) << record;
  }
}

// The disk filled by someone else while nothing is buffered: the synced
// record's own write is what fails. (Through RocksDB's WAL, the next write
// after Resume() went to the WAL file that had failed and aborted.)
TEST_F(DatabaseFullDiskTest, SyncedWriteOntoAFullDiskFailsAndTheNextOneAfterSpaceIsFreedWorks) {
  auto created = Database::Create(small_ + "/db");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::unique_ptr<Database> db = std::move(created).value();
  ASSERT_TRUE(db->Put(Column::kMeta, "before", RandomBytes(64, 1), Durability::kSynced).ok());
  ASSERT_TRUE(db->Flush({Column::kMeta, Column::kChunks, Column::kTrees, Column::kSnapshots}).ok());

  const std::string filler = small_ + "/filler";
  for (int attempt = 0; attempt < 3; ++attempt) {
    SCOPED_TRACE("attempt " + std::to_string(attempt));
    Fill(filler, FreeBytes(small_));
    Status full = Status::Ok();
    for (int i = 0; full.ok() && i < 1000; ++i) {
      full = db->Put(Column::kMeta, "while-full-" + std::to_string(i), RandomBytes(4096, i),
                     Durability::kSynced);
    }
    ASSERT_FALSE(full.ok()) << "the disk never filled up";
    EXPECT_EQ(full.code(), Code::kNoSpace) << full.ToString();
    ASSERT_EQ(::unlink(filler.c_str()), 0);
    Status after = db->Put(Column::kMeta, "after-" + std::to_string(attempt), RandomBytes(64, 2),
                           Durability::kSynced);
    ASSERT_TRUE(after.ok()) << after.ToString();
  }
  EXPECT_TRUE(db->Get(Column::kMeta, "before").ok());
  EXPECT_TRUE(db->Get(Column::kMeta, "after-2").ok());
}

}  // namespace
}  // namespace coffer::kv
