// RepairDatabase: rebuilds a repository's database whose MANIFEST, CURRENT
// or OPTIONS file is damaged, from the table and blob files themselves, and
// keeps the damaged database beside it. What `coffer repair` runs.
//
// RocksDB's RepairDB rebuilds the MANIFEST from table files, but (in 7.8)
// knows nothing of blob files, where every chunk of 4 KiB or more lives: the
// table entries that point into them would dangle (and their table files
// poison every later compaction), and the next open would delete the blob
// files. So the chunks column family is rebuilt by Coffer itself: its table
// files and the blob files are moved aside before RepairDB runs, and every
// chunk is put back afterwards, the large ones from the blob files (each
// record carries its key: blob_file.h), the small ones from the chunks'
// table files (read with RocksDB's SstFileReader).
//
// Steps, each safe to stop at (a second run starts again from the kept copy
// of whatever the folder then holds):
//   1. every file of `dir` is hard-linked (or, across filesystems, copied)
//      into `keep_dir`, which must not exist: the damaged database, whole;
//   2. the blob files, the chunks' table files and the OPTIONS files leave
//      `dir` (they stay in keep_dir);
//   3. RepairDB writes a new MANIFEST listing every readable table file of
//      the other column families (unreadable ones go to dir/lost/);
//   4. the database is opened and every chunk is put back, as above. A chunk
//      whose table entry points into a blob file that is lost or damaged is
//      counted as lost: it reads as missing, which verify reports by file.
// The caller holds the repository lock. Objects are checked by the clients
// that open them (their AEAD tags); repair checks only RocksDB's CRCs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/base/status.h"

namespace coffer::kv {

struct RepairReport {
  uint64_t table_files = 0;                 // table files the rebuilt database lists
  uint64_t blob_files = 0;                  // blob files read
  uint64_t chunks_put_back = 0;             // chunks taken from them into the database
  uint64_t damaged_blob_records = 0;        // blob records that failed their checksum
  uint64_t unreadable_blob_bytes = 0;       // bytes of blob files that could not be parsed
  uint64_t chunk_tables = 0;                // table files of chunks read
  uint64_t lost_chunks = 0;                 // chunks whose data is gone
  std::vector<std::string> set_aside;       // files RocksDB could not read (now in dir/lost/)
  std::vector<std::string> bad_blob_files;  // blob files that are not blob files
};

Result<RepairReport> RepairDatabase(const std::string& dir, const std::string& keep_dir);

}  // namespace coffer::kv
