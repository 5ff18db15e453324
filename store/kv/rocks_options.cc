#include "store/kv/rocks_options.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

namespace coffer::kv {

rocksdb::DBOptions MakeDbOptions(bool create) {
  rocksdb::DBOptions options;
  options.create_if_missing = create;
  options.error_if_exists = create;
  options.create_missing_column_families = create;
  options.max_background_jobs = 2;
  // Write back SST and blob files as they grow, so a flush's final fsync
  // does not find hundreds of dirty MiB.
  options.bytes_per_sync = 1 * kMiB;
  options.wal_bytes_per_sync = 0;  // WAL writes are small and synced anyway
  // RocksDB's LOG is written by FileInfoLogger (rocks_logger.h), which rolls
  // at kMaxInfoLogBytes; this bounds the LOG.old.* files of older versions.
  options.keep_log_file_num = 4;
  // RocksDB preallocates each WAL file to 1.1x the largest write buffer
  // (64 MiB for the unused default column family). Coffer writes nothing to
  // the WAL (database.h), and a repository written by an older version
  // replays a small one; the cap keeps a nearly full disk usable.
  options.max_total_wal_size = 4 * kMiB;
  return options;
}

rocksdb::ColumnFamilyOptions MakeColumnOptions(Column column,
                                               const std::shared_ptr<rocksdb::Cache>& block_cache) {
  rocksdb::ColumnFamilyOptions options;
  // Every value is already compressed (zstd) and encrypted.
  options.compression = rocksdb::kNoCompression;
  options.bottommost_compression = rocksdb::kNoCompression;
  options.level_compaction_dynamic_level_bytes = true;
  options.max_write_buffer_number = 2;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache;
  // A bloom filter over each memtable's keys: a backup asks whether every
  // object it is about to seal is stored, and for a new one (all of a first
  // backup) the answer was a skip-list search in each memtable: a first
  // backup of the bench's system corpus took the server 1.55 s of user CPU with
  // the filter against 1.70 s without. 1% of the write buffer is hundreds of
  // bits per key there: almost no false positives.
  auto filter_memtables = [&options] {
    options.memtable_whole_key_filtering = true;
    options.memtable_prefix_bloom_size_ratio = 0.01;
  };
  switch (column) {
    case Column::kChunks:
      options.write_buffer_size = 16 * kMiB;
      options.enable_blob_files = true;
      options.min_blob_size = kMinBlobBytes;
      options.blob_compression_type = rocksdb::kNoCompression;
      // No blob garbage collection in ordinary compactions: chunks are only
      // ever added between gc runs, so it found no garbage and rewrote the
      // oldest quarter of the blob files on every compaction (during a first
      // backup ~40% of the server's CPU, and each chunk written twice).
      // Database::CompactAll, which gc runs after its sweep, forces it.
      options.enable_blob_garbage_collection = false;
      filter_memtables();
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      break;
    case Column::kTrees:
      options.write_buffer_size = 8 * kMiB;
      filter_memtables();
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      break;
    case Column::kNeeds:
      // About the size of the trees (an id per chunk and subdirectory) and
      // looked up by id the same way.
      options.write_buffer_size = 4 * kMiB;
      filter_memtables();
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      break;
    case Column::kMeta:
    case Column::kSnapshots: options.write_buffer_size = 1 * kMiB; break;
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

std::vector<rocksdb::ColumnFamilyDescriptor> MakeColumnDescriptors(
    const std::shared_ptr<rocksdb::Cache>& block_cache) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  rocksdb::ColumnFamilyOptions unused;
  unused.write_buffer_size = 1 * kMiB;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, unused);
  for (Column c : kAllColumns) {
    descriptors.emplace_back(std::string(ColumnName(c)), MakeColumnOptions(c, block_cache));
  }
  return descriptors;
}

}  // namespace coffer::kv
