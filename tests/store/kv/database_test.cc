#include "store/kv/database.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/testing/fs_fixtures.h"

namespace coffer::kv {
namespace {

Bytes RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

std::string Key(int i) {
  return "key-" + std::to_string(i);
}

class DatabaseTest : public ::testing::Test {
 protected:
  std::unique_ptr<Database> CreateDb() {
    auto db = Database::Create(dir_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }
  std::unique_ptr<Database> OpenDb() {
    auto db = Database::Open(dir_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  testing::TempDir tmp_;
  std::string dir_ = tmp_ / "db";
};

TEST_F(DatabaseTest, CreateThenOpenSucceeds) {
  ASSERT_NE(CreateDb(), nullptr);
  ASSERT_NE(OpenDb(), nullptr);
}

TEST_F(DatabaseTest, CreateFailsWithAlreadyExistsWhenDatabaseIsThere) {
  ASSERT_NE(CreateDb(), nullptr);
  auto again = Database::Create(dir_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists) << again.status().ToString();
}

TEST_F(DatabaseTest, OpenFailsWithNotFoundWhenDirectoryIsMissing) {
  auto db = Database::Open(dir_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kNotFound) << db.status().ToString();
}

TEST_F(DatabaseTest, OpenFailsWithNotFoundWhenDirectoryIsEmpty) {
  auto db = Database::Open(tmp_.path());
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kNotFound) << db.status().ToString();
}

TEST_F(DatabaseTest, SecondOpenInSameProcessFailsWithBusy) {
  auto first = CreateDb();
  ASSERT_NE(first, nullptr);
  auto second = Database::Open(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kBusy) << second.status().ToString();
}

TEST_F(DatabaseTest, OpenSucceedsAfterTheHolderCloses) {
  ASSERT_NE(CreateDb(), nullptr);  // destroyed at once, releasing the lock
  ASSERT_NE(OpenDb(), nullptr);
}

TEST_F(DatabaseTest, FlushedBufferedWritesSurviveReopen) {
  Bytes small = RandomBytes(10, 1);
  Bytes large = RandomBytes(1 << 20, 2);
  {
    auto db = CreateDb();
    ASSERT_TRUE(db->Put(Column::kChunks, "small", small, Durability::kBuffered).ok());
    ASSERT_TRUE(db->Put(Column::kChunks, "large", large, Durability::kBuffered).ok());
    ASSERT_TRUE(db->Put(Column::kTrees, "tree", small, Durability::kBuffered).ok());
    ASSERT_TRUE(db->Flush({Column::kChunks, Column::kTrees}).ok());
  }
  auto db = OpenDb();
  auto got_small = db->Get(Column::kChunks, "small");
  auto got_large = db->Get(Column::kChunks, "large");
  auto got_tree = db->Get(Column::kTrees, "tree");
  ASSERT_TRUE(got_small.ok() && got_large.ok() && got_tree.ok());
  EXPECT_EQ(*got_small, small);
  EXPECT_EQ(*got_large, large);
  EXPECT_EQ(*got_tree, small);
}

TEST_F(DatabaseTest, BufferedWritesAreFlushedByACleanClose) {
  {
    auto db = CreateDb();
    ASSERT_TRUE(db->Put(Column::kChunks, "k", AsBytes("v"), Durability::kBuffered).ok());
  }
  EXPECT_TRUE(OpenDb()->Get(Column::kChunks, "k").ok());
}

TEST_F(DatabaseTest, SyncedWritesSurviveReopenWithoutFlush) {
  {
    auto db = CreateDb();
    ASSERT_TRUE(db->Put(Column::kMeta, "version", AsBytes("1"), Durability::kSynced).ok());
  }
  auto got = OpenDb()->Get(Column::kMeta, "version");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(AsChars(*got), "1");
}

TEST_F(DatabaseTest, GetOfAbsentKeyIsNotFound) {
  auto db = CreateDb();
  auto got = db->Get(Column::kChunks, "nothing");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kNotFound);
}

TEST_F(DatabaseTest, ColumnFamiliesAreSeparate) {
  auto db = CreateDb();
  ASSERT_TRUE(db->Put(Column::kChunks, "k", AsBytes("v"), Durability::kBuffered).ok());
  EXPECT_FALSE(db->Get(Column::kTrees, "k").ok());
  EXPECT_TRUE(db->Get(Column::kChunks, "k").ok());
}

TEST_F(DatabaseTest, ContainsAnswersForMemtableFlushedAndAbsentKeys) {
  auto db = CreateDb();
  // Even keys in SST/blob files, keys divisible by 3 in the memtable.
  for (int i = 0; i < 200; i += 2) {
    Bytes value = RandomBytes(i % 4 == 0 ? 8192 : 100, i);  // blob and inline
    ASSERT_TRUE(db->Put(Column::kChunks, Key(i), value, Durability::kBuffered).ok());
  }
  ASSERT_TRUE(db->Flush({Column::kChunks}).ok());
  for (int i = 0; i < 200; i += 3) {
    ASSERT_TRUE(db->Put(Column::kChunks, Key(i), RandomBytes(50, i), Durability::kBuffered).ok());
  }
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(Key(i));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  auto present = db->Contains(Column::kChunks, views);
  ASSERT_TRUE(present.ok()) << present.status().ToString();
  ASSERT_EQ(present->size(), keys.size());
  for (int i = 0; i < 1000; ++i) {
    bool expected = i < 200 && (i % 2 == 0 || i % 3 == 0);
    EXPECT_EQ((*present)[i], expected) << Key(i);
  }
}

TEST_F(DatabaseTest, ContainsFindsBlobValuesAfterReopen) {
  {
    auto db = CreateDb();
    ASSERT_TRUE(
        db->Put(Column::kChunks, "blob", RandomBytes(1 << 20, 7), Durability::kBuffered).ok());
    ASSERT_TRUE(db->Flush({Column::kChunks}).ok());
  }
  auto db = OpenDb();  // cold block cache: the first lookup is Incomplete
  std::vector<std::string_view> keys = {"blob", "absent"};
  auto present = db->Contains(Column::kChunks, keys);
  ASSERT_TRUE(present.ok());
  EXPECT_EQ(*present, (std::vector<bool>{true, false}));
}

TEST_F(DatabaseTest, ContainsDoesNotReadTheValuesOfKeysInBlobFiles) {
  constexpr int kKeys = 64;
  {
    auto db = CreateDb();
    for (int i = 0; i < kKeys; ++i) {
      ASSERT_TRUE(db->Put(Column::kChunks, "chunk-" + std::to_string(1000 + i),
                          RandomBytes(64 << 10, i), Durability::kBuffered)
                      .ok());
    }
    ASSERT_TRUE(db->Flush({Column::kChunks}).ok());
  }
  auto db = OpenDb();
  std::vector<std::string> names;
  for (int i = 0; i < kKeys; ++i) names.push_back("chunk-" + std::to_string(1000 + i));
  std::vector<std::string_view> keys(names.begin(), names.end());
  keys.push_back("chunk-absent");
  // RocksDB's per-thread counters of blob reads.
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  auto present = db->Contains(Column::kChunks, keys);
  const uint64_t blobs_read = rocksdb::get_perf_context()->blob_read_count;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  ASSERT_TRUE(present.ok());
  std::vector<bool> expected(kKeys, true);
  expected.push_back(false);
  EXPECT_EQ(*present, expected);
  // At most one full read, for the first key of the cold table's block;
  // the other answers come from the table alone.
  EXPECT_LE(blobs_read, 1u);
}

TEST_F(DatabaseTest, ScanVisitsOnlyThePrefixInKeyOrder) {
  auto db = CreateDb();
  for (std::string key : {"b/2", "a/1", "b/1", "b", "c/1", "b/\xff"}) {
    ASSERT_TRUE(db->Put(Column::kSnapshots, key, AsBytes(key), Durability::kSynced).ok());
  }
  std::vector<std::string> seen;
  ASSERT_TRUE(db->Scan(Column::kSnapshots, "b/", [&](std::string_view k, ByteView v) {
                  EXPECT_EQ(AsChars(v), k);
                  seen.emplace_back(k);
                  return true;
                }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"b/1", "b/2", "b/\xff"}));

