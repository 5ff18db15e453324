// Internal to store/kv: RocksDB options for the database and each column
// family. The memory budget lives here: the whole backup process must stay
// under ~150 MiB RSS, so memtables and the block cache are bounded:
//   chunks     2 x 16 MiB memtables   trees      2 x 8 MiB
//   meta       2 x  1 MiB             snapshots  2 x 1 MiB
//   one LRU block cache of 16 MiB shared by all column families.
// (Larger memtables measured no faster: chunk values go to blob files.)
// Never include this header outside store/kv.
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <memory>
#include <vector>

#include "store/kv/database.h"

namespace coffer::kv {

inline constexpr size_t kMiB = size_t{1} << 20;
inline constexpr size_t kBlockCacheBytes = 16 * kMiB;
inline constexpr size_t kMaxInfoLogBytes = 4 * kMiB;
// Values at least this long go to blob files in the chunks column family.
inline constexpr uint64_t kMinBlobBytes = 4096;

// `create`: create the directory and every column family, and fail if a
// database is already there.
rocksdb::DBOptions MakeDbOptions(bool create);
rocksdb::ColumnFamilyOptions MakeColumnOptions(Column column,
                                               const std::shared_ptr<rocksdb::Cache>& block_cache);
// Every column family the database has, in the order Database keeps their
// handles: RocksDB's "default" (never written), then kAllColumns.
std::vector<rocksdb::ColumnFamilyDescriptor> MakeColumnDescriptors(
    const std::shared_ptr<rocksdb::Cache>& block_cache);

}  // namespace coffer::kv
