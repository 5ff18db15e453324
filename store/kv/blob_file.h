// Reading RocksDB blob files without RocksDB: what `coffer repair` needs to
// take chunks back from blob files that the database no longer lists.
//
// RocksDB's RepairDB (7.8) rebuilds the MANIFEST from table files alone; the
// blob files, where every chunk of 4 KiB or more lives, are left out, and the
// next open deletes them as obsolete. Each blob record carries its key, so
// the chunks can be put back from the files themselves.
//
// The format (RocksDB db/blob/blob_log_format.h, version 1), integers
// little-endian:
//   header, 30 bytes: magic 0x00248f37 (4), version 1 (4), column family
//     id (4), flags (1), compression (1), expiration range (8 + 8)
//   records: key length (8), value length (8), expiration (8), header CRC (4,
//     of the 24 bytes before it), blob CRC (4, of key then value), key, value
//   footer, 32 bytes, only in a file that was closed: magic (4), record
//     count (8), expiration range (8 + 8), CRC (4, of the 28 bytes before it)
// Every CRC is a masked CRC-32C (crc32c.h).
//
// The bytes are untrusted (this reads damaged files): every length is
// checked against what is left before it is used.
#pragma once

#include <cstdint>
#include <functional>

#include "store/base/bytes.h"
#include "store/base/status.h"

namespace coffer::kv {

struct BlobFileSummary {
  uint32_t column_family_id = 0;
  bool compressed = false;        // values are compressed by RocksDB (never so in Coffer)
  bool has_footer = false;        // the file was closed; else it ends where writing stopped
  uint64_t footer_count = 0;      // records the footer says the file holds
  uint64_t records = 0;           // records whose checksums held, handed to the visitor
  uint64_t damaged_records = 0;   // whole records whose key or value failed the blob CRC
  uint64_t unreadable_bytes = 0;  // bytes after a damaged record header or a cut-off record
};

// Calls `visit` with each record's key and value whose checksums hold, in
// file order; the views point into `file`. kCorruption if `file` does not
// start with a blob file header (damage past the header is counted in the
// summary instead: the records before it are still good).
using BlobRecordVisitor = std::function<void(ByteView key, ByteView value)>;
Result<BlobFileSummary> ReadBlobFile(ByteView file, const BlobRecordVisitor& visit);

}  // namespace coffer::kv
