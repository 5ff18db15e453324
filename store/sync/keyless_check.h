// The check a copy's holder can make without the key (`coffer verify
// --without-key`): every object each snapshot's needs lists name is stored,
// and the lists themselves are intact (each matches the hash it is stored
// under). With read_data, every such object is also read back once as
// stored, checked by the store's own checksums (ObjectStore::
// GetManyChecked): bit rot and lost files are found. Whether the objects
// decrypt is for `coffer verify` with the key.
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
  uint64_t objects_read = 0;  // read back (read_data), each once
  uint64_t bytes_read = 0;
  uint64_t damaged_objects = 0;  // present, but not intact as stored
  bool ok() const { return problems.empty(); }
};

struct KeylessCheckOptions {
  bool read_data = false;
};

inline constexpr size_t kMaxListedMissing = 20;

// Checks `snapshots` (as listed by the store, in index order). Errors are
// the store's; what is missing or damaged is in the report.
Result<KeylessCheckReport> CheckWithoutKey(ObjectStore& store,
                                           const std::vector<StoredSnapshot>& snapshots,
                                           const KeylessCheckOptions& options = {});

}  // namespace coffer::sync
