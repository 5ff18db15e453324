// The check a copy's holder can make without the key (`coffer verify
// --without-key`): every object each snapshot's needs lists name is stored,
// and the lists themselves are intact (each matches the hash it is stored
// under). Whether the objects read back and decrypt is for `coffer verify`
// with the key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/base/status.h"
#include "store/objects/object_store.h"

namespace coffer::sync {

struct KeylessCheckReport {
  uint64_t snapshots_checked = 0;
  uint64_t objects_checked = 0;  // presence checks made, over all snapshots
  // Snapshots made before needs lists: what they need is unknown here.
  std::vector<std::string> without_needs;
  // One line per problem: "GROUP/TIME: chunk 0123456789ab is missing" (at
  // most kMaxListedMissing objects named per snapshot, then a count), or
  // the needs lists' damage.
  std::vector<std::string> problems;
  uint64_t missing_objects = 0;
  bool ok() const { return problems.empty(); }
};

inline constexpr size_t kMaxListedMissing = 20;

// Checks `snapshots` (as listed by the store, in index order). Errors are
// the store's; what is missing or damaged is in the report.
Result<KeylessCheckReport> CheckWithoutKey(ObjectStore& store,
                                           const std::vector<StoredSnapshot>& snapshots);

}  // namespace coffer::sync
