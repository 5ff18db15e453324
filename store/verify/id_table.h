// IdTable: a compact open-addressing hash table keyed by object ids, for
// walks that must remember every object they have seen (verify keeps one
// entry per distinct chunk of a repository, so per-entry cost is what counts).
//
// Keys are 128-bit fingerprints: the first 16 bytes of the id. Ids are
// uniform 256-bit hashes, so among 2^40 objects two share a fingerprint with
// odds of about 2^-49; halving the key is what keeps an entry at 16 bytes
// (an IdSet costs 23 to 46 bytes per id with the load kept between 0.35 and
// 0.7, and no heap node per entry).
//
// Not thread-safe: one thread owns a table.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "store/base/object_id.h"

namespace coffer::verify {

template <typename Value>
class IdTable {
 public:
  // Inserts `id` with `value` if absent. Returns whether it was inserted.
  bool Insert(const ObjectId& id, const Value& value = {}) {
    if ((size_ + 1) * 10 > slots_.size() * 7) Grow();
    Key key = KeyOf(id);
    Slot& slot = slots_[Find(key)];
    if (slot.used()) return false;
    slot.key = key;
    slot.value = value;
    ++size_;
    return true;
  }

  // The value stored for `id`, or nullptr. Valid until the next Insert().
  const Value* Get(const ObjectId& id) const {
    if (slots_.empty()) return nullptr;
    const Slot& slot = slots_[Find(KeyOf(id))];
    return slot.used() ? &slot.value : nullptr;
  }
  bool Contains(const ObjectId& id) const { return Get(id) != nullptr; }

  size_t size() const { return size_; }
  size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  // A fingerprint of all zeros marks an empty slot, so one is stored as 1;
  // the odds of meeting either are 2^-128.
  struct Key {
    uint64_t hi = 0, lo = 0;
    bool operator==(const Key&) const = default;
  };
  struct Slot {
    Key key;
    [[no_unique_address]] Value value{};
    bool used() const { return key.hi != 0 || key.lo != 0; }
  };

  static Key KeyOf(const ObjectId& id) {
    Key key;
    std::memcpy(&key.hi, id.bytes.data(), 8);
    std::memcpy(&key.lo, id.bytes.data() + 8, 8);
    if (key.hi == 0 && key.lo == 0) key.lo = 1;
    return key;
  }

  // The slot holding `key`, or the empty slot where it belongs (linear
  // probing; the first word is uniformly random already, so it is the hash).
  size_t Find(const Key& key) const {
    size_t mask = slots_.size() - 1;
    for (size_t i = key.hi & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (!slot.used() || slot.key == key) return i;
    }
  }

  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.resize(old.empty() ? 1024 : old.size() * 2);
    for (const Slot& slot : old) {
      if (slot.used()) slots_[Find(slot.key)] = slot;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

struct NoValue {};
using IdSet = IdTable<NoValue>;

}  // namespace coffer::verify
