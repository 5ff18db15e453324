// The chunks column family's RocksDB options, on a real RocksDB. Ordinary
// compactions collect no blob garbage (chunks are only added between gc
// runs; bench/run's first backup measures what that saves), so the forced
// compaction gc runs after its sweep must still move live values out of blob
// files holding deleted ones, or gc would never free their space.
#include "store/kv/rocks_options.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/store/kv/temp_dir.h"

namespace coffer::kv {
namespace {

constexpr int kFlushes = 4;
constexpr int kValuesPerFlush = 8;

class ChunkColumnOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rocksdb::DBOptions db_options = MakeDbOptions(/*create=*/true);
    std::vector<rocksdb::ColumnFamilyDescriptor> columns = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {"chunks", MakeColumnOptions(Column::kChunks, rocksdb::NewLRUCache(kMiB))}};
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(db_options, dir_, columns, &handles_, &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
    chunks_ = handles_[1];
  }
  void TearDown() override {
    for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
  }

  // Several flushes of values large enough for blob files: one blob file each.
  void WriteInFlushes() {
    for (int f = 0; f < kFlushes; ++f) {
      for (int v = 0; v < kValuesPerFlush; ++v) {
        std::string value(kMinBlobBytes * 4, static_cast<char>('a' + f));
        ASSERT_TRUE(db_->Put({}, chunks_, Key(f, v), value).ok());
      }
      ASSERT_TRUE(db_->Flush({}, chunks_).ok());
    }
  }
  static std::string Key(int flush, int value) {
    return "chunk-" + std::to_string(flush) + "-" + std::to_string(value);
  }
  // The blob files the column family's current version uses (not the
  // folder's listing: obsolete files are deleted in the background).
  std::set<uint64_t> BlobFiles() const {
    rocksdb::ColumnFamilyMetaData meta;
    db_->GetColumnFamilyMetaData(chunks_, &meta);
    std::set<uint64_t> numbers;
    for (const auto& blob : meta.blob_files) numbers.insert(blob.blob_file_number);
    return numbers;
  }
  testing::TempDir tmp_;
  std::string dir_ = tmp_.Sub("db");
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* chunks_ = nullptr;
};

TEST_F(ChunkColumnOptionsTest, GcsForcedCompactionStillFreesBlobFilesOfDeletedValues) {
  WriteInFlushes();
  std::set<uint64_t> before = BlobFiles();
  // Half the values of the oldest blob file are deleted, as a gc sweep does.
  for (int v = 0; v < kValuesPerFlush / 2; ++v) ASSERT_TRUE(db_->Delete({}, chunks_, Key(0, v)).ok());
  ASSERT_TRUE(db_->Flush({}, chunks_).ok());
  rocksdb::CompactRangeOptions compact;  // as Database::CompactAll
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  compact.blob_garbage_collection_policy = rocksdb::BlobGarbageCollectionPolicy::kForce;
  compact.blob_garbage_collection_age_cutoff = 1.0;
  ASSERT_TRUE(db_->CompactRange(compact, chunks_, nullptr, nullptr).ok());
  std::set<uint64_t> after = BlobFiles();
  EXPECT_EQ(after.count(*before.begin()), 0u) << "the blob file of deleted values is still there";
  for (int v = kValuesPerFlush / 2; v < kValuesPerFlush; ++v) {
    std::string value;
    ASSERT_TRUE(db_->Get({}, chunks_, Key(0, v), &value).ok()) << Key(0, v);
  }
  for (int v = 0; v < kValuesPerFlush / 2; ++v) {
    std::string value;
    EXPECT_TRUE(db_->Get({}, chunks_, Key(0, v), &value).IsNotFound()) << Key(0, v);
  }
}

}  // namespace
}  // namespace coffer::kv
