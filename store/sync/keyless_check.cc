#include "store/sync/keyless_check.h"

#include <algorithm>
#include <iterator>
#include <optional>
#include <set>

#include "store/model/snapshot_name.h"
#include "store/objects/needs_list.h"
#include "store/sync/missing.h"

namespace coffer::sync {
namespace {

// Objects per GetManyChecked call.
constexpr size_t kReadBatch = 256;

// Reads back objects as stored, each once over the whole check: one that is
// damaged, or gone since the presence check, is a problem of every snapshot
// that needs it.
class ReadBack {
 public:
  ReadBack(ObjectStore& store, KeylessCheckReport& report) : store_(store), report_(report) {}

  // Whether every one of `objects` read back intact (now or before).
  Result<bool> Read(const std::string& name, const std::vector<NeededObject>& objects) {
    uint64_t damaged = 0;
    auto note = [&](const NeededObject& o, const std::string& why) {
      if (++damaged <= kMaxListedMissing) {
        report_.problems.push_back(name + ": " + std::string(KindName(o.kind)) + " " +
                                   o.id.short_hex() + " " + why);
      }
    };
    for (ObjectKind kind : {ObjectKind::kTree, ObjectKind::kChunk}) {
      std::vector<ObjectId> ids;
      for (const NeededObject& o : objects) {
        if (o.kind != kind) continue;
        if (read_.insert(o).second) {
          ids.push_back(o.id);
        } else if (damaged_.count(o)) {
          note(o, "does not read back intact (as above)");
        }
      }
      for (size_t at = 0; at < ids.size(); at += kReadBatch) {
        std::span<const ObjectId> batch(ids.data() + at, std::min(kReadBatch, ids.size() - at));
        COFFER_RETURN_IF_ERROR(
            store_.GetManyChecked(kind, batch, [&](size_t i, Result<ByteView> sealed) {
              ++report_.objects_read;
              if (sealed.ok()) {
                report_.bytes_read += sealed->size();
                return;
              }
              const NeededObject o{kind, batch[i]};
              damaged_.insert(o);
              ++report_.damaged_objects;
              note(o, (sealed.status().code() == Code::kNotFound ? "is missing when read ("
                                                                 : "does not read back intact (") +
                          sealed.status().message() + ")");
            }));
      }
    }
    if (damaged > kMaxListedMissing) {
      report_.problems.push_back(name + ": " + std::to_string(damaged - kMaxListedMissing) +
                                 " more objects do not read back intact");
    }
    return damaged == 0;
  }

 private:
  ObjectStore& store_;
  KeylessCheckReport& report_;
  std::set<NeededObject> read_;
  std::set<NeededObject> damaged_;
};

// The members of `set` not in `known` (both sorted) and not in `missing`.
std::vector<NeededObject> ToRead(const NeedsSet& set, const NeedsSet* known,
                                 const std::vector<NeededObject>& missing) {
  std::vector<NeededObject> added;
  if (known) {
    std::set_difference(set.begin(), set.end(), known->begin(), known->end(),
                        std::back_inserter(added));
  } else {
    added = set;
  }
  std::vector<NeededObject> present;
  std::set_difference(added.begin(), added.end(), missing.begin(), missing.end(),
                      std::back_inserter(present));
  return present;
}

}  // namespace

Result<KeylessCheckReport> CheckWithoutKey(ObjectStore& store,
                                           const std::vector<StoredSnapshot>& snapshots,
                                           const KeylessCheckOptions& options) {
  KeylessCheckReport report;
  ReadBack read_back(store, report);
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
    if (options.read_data) {
      COFFER_ASSIGN_OR_RETURN(
          bool intact, read_back.Read(name, ToRead(chain->set, complete ? &complete->set : nullptr,
                                                   found.missing)));
      if (!intact) {
        complete.reset();
        continue;
      }
    }
    if (missing == 0) {
      complete = std::move(chain).value();
    } else {
      complete.reset();
    }
  }
  return report;
}

}  // namespace coffer::sync
