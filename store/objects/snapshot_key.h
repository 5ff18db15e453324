// The snapshot index's on-disk encoding (kv column family `snapshots`).
// These bytes are written to disk: never change them without a new
// repository format version.
//
//   key   = group bytes, 0x00, then 8 bytes big-endian of
//           uint64(time_ns) XOR 1<<63   (so negative times sort before
//           positive ones under bytewise order)
//   value = the 32-byte snapshot id, then the sealed record
//
// Bytewise key order is therefore: group (bytewise, and "host/a" before
// "host/ab" because 0x00 sorts first), then time. The prefix group + 0x00
// selects exactly one group. A group may not be empty or contain 0x00.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/base/bytes.h"
#include "store/base/status.h"
#include "store/objects/object_store.h"

namespace coffer {

// kInvalidArgument if `group` is empty or contains a 0x00 byte.
Status CheckSnapshotGroup(std::string_view group);
// Assumes CheckSnapshotGroup(group) is OK.
std::string SnapshotKey(std::string_view group, int64_t time_ns);
// The prefix shared by every key of `group` (assumed valid).
std::string SnapshotGroupPrefix(std::string_view group);
Bytes SnapshotValue(const ObjectId& id, ByteView sealed_record);
// kCorruption if the key is not in the format above. A value shorter than an
// id decodes with the zero id and an empty record, so that one damaged value
// is listed (and found damaged by the client) instead of failing the listing.
Result<StoredSnapshot> DecodeSnapshot(std::string_view key, ByteView value);

}  // namespace coffer
