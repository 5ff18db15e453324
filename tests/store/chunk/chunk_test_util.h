// Helpers shared by the chunk tests: seeded data and whole-buffer chunking.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "store/base/bytes.h"
#include "store/chunk/fastcdc.h"

namespace coffer::chunk::testing {

inline Bytes RandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(size);
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    for (int b = 0; b < 8; ++b) out[i + b] = static_cast<uint8_t>(v >> (8 * b));
  }
  for (; i < size; ++i) out[i] = static_cast<uint8_t>(rng());
  return out;
}

inline Bytes Seed(uint8_t fill) {
  return Bytes(32, fill);
}

// Chunk lengths of `data` given all at once.
inline std::vector<size_t> ChunkLengths(const FastCdc& cdc, ByteView data) {
  std::vector<size_t> lengths;
  while (!data.empty()) {
    size_t len = cdc.NextBoundary(data, /*at_end=*/true);
    lengths.push_back(len);
    data = data.subspan(len);
  }
  return lengths;
}

// Small sizes so that tests see thousands of chunks in a few MiB.
inline ChunkerParams SmallParams() {
  return {.min_size = 1024, .avg_size = 4096, .max_size = 16384};
}

}  // namespace coffer::chunk::testing
