// Garbage collection, the client's half: mark. The store cannot read trees
// (it has no key), so the client walks every root the store names (all
// snapshots, and the parents running backups reuse), sends the id prefix of
// every reachable tree and chunk, and the store sweeps the rest
// (ObjectStore::BeginGc / AddGcMarks / FinishGc; the store keeps whatever a
// backup running meanwhile uses).
//
// Nothing is deleted unless the whole walk succeeded: a missing or damaged
// tree stops the collection (whatever it references cannot be marked), and
// the error says which snapshot and path. So does a snapshot record that
// fails to open (kCorruption naming it): until it is forgotten or repaired,
// nothing it might reference can be told from garbage.
//
// A snapshot made before needs lists gets them here: its trees are walked
// once more, whole, and its set is stored as the difference from the one
// before it in its group (objects/needs_list.h).
//
// Memory: the ids of the trees visited (shared subtrees are walked once)
// and at most kMarkBatch pending chunk prefixes (8 bytes each); while old
// snapshots are given needs, what their trees name (up to kMaxLearned).
#pragma once

#include <cstdint>
#include <functional>

#include "store/base/status.h"
#include "store/repo/repository.h"

namespace coffer::gc {

struct GcProgress {
  uint64_t snapshots_done = 0;
  uint64_t snapshots_total = 0;
  uint64_t trees_walked = 0;
  uint64_t chunks_marked = 0;  // with repetitions across trees
  bool sweeping = false;
};

struct GcReport {
  uint64_t roots = 0;  // snapshots walked, including pinned parents
  // Snapshots made before needs lists that were given theirs (a keyless
  // copy can then take them along).
  uint64_t needs_written = 0;
  uint64_t trees_walked = 0;
  uint64_t chunk_references = 0;
  GcResult sweep;
};

using GcProgressFn = std::function<void(const GcProgress&)>;

Result<GcReport> CollectGarbage(Repository& repo, const GcProgressFn& progress = {});

}  // namespace coffer::gc
