// What a store lacks of a needs set: the one presence check sync and the
// keyless check share.
#pragma once

#include <cstdint>
#include <vector>

#include "store/base/status.h"
#include "store/objects/needs_list.h"
#include "store/objects/object_store.h"

namespace coffer::sync {

struct MissingObjects {
  std::vector<NeededObject> missing;  // sorted, as the set
  uint64_t checked = 0;               // presence checks made
};

// The members of `set` that `store` does not have, asked with Contains in
// batches of one kind. Given `complete`, a set whose every member the store
// is known to have (the group's snapshot before), only what `set` adds to
// it is asked for.
Result<MissingObjects> FindMissing(ObjectStore& store, const NeedsSet& set,
                                   const NeedsSet* complete);

}  // namespace coffer::sync
