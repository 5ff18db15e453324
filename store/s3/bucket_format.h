// The records of a repository copy in object storage (store/FORMAT.md,
// "Object storage"). Under the copy's prefix:
//
//   meta/NAME                 a meta record as it is (config, key slots)
//   packs/XX/PACKID           sealed objects one after another, then a
//                             trailer listing them: a pack describes itself
//   index/INDEXID             where the objects of some packs are
//   snapshots/GROUP/TIME      a snapshot record, sealed as in any store,
//                             with its protected flag, note and needs list
//
// Packs and indexes are named by the unkeyed BLAKE2b-256 of their bytes, so
// they are written once and checked when read; a snapshot record names the
// index entries it relies on only indirectly: it is written after them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/object_id.h"
#include "store/base/status.h"

namespace coffer::s3 {

// One sealed object in a pack.
struct PackEntry {
  ObjectKind kind = ObjectKind::kChunk;
  ObjectId id;
  uint64_t offset = 0;  // from the pack's first byte
  uint32_t length = 0;
  // ObjectChecksum of its bytes: a read from the bucket is checked without
  // the key, as RocksDB's own checksums check a folder's.
  uint64_t checksum = 0;
  bool operator==(const PackEntry&) const = default;
};

// The first 8 bytes (little-endian) of the unkeyed BLAKE2b-128 of `sealed`.
uint64_t ObjectChecksum(ByteView sealed);

// Packs hold at most this many objects (a trailer of about 2.5 MiB).
constexpr uint32_t kMaxPackEntries = 1 << 16;

// The unkeyed BLAKE2b-256 of a pack or an index: its name.
ObjectId ContentId(ByteView bytes);

// The trailer that ends a pack whose objects are `entries`, at the offsets
// given, and take `data_size` bytes before it.
Bytes EncodePackTrailer(std::span<const PackEntry> entries);
// The entries of a whole pack, from its trailer; kCorruption when the
// trailer is damaged or names bytes outside the pack.
Result<std::vector<PackEntry>> DecodePack(ByteView pack);
// The same from the pack's size and its last bytes, read on their own: at
// least kPackTailSize, which say how long the trailer is
// (PackTrailerLength), then the whole trailer.
constexpr size_t kPackTailSize = 8;
Result<uint32_t> PackTrailerLength(ByteView last_bytes, uint64_t pack_size);
Result<std::vector<PackEntry>> DecodePackTrailer(ByteView trailer, uint64_t pack_size);

struct IndexedPack {
  ObjectId pack;
  uint64_t size = 0;  // of the whole pack, trailer included
  std::vector<PackEntry> entries;
  bool operator==(const IndexedPack&) const = default;
};

Bytes EncodeIndex(std::span<const IndexedPack> packs);
// kCorruption when damaged (an entry outside its pack, a bad kind, a short
// or long record).
Result<std::vector<IndexedPack>> DecodeIndex(ByteView index);

// A snapshot's record in the bucket; its group and time are in its name.
struct BucketSnapshot {
  ObjectId id;  // of the plaintext snapshot record
  bool is_protected = false;
  std::optional<ObjectId> needs;
  Bytes sealed;
  Bytes sealed_note;
  bool operator==(const BucketSnapshot&) const = default;
};

Bytes EncodeSnapshot(const BucketSnapshot& snapshot);
Result<BucketSnapshot> DecodeSnapshot(ByteView record);

// Names under the copy's prefix.
std::string PackName(const ObjectId& pack);
std::string IndexName(const ObjectId& index);
// "snapshots/GROUP/" and "snapshots/GROUP/TIME": TIME is the time in
// nanoseconds plus 2^63, in 20 digits, so that names sort by time.
std::string SnapshotFolder(std::string_view group);
std::string SnapshotName(std::string_view group, int64_t time_ns);
// The group and time a snapshot's name (below the prefix) holds.
std::optional<std::pair<std::string, int64_t>> ParseSnapshotName(std::string_view name);

}  // namespace coffer::s3
