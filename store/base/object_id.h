// ObjectId: the 32-byte address of a stored object (a keyed BLAKE2b-256 of its
// plaintext), and ObjectKind, which column family it lives in.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "store/base/bytes.h"

namespace coffer {

// Sealed into every object's associated data and sent on the wire: never
// renumber. kSnapshotNote seals a snapshot's note under the snapshot's id.
// kNeeds is a needs list (store/objects/needs_list.h): stored in plain under
// the unkeyed hash of its bytes, never sealed.
enum class ObjectKind : uint8_t {
  kChunk = 1,
  kTree = 2,
  kSnapshot = 3,
  kSnapshotNote = 4,
  kNeeds = 5,
};

std::string_view KindName(ObjectKind kind);

struct ObjectId {
  static constexpr size_t kSize = 32;
  std::array<uint8_t, kSize> bytes{};

  ByteView view() const { return {bytes.data(), bytes.size()}; }
  std::string hex() const { return ToHex(view()); }
  std::string short_hex() const { return hex().substr(0, 12); }
  // The first 8 bytes, big-endian: what garbage collection marks. Ids are
  // uniformly random, so 8 bytes tell millions of objects apart well enough
  // where a collision only keeps an unreferenced object.
  uint64_t prefix64() const {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v = (v << 8) | bytes[i];
    return v;
  }

  // Returns nullopt unless `b` is exactly kSize bytes.
  static std::optional<ObjectId> FromBytes(ByteView b);
  static std::optional<ObjectId> FromHex(std::string_view hex);

  auto operator<=>(const ObjectId&) const = default;
};

struct ObjectIdHash {
  size_t operator()(const ObjectId& id) const {
    // Ids are uniformly random already; the first word is a fine hash.
    size_t h;
    std::memcpy(&h, id.bytes.data(), sizeof h);
    return h;
  }
};

}  // namespace coffer
