// Deterministic ids and sealed values for ObjectStore tests.
#pragma once

#include <random>

#include <span>
#include <string>
#include <vector>

#include "store/base/bytes.h"
#include "store/base/object_id.h"
#include "store/objects/object_store.h"

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

// ObjectStore::GetMany() collected: the answers, copied, in the order they
// came; an answer out of order or a second answer for one id is an error.
inline Result<std::vector<Result<Bytes>>> GetAll(ObjectStore& store, ObjectKind kind,
                                                 std::span<const ObjectId> ids) {
  std::vector<Result<Bytes>> out;
  bool in_order = true;
  Status status = store.GetMany(kind, ids, [&](size_t i, Result<ByteView> sealed) {
    if (i != out.size()) in_order = false;
    if (sealed.ok()) {
      out.emplace_back(Bytes(sealed->begin(), sealed->end()));
    } else {
      out.emplace_back(sealed.status());
    }
  });
  if (!status.ok()) return status;
  if (!in_order) return Status::IoError("GetMany answered out of order");
  return out;
}

}  // namespace coffer::testing
