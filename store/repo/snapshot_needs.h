// A snapshot's needs set (objects/needs_list.h): what it is, from its trees,
// and how it is stored, as a difference from its parent's where it can be.
#pragma once

#include <optional>
#include <unordered_map>
#include <vector>

#include "store/base/object_id.h"
#include "store/base/status.h"
#include "store/objects/needs_list.h"
#include "store/objects/object_store.h"
#include "store/repo/repository.h"

namespace coffer {

// What each tree names, as a writer learns it while storing the trees, so
// that the set of a new snapshot costs no reading of trees it just wrote.
using KnownReferences = std::unordered_map<ObjectId, std::vector<NeededObject>, ObjectIdHash>;

// Every chunk and tree reachable from the tree `root`, itself included,
// sorted. Trees in `known` are not read; the others (reused from a parent
// without being written again, e.g. the extent parts of an unchanged huge
// file) are read with the key, and what they name is added to `learned`
// when given (which may be `known` itself). Errors are those of reading a
// tree.
Result<NeedsSet> CollectNeeds(Repository& repo, const ObjectId& root, const KnownReferences& known,
                              KnownReferences* learned = nullptr);

// The chain of needs lists whose newest is `head`, read from `store`.
Result<NeedsChain> ReadNeedsChain(ObjectStore& store, const ObjectId& head);

// Puts the needs lists that describe `set`, as a difference from `parent`'s
// chain when it has a readable one, and returns the newest list's id (the
// parent's own when nothing changed). The lists are only put: the commit
// that names them makes them durable.
Result<ObjectId> PutNeeds(ObjectStore& store, const NeedsSet& set,
                          const std::optional<ObjectId>& parent);

}  // namespace coffer
