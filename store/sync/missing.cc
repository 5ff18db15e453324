#include "store/sync/missing.h"

#include <algorithm>
#include <iterator>

namespace coffer::sync {
namespace {

// Ids per Contains call (the service's limit, store/service/limits.h).
constexpr size_t kContainsBatch = 16384;

}  // namespace

Result<MissingObjects> FindMissing(ObjectStore& store, const NeedsSet& set,
                                   const NeedsSet* complete) {
  NeedsSet added;
  if (complete != nullptr) {
    std::set_difference(set.begin(), set.end(), complete->begin(), complete->end(),
                        std::back_inserter(added));
  }
  const NeedsSet& to_check = complete != nullptr ? added : set;
  MissingObjects out;
  out.checked = to_check.size();
  for (size_t at = 0; at < to_check.size();) {
    // A batch of one kind: the set is sorted by kind first.
    const ObjectKind kind = to_check[at].kind;
    std::vector<ObjectId> ids;
    while (at < to_check.size() && to_check[at].kind == kind && ids.size() < kContainsBatch) {
      ids.push_back(to_check[at++].id);
    }
    COFFER_ASSIGN_OR_RETURN(std::vector<bool> have, store.Contains(kind, ids));
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!have[i]) out.missing.push_back({kind, ids[i]});
    }
  }
  return out;
}

}  // namespace coffer::sync
