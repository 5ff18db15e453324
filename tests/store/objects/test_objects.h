// Deterministic ids and sealed values for ObjectStore tests.
#pragma once

#include <random>

#include "store/base/bytes.h"
#include "store/base/object_id.h"

namespace coffer::testing {

inline ObjectId TestId(uint32_t n) {
  std::mt19937 rng(n * 2654435761u + 1);
  ObjectId id;
  for (auto& b : id.bytes) b = static_cast<uint8_t>(rng());
  return id;
}

inline Bytes TestValue(uint32_t n, size_t size) {
  std::mt19937 rng(n);
  Bytes out(size);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

}  // namespace coffer::testing