  seen.clear();
  ASSERT_TRUE(db->Scan(Column::kSnapshots, "", [&](std::string_view k, ByteView) {
                  seen.emplace_back(k);
                  return seen.size() < 3;  // stops early
                }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a/1", "b", "b/1"}));
}

TEST_F(DatabaseTest, DeleteRemovesKeyDurably) {
  {
    auto db = CreateDb();
    ASSERT_TRUE(db->Put(Column::kSnapshots, "s", AsBytes("x"), Durability::kSynced).ok());
    ASSERT_TRUE(db->Delete(Column::kSnapshots, "s", Durability::kSynced).ok());
    EXPECT_EQ(db->Get(Column::kSnapshots, "s").status().code(), Code::kNotFound);
  }
  EXPECT_EQ(OpenDb()->Get(Column::kSnapshots, "s").status().code(), Code::kNotFound);
}

TEST_F(DatabaseTest, ConcurrentPutsFromFourThreadsAreAllReadable) {
  auto db = CreateDb();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&db, t] {
      for (int i = 0; i < kPerThread; ++i) {
        int n = t * kPerThread + i;
        Status s =
            db->Put(Column::kChunks, Key(n), RandomBytes(5000 + n, n), Durability::kBuffered);
        ASSERT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int n = 0; n < kThreads * kPerThread; ++n) {
    auto got = db->Get(Column::kChunks, Key(n));
    ASSERT_TRUE(got.ok()) << Key(n);
    ASSERT_EQ(*got, RandomBytes(5000 + n, n));
  }
}

TEST_F(DatabaseTest, ApproximateSizeGrowsAfterFlush) {
  auto db = CreateDb();
  ASSERT_TRUE(db->Put(Column::kChunks, "big", RandomBytes(1 << 20, 3), Durability::kBuffered).ok());
  ASSERT_TRUE(db->Flush({Column::kChunks}).ok());
  auto size = db->ApproximateSizeBytes();
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_GE(*size, uint64_t{1} << 20);
}

// Ordinary compactions of chunks collect no blob garbage (chunks are only
// added between gc runs), so the compaction gc runs after its sweep must:
// else the space of deleted chunks would never come back.
TEST_F(DatabaseTest, CompactAllFreesTheBlobSpaceOfDeletedChunks) {
  constexpr int kFlushes = 4, kPerFlush = 8;
  constexpr size_t kValueBytes = 64 << 10;
  auto db = CreateDb();
  for (int f = 0; f < kFlushes; ++f) {
    for (int v = 0; v < kPerFlush; ++v) {
      int n = f * kPerFlush + v;
      ASSERT_TRUE(
          db->Put(Column::kChunks, Key(n), RandomBytes(kValueBytes, n), Durability::kBuffered)
              .ok());
    }
    ASSERT_TRUE(db->Flush({Column::kChunks}).ok());  // a blob file each
  }
  // Half of every blob file deleted, as a gc sweep does: no file is all garbage.
  for (int n = 0; n < kFlushes * kPerFlush; n += 2) {
    ASSERT_TRUE(db->Delete(Column::kChunks, Key(n), Durability::kBuffered).ok());
  }
  ASSERT_TRUE(db->Flush({Column::kChunks}).ok());
  auto before = db->ApproximateSizeBytes();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  ASSERT_TRUE(db->CompactAll({Column::kChunks}).ok());
  auto after = db->ApproximateSizeBytes();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  const uint64_t deleted = kFlushes * kPerFlush / 2 * kValueBytes;
  EXPECT_LE(*after + deleted * 9 / 10, *before) << "before " << *before << ", after " << *after;
  for (int n = 1; n < kFlushes * kPerFlush; n += 2) {
    auto value = db->Get(Column::kChunks, Key(n));
    ASSERT_TRUE(value.ok()) << Key(n) << ": " << value.status().ToString();
    EXPECT_EQ(*value, RandomBytes(kValueBytes, n));
  }
  EXPECT_EQ(db->Get(Column::kChunks, Key(0)).status().code(), Code::kNotFound);
}

// A database made before a column family existed: reopened with raw RocksDB
// and the family dropped, as if this build's layout were older.
void DropColumnFamily(const std::string& dir, Column column) {
  rocksdb::DBOptions options;
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  for (Column c : kAllColumns) {
    families.emplace_back(std::string(ColumnName(c)), rocksdb::ColumnFamilyOptions());
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir, families, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  for (size_t i = 0; i < families.size(); ++i) {
    if (families[i].name == ColumnName(column)) {
      ASSERT_TRUE(db->DropColumnFamily(handles[i]).ok());
    }
  }
  for (rocksdb::ColumnFamilyHandle* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
}

TEST_F(DatabaseTest, ADatabaseMadeBeforeNeedsListsGetsTheirColumnFamilyWhenOpened) {
  {
    auto db = CreateDb();
    ASSERT_TRUE(db->Put(Column::kTrees, "tree", Bytes{1, 2, 3}, Durability::kSynced).ok());
  }
  DropColumnFamily(dir_, Column::kNeeds);
  {
    auto db = OpenDb();
    ASSERT_NE(db, nullptr);
    auto tree = db->Get(Column::kTrees, "tree");
    ASSERT_TRUE(tree.ok()) << tree.status().ToString();
    EXPECT_EQ(*tree, (Bytes{1, 2, 3}));
    ASSERT_TRUE(db->Put(Column::kNeeds, "tree", Bytes{4}, Durability::kSynced).ok());
  }
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  auto list = db->Get(Column::kNeeds, "tree");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(*list, Bytes{4});
}

TEST_F(DatabaseTest, ADatabaseWithoutAnOriginalColumnFamilyIsStillDamage) {
  { CreateDb(); }
  DropColumnFamily(dir_, Column::kTrees);
  auto db = Database::Open(dir_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kCorruption) << db.status().ToString();
  EXPECT_NE(db.status().message().find("lacks the column family 'trees'"), std::string::npos)
      << db.status().ToString();
}

size_t SstFiles(const std::string& dir) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".sst") ++n;
  }
  return n;
}

// A snapshot record per commit, each flushed on its own and sorting after
// the last: without merging, each stayed a file of its own for good.
TEST_F(DatabaseTest, HundredsOfSmallCommitsLeaveFewFiles) {
  auto db = CreateDb();
  ASSERT_NE(db, nullptr);
  for (int i = 0; i < 300; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "host/a/%010d", i);
    ASSERT_TRUE(db->Put(Column::kSnapshots, key, AsBytes(key), Durability::kSynced).ok());
    ASSERT_TRUE(
        db->Put(Column::kMeta, std::string("needs/") + key, AsBytes(key), Durability::kSynced)
            .ok());
  }
  EXPECT_LE(SstFiles(dir_), 2 * (32 + 1) + 2u);
  db.reset();
  db = OpenDb();
  ASSERT_NE(db, nullptr);
  auto last = db->Get(Column::kSnapshots, "host/a/0000000299");
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  auto first = db->Get(Column::kMeta, "needs/host/a/0000000000");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
}

// A copy is a database of its own, with every write made before the call:
// flushed ones, buffered ones (only in the memtable) and large blob values;
// writes to the original afterwards do not reach it, nor the other way.
TEST_F(DatabaseTest, CopyToMakesAnIndependentDatabaseOfWhatWasWritten) {
  auto db = CreateDb();
  ASSERT_NE(db, nullptr);
  const Bytes blob = RandomBytes(64 << 10, 7);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(db->Put(Column::kChunks, Key(i), blob, Durability::kBuffered).ok());
    if (i == 99) {
      ASSERT_TRUE(db->Flush({Column::kChunks}).ok());
    }
  }
  ASSERT_TRUE(db->Put(Column::kMeta, "config", AsBytes("settings"), Durability::kSynced).ok());
  const std::string copy_dir = tmp_ / "copy";
  Result<Database::CopyReport> report = db->CopyTo(copy_dir);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_GT(report->files, 3u);
  EXPECT_GT(report->bytes, 200u * blob.size());
  ASSERT_TRUE(db->Put(Column::kMeta, "after", AsBytes("original only"), Durability::kSynced).ok());

