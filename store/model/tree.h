// Helpers over the protobuf records: deterministic encoding, decoding with a
// clear error, sorted-entry lookup, and snapshot paths.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/object_id.h"
#include "store/base/status.h"
#include "store/model/coffer.pb.h"

namespace coffer::model {

// Deterministic bytes: identical records give identical bytes, so identical
// directories produce identical tree ids and deduplicate.
Bytes Encode(const google::protobuf::MessageLite& message);
// kCorruption when `bytes` do not parse as `what`.
Status Decode(ByteView bytes, google::protobuf::MessageLite* message, std::string_view what);

// Sorts entries by name (bytewise), the order lookups rely on.
void SortEntries(pb::Tree* tree);
// Binary search; nullptr if absent. `tree` must be sorted.
const pb::Entry* FindEntry(const pb::Tree& tree, std::string_view name);
pb::Entry* FindEntry(pb::Tree& tree, std::string_view name);

// kCorruption unless `name` can be one entry of a directory: not empty, not
// "." or "..", and without '/' or NUL bytes. Names go to the kernel as C
// strings: "..\0x" would be "..", and a restore would write above its target.
Status CheckEntryName(std::string_view name);

// Calls `visit` with every object one stored tree names: the chunks of its
// files' extents (holes name none), its parts, its files' extent parts and
// its subdirectories' trees. kCorruption for an id that is not 32 bytes; the
// first error `visit` returns ends the walk.
Status ForEachReference(const pb::Tree& tree,
                        const std::function<Status(ObjectKind kind, const ObjectId& id)>& visit);

// "a//b/c/" -> {"a", "b", "c"}; a leading slash is ignored.
std::vector<std::string> SplitPath(std::string_view path);
// "/a//b/c/" -> "a/b/c": a path inside a snapshot as stored and shown.
std::string CleanPath(std::string_view path);

}  // namespace coffer::model
