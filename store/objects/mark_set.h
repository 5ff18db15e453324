// MarkSet: the 8-byte id prefixes a garbage collection marked (ObjectId::
// prefix64), in one flat array.
//
// A million-chunk repository means a million marks, so the server's memory
// for them is the point: the array lives in its own mapping and grows with
// mremap, which moves pages instead of copying them. A std::vector would hold
// the old and the new buffer at once while growing (up to 24 bytes per mark);
// this holds 8, plus at most one page.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace coffer {

class MarkSet {
 public:
  MarkSet() = default;
  ~MarkSet();
  MarkSet(MarkSet&& other) noexcept;
  MarkSet& operator=(MarkSet&& other) noexcept;
  MarkSet(const MarkSet&) = delete;
  MarkSet& operator=(const MarkSet&) = delete;

  // Throws std::bad_alloc when the system has no memory for them.
  void Append(std::span<const uint64_t> prefixes);
  // Sorts and drops duplicates; Contains() needs it.
  void SortUnique();
  bool Contains(uint64_t prefix) const;
  size_t size() const { return size_; }
  // Releases the memory.
  void Clear();

 private:
  uint64_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;  // in marks; the mapping is capacity_ * 8 bytes
};

}  // namespace coffer
