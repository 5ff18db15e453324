#include "store/sync/keyless_check.h"

#include <algorithm>
#include <iterator>
#include <optional>

#include "store/model/snapshot_name.h"
#include "store/objects/needs_list.h"

namespace coffer::sync {
namespace {

constexpr size_t kContainsBatch = 16384;

}  // namespace

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
    NeedsSet added;
    if (complete) {
      std::set_difference(chain->set.begin(), chain->set.end(), complete->set.begin(),
                          complete->set.end(), std::back_inserter(added));
    }
    const NeedsSet& to_check = complete ? added : chain->set;
    uint64_t missing = 0;
    for (size_t at = 0; at < to_check.size();) {
      const ObjectKind kind = to_check[at].kind;
      std::vector<ObjectId> ids;
      while (at < to_check.size() && to_check[at].kind == kind && ids.size() < kContainsBatch) {
        ids.push_back(to_check[at++].id);
      }
      COFFER_ASSIGN_OR_RETURN(std::vector<bool> have, store.Contains(kind, ids));
      report.objects_checked += ids.size();
      for (size_t i = 0; i < ids.size(); ++i) {
        if (have[i]) continue;
        if (++missing <= kMaxListedMissing) {
          report.problems.push_back(name + ": " + std::string(KindName(kind)) + " " +
                                    ids[i].short_hex() + " is missing");
        }
      }
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
