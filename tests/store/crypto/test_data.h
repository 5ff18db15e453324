// Seeded test data for the crypto tests: deterministic, so failures reproduce.
#pragma once

#include <cstdint>
#include <random>

#include "store/base/bytes.h"

namespace coffer::crypto::testing {

// Bytes that zstd cannot shrink.
inline Bytes RandomBytes(size_t n, uint32_t seed = 1) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Text-like bytes that zstd shrinks well.
inline Bytes CompressibleBytes(size_t n, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  static constexpr char kWords[][8] = {"coffer ", "backup ", "chunk ", "tree ", "seal ", "\n"};
  Bytes out;
  out.reserve(n + 8);
  while (out.size() < n) {
    const char* w = kWords[rng() % 6];
    for (; *w; ++w) out.push_back(static_cast<uint8_t>(*w));
  }
  out.resize(n);
  return out;
}

}  // namespace coffer::crypto::testing
