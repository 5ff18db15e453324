#include "store/base/object_id.h"

namespace coffer {

std::string_view KindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kChunk: return "chunk";
    case ObjectKind::kTree: return "tree";
    case ObjectKind::kSnapshot: return "snapshot";
    case ObjectKind::kSnapshotNote: return "snapshot note";
    case ObjectKind::kNeeds: return "needs list";
  }
  return "object";
}

std::optional<ObjectId> ObjectId::FromBytes(ByteView b) {
  if (b.size() != kSize) return std::nullopt;
  ObjectId id;
  std::memcpy(id.bytes.data(), b.data(), kSize);
  return id;
}

std::optional<ObjectId> ObjectId::FromHex(std::string_view hex) {
  Bytes raw;
  if (!coffer::FromHex(hex, &raw)) return std::nullopt;
  return FromBytes(raw);
}

}  // namespace coffer