  auto copy = Database::Open(copy_dir);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  for (int i : {0, 99, 100, 199}) {
    auto value = (*copy)->Get(Column::kChunks, Key(i));
    ASSERT_TRUE(value.ok()) << i << ": " << value.status().ToString();
    EXPECT_EQ(*value, blob) << i;
  }
  EXPECT_EQ((*copy)->Get(Column::kMeta, "config").value(),
            Bytes({'s', 'e', 't', 't', 'i', 'n', 'g', 's'}));
  EXPECT_EQ((*copy)->Get(Column::kMeta, "after").status().code(), Code::kNotFound);
  auto count = (*copy)->CountEntries(Column::kChunks);
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 200u);
  ASSERT_TRUE((*copy)->Delete(Column::kMeta, "config", Durability::kSynced).ok());
  EXPECT_TRUE(db->Get(Column::kMeta, "config").ok());
}

TEST_F(DatabaseTest, CopyToAnExistingFolderIsRefusedAndLeavesIt) {
  auto db = CreateDb();
  ASSERT_NE(db, nullptr);
  const std::string taken = tmp_ / "taken";
  std::filesystem::create_directory(taken);
  std::ofstream(taken + "/keep") << "mine";
  Result<Database::CopyReport> report = db->CopyTo(taken);
  EXPECT_EQ(report.status().code(), Code::kAlreadyExists) << report.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(taken + "/keep"));
}

TEST_F(DatabaseTest, CountEntriesSubtractsDeletions) {
  auto db = CreateDb();
  ASSERT_NE(db, nullptr);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(db->Put(Column::kTrees, Key(i), AsBytes("tree"), Durability::kBuffered).ok());
  }
  ASSERT_TRUE(db->Flush({Column::kTrees}).ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(db->Delete(Column::kTrees, Key(i), Durability::kBuffered).ok());
  }
  ASSERT_TRUE(db->Flush({Column::kTrees}).ok());
  auto count = db->CountEntries(Column::kTrees);
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 90u);
  // As after gc: the deletions and what they deleted compacted away.
  ASSERT_TRUE(db->CompactAll({Column::kTrees}).ok());
  count = db->CountEntries(Column::kTrees);
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 90u);
}

}  // namespace
}  // namespace coffer::kv
