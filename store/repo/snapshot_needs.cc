#include "store/repo/snapshot_needs.h"

#include <algorithm>
#include <unordered_set>

#include "store/model/tree.h"

namespace coffer {

Result<NeedsSet> CollectNeeds(Repository& repo, const ObjectId& root, const KnownReferences& known,
                              KnownReferences* learned) {
  NeedsSet set;
  std::unordered_set<ObjectId, ObjectIdHash> seen_trees{root};
  std::vector<ObjectId> stack{root};  // explicit: trees nest deeper than the C++ stack
  auto visit = [&](ObjectKind kind, const ObjectId& id) -> Status {
    if (kind == ObjectKind::kChunk) {
      set.push_back({kind, id});  // repeats are removed once, at the end
    } else if (seen_trees.insert(id).second) {
      stack.push_back(id);
    }
    return Status::Ok();
  };
  while (!stack.empty()) {
    const ObjectId tree_id = stack.back();
    stack.pop_back();
    set.push_back({ObjectKind::kTree, tree_id});
    if (auto it = known.find(tree_id); it != known.end()) {
      for (const NeededObject& named : it->second)
        COFFER_RETURN_IF_ERROR(visit(named.kind, named.id));
      continue;
    }
    COFFER_ASSIGN_OR_RETURN(pb::Tree tree, repo.ReadTreeObject(tree_id));
    std::vector<NeededObject> named;
    COFFER_RETURN_IF_ERROR(model::ForEachReference(tree, [&](ObjectKind kind, const ObjectId& id) {
                             named.push_back({kind, id});
                             return Status::Ok();
                           }).WithContext("tree " + tree_id.short_hex()));
    for (const NeededObject& n : named) COFFER_RETURN_IF_ERROR(visit(n.kind, n.id));
    if (learned != nullptr) learned->try_emplace(tree_id, std::move(named));
  }
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  return set;
}

Result<NeedsChain> ReadNeedsChain(ObjectStore& store, const ObjectId& head) {
  return ReadNeedsChain(head,
                        [&](const ObjectId& id) { return store.Get(ObjectKind::kNeeds, id); });
}

Result<ObjectId> PutNeeds(ObjectStore& store, const NeedsSet& set,
                          const std::optional<ObjectId>& parent) {
  std::optional<NeedsChain> parent_chain;
  if (parent) {
    // A parent whose chain is damaged or gone gets no difference: this
    // snapshot's set is written whole, and the damage stays the parent's.
    Result<NeedsChain> chain = ReadNeedsChain(store, *parent);
    if (chain.ok()) {
      parent_chain = std::move(chain).value();
    } else if (chain.status().code() != Code::kCorruption) {
      return chain.status();
    }
  }
  std::vector<EncodedNeedsList> lists =
      PlanNeedsLists(set, parent_chain ? &*parent_chain : nullptr);
  if (lists.empty()) return *parent;
  for (const EncodedNeedsList& list : lists) {
    COFFER_RETURN_IF_ERROR(store.Put(ObjectKind::kNeeds, list.id, list.bytes));
  }
  return lists.back().id;
}

}  // namespace coffer
