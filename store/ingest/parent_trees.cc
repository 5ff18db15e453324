#include "store/ingest/parent_trees.h"

#include <vector>

#include "store/model/tree.h"
#include "store/model/tree_split.h"

namespace coffer::ingest {

Result<pb::Tree> ParentTrees::Take(const ObjectId& id) {
  pb::Tree tree;
  if (auto held = held_.find(id); held != held_.end()) {
    pb::Tree stored = std::move(held->second.stored);
    held_bytes_ -= held->second.bytes;
    held_.erase(held);
    auto read_part = [this](const ObjectId& part) { return repo_.ReadTreeObject(part); };
    COFFER_ASSIGN_OR_RETURN(tree, model::AssembleTree(id, std::move(stored), read_part));
  } else {
    COFFER_ASSIGN_OR_RETURN(tree, repo_.ReadTree(id));
  }
  // The walk goes into this directory next: its subdirectories' trees, and
  // what lies below them, should be here when it does.
  ReadAheadBelow(tree);
  return tree;
}

void ParentTrees::ReadAheadBelow(const pb::Tree& tree) {
  // The frontier points into `tree` and into held_, whose elements stay put
  // while the map grows (node-based), and nothing is taken meanwhile.
  std::vector<const pb::Tree*> frontier = {&tree};
  size_t read = 0;
  while (!frontier.empty() && read < kReadAhead && !Full()) {
    std::vector<ObjectId> wanted;
    for (const pb::Tree* dir : frontier) {
      for (const pb::Entry& entry : dir->entries()) {
        if (entry.type() != pb::Entry::DIRECTORY) continue;
        auto child = ObjectId::FromBytes(AsBytes(entry.subtree_id()));
        if (!child || held_.contains(*child)) continue;
        if (read + wanted.size() >= kReadAhead || held_.size() + wanted.size() >= kMaxHeld) break;
        wanted.push_back(*child);
      }
    }
    std::vector<const pb::Tree*> next;
    for (size_t from = 0; from < wanted.size(); from += kBatch) {
      std::span<const ObjectId> batch(wanted.data() + from, std::min(kBatch, wanted.size() - from));
      // A tree that is missing or damaged is not held: Take reads it again
      // and reports what is wrong then, where the walk needs it.
      Status status = repo_.ReadObjects(
          ObjectKind::kTree, batch, crypto::IdCheck::kIfUnencrypted,
          [&](size_t index, Result<Bytes> object) {
            if (!object.ok()) return;
            pb::Tree stored;
            if (!model::Decode(*object, &stored, "tree").ok()) return;
            const size_t bytes = object->size();
            auto [it, inserted] = held_.try_emplace(batch[index], Held{std::move(stored), bytes});
            if (!inserted) return;
            held_bytes_ += bytes;
            next.push_back(&it->second.stored);
          });
      read += batch.size();
      if (!status.ok()) return;  // the store failed: the walk will see it too
    }
    frontier = std::move(next);
  }
}

}  // namespace coffer::ingest
