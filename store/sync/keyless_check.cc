#include "store/sync/keyless_check.h"

#include <algorithm>
#include <optional>

#include "store/model/snapshot_name.h"
#include "store/objects/needs_list.h"
#include "store/sync/missing.h"

namespace coffer::sync {

Result<KeylessCheckReport> CheckWithoutKey(ObjectStore& store,
                                           const std::vector<StoredSnapshot>& snapshots) {
  KeylessCheckReport report;
  // The chain of the snapshot before in the same group, when all it needs
  // was there: the next one checks only what its set adds.
  std::optional<NeedsChain> complete;
  std::string group;
  for (const StoredSnapshot& s : snapshots) {
    if (s.ref.group != group) complete.reset();
    group = s.ref.group;
    const std::string name = s.ref.group + "/" + model::FormatTime(s.ref.time_ns);
    if (!s.needs) {
      report.without_needs.push_back(name);
      complete.reset();
      continue;
    }
    ++report.snapshots_checked;
    Result<NeedsChain> chain = ReadNeedsChain(
        *s.needs, [&](const ObjectId& id) { return store.Get(ObjectKind::kNeeds, id); },
        complete ? &*complete : nullptr);
    if (!chain.ok()) {
      if (chain.status().code() != Code::kCorruption) return chain.status();
      report.problems.push_back(name + ": " + chain.status().message());
      complete.reset();
      continue;
    }
    COFFER_ASSIGN_OR_RETURN(MissingObjects found,
                            FindMissing(store, chain->set, complete ? &complete->set : nullptr));
    report.objects_checked += found.checked;
    const uint64_t missing = found.missing.size();
    for (size_t i = 0; i < std::min<size_t>(missing, kMaxListedMissing); ++i) {
      report.problems.push_back(name + ": " + std::string(KindName(found.missing[i].kind)) + " " +
                                found.missing[i].id.short_hex() + " is missing");
    }
    if (missing > kMaxListedMissing) {
      report.problems.push_back(name + ": " + std::to_string(missing - kMaxListedMissing) +
                                " more objects are missing");
    }
    report.missing_objects += missing;
    if (missing == 0) {
      complete = std::move(chain).value();
    } else {
      complete.reset();
    }
  }
  return report;
}

}  // namespace coffer::sync
