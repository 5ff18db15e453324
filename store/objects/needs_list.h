// Needs lists: which chunks and trees a snapshot needs, in plain, so that a
// copy can be made and checked without the key (DESIGN.md, "Sync and object
// storage").
//
// A snapshot's needs set is the sorted set of (kind, id) of every chunk and
// tree it reaches, its root tree included. It is stored as a chain of needs
// lists (ObjectKind::kNeeds), each naming the list before it (its base) and
// the entries it adds to and removes from the set its base describes. A
// backup writes the difference from its parent's set on top of the parent's
// chain, so a nightly backup adds about as many entries as it changed; a
// chain grown long against the set it describes is written afresh.
//
// A list is stored unencrypted under the unkeyed BLAKE2b-256 of its bytes,
// so anyone can check it is intact. It shows which objects a snapshot needs
// (as Proxmox Backup Server's indexes do) and nothing of how they nest.
//
// Encoding, version 1 (store/FORMAT.md); integers little-endian:
//   [0]        version = 1
//   [1]        flags: bit 0 set when a base follows; no other bit set
//   [2..34)    the base list's id, if any
//   then       uint32 count, then `count` added entries
//   then       uint32 count, then `count` removed entries
// An entry is one kind byte (1 chunk, 2 tree) and the 32-byte id; each
// list is sorted by (kind, id) without repeats.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/object_id.h"
#include "store/base/status.h"

namespace coffer {

// One member of a needs set. Sorts by kind, then id.
struct NeededObject {
  ObjectKind kind = ObjectKind::kChunk;
  ObjectId id;
  auto operator<=>(const NeededObject&) const = default;
};

// A sorted set of needed objects, without repeats.
using NeedsSet = std::vector<NeededObject>;

struct NeedsList {
  static constexpr uint8_t kVersion = 1;
  // Entries (added and removed) per list at most: about 2 MiB, well inside
  // what one object may be on the wire (store/service/limits.h).
  static constexpr size_t kMaxEntries = 1u << 16;

  std::optional<ObjectId> base;
  NeedsSet added;    // sorted, no repeats
  NeedsSet removed;  // sorted, no repeats
};

// The id a needs list is stored under: unkeyed BLAKE2b-256 of its bytes.
ObjectId NeedsListId(ByteView encoded);

// Assumes `list` is well formed (sorted, within kMaxEntries).
Bytes EncodeNeedsList(const NeedsList& list);
// kCorruption, naming what is wrong, unless `bytes` is exactly one
// well-formed list: known version and flags, kinds chunk or tree, each
// list sorted without repeats, no entry both added and removed, at most
// kMaxEntries entries, nothing after the end.
Result<NeedsList> DecodeNeedsList(ByteView bytes);

// Reads the list stored under an id: its bytes as stored, or kNotFound.
using ReadNeedsListFn = std::function<Result<Bytes>(const ObjectId& id)>;

// The set described by the chain whose newest list is `head`, and how long
// the chain is. Every list read is checked against its id and decoded;
// a damaged or missing list, or a chain that removes what it does not hold
// or adds what it holds, is kCorruption naming the list. Chains longer than
// kMaxChain are refused the same way. Given `known`, a chain already read
// (the snapshot before in the same group, most often), lists from its head
// down are not read again: its set is the start.
struct NeedsChain {
  static constexpr size_t kMaxChain = 4096;
  NeedsSet set;
  size_t lists = 0;           // lists in the chain
  size_t entries = 0;         // entries over all of them, added and removed
  std::vector<ObjectId> ids;  // the chain's lists, newest first
};
Result<NeedsChain> ReadNeedsChain(const ObjectId& head, const ReadNeedsListFn& read,
                                  const NeedsChain* known = nullptr);

// The lists to store, oldest first, so that the last one's id describes
// `set`: the difference from `parent`'s chain on top of it, or, without a
// parent or when the chain would then carry more than twice the set's
// entries (plus one list's worth) or more than kMaxDeltaLists lists, the
// whole set afresh. Each list holds at most kMaxEntries entries. Empty when
// `set` is the parent's: its chain describes it already.
inline constexpr size_t kMaxDeltaLists = 64;
struct EncodedNeedsList {
  ObjectId id;
  Bytes bytes;
};
std::vector<EncodedNeedsList> PlanNeedsLists(const NeedsSet& set, const NeedsChain* parent);

}  // namespace coffer
