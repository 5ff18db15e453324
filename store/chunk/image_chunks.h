// How disk images are cut into chunks: fixed, aligned pieces of 64 KiB.
//
// Content-defined chunking suits files that grow and shift; a disk image never
// shifts, its blocks change in place. Fixed pieces aligned to the image's start
// are what a VMA archive already delivers (one 64 KiB cluster each, in any
// order and under a new random uuid every day), so an image rebuilt from a VMA
// and the same disk read directly from its block device produce the same
// chunks and deduplicate with each other. The size is chosen by what changes
// between two days: with 1% of clusters changed at random, 64 KiB chunks store
// 1% again, 1 MiB chunks about 15% (1 - 0.99^16), 4 MiB ones about half.
//
// Part of the repository format: changing the size ends deduplication with
// every image stored before.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "store/base/bytes.h"

namespace coffer::chunk {

inline constexpr uint64_t kImageChunkSize = 64 * 1024;

// How many chunks an image of `size` bytes has; the last may be short.
inline constexpr uint64_t ImageChunkCount(uint64_t size) {
  return (size + kImageChunkSize - 1) / kImageChunkSize;
}

// The length of chunk `index` of an image of `size` bytes.
inline constexpr uint64_t ImageChunkLength(uint64_t size, uint64_t index) {
  return std::min(kImageChunkSize, size - index * kImageChunkSize);
}

// Whether every byte is zero: such a chunk is stored as a hole.
inline bool IsAllZero(ByteView data) {
  // Word at a time: this runs over every chunk of every image.
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, data.data() + i, sizeof word);
    if (word != 0) return false;
  }
  for (; i < data.size(); ++i) {
    if (data[i] != 0) return false;
  }
  return true;
}

}  // namespace coffer::chunk
