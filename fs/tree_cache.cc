#include "fs/tree_cache.h"

#include <span>

#include "store/model/tree.h"

namespace coffer::fs {

TreeCache::TreeCache(Repository& repo, uint64_t capacity_bytes)
    : repo_(repo), capacity_bytes_(capacity_bytes), trees_(capacity_bytes) {}

Result<TreeObjectPtr> TreeCache::Read(const ObjectId& id) {
  {
    std::lock_guard lock(mu_);
    if (auto* hit = trees_.Find(id)) return *hit;
  }
  // One object as stored: a split directory's parts, and a large file's
  // extent parts, are read when needed.
  COFFER_ASSIGN_OR_RETURN(pb::Tree tree, repo_.ReadTreeObject(id));
  return Keep(id, std::move(tree));
}

Result<TreeObjectPtr> TreeCache::Keep(const ObjectId& id, pb::Tree tree) {
  auto object = std::make_shared<TreeObject>();
  object->tree = std::move(tree);
  if (object->split()) {
    if (object->tree.entries_size() > 0) {
      return Status::Corruption("tree " + id.short_hex() + " has both entries and parts");
    }
    object->part_starts =
        Starts(object->tree.parts(), 0, [](const pb::TreePart& part) { return part.entries(); });
  }
  for (const pb::Entry& e : object->tree.entries()) object->any_xattrs |= e.xattrs_size() > 0;
  // What the decoded tree occupies (its strings and repeated fields), not its encoding.
  object->memory_bytes = object->tree.SpaceUsedLong() + object->part_starts.size() * 8 + 128;
  TreeObjectPtr shared = std::move(object);
  std::lock_guard lock(mu_);
  trees_.Insert(id, shared, shared->memory_bytes);
  return shared;
}

void TreeCache::ReadAheadBelow(const TreeObject& dir) {
  // The directories to look below, and the trees not in the cache yet.
  std::vector<const pb::Tree*> frontier = {&dir.tree};
  std::vector<TreeObjectPtr> keep_alive;  // the cache may drop what the walk still reads
  size_t read = 0;
  size_t looked_at = 0;  // bounds the walk through trees read before, too
  uint64_t read_bytes = 0;
  const uint64_t max_read_bytes = capacity_bytes_ / 2;
  while (!frontier.empty() && read < kReadAheadTrees && looked_at < 4 * kReadAheadTrees &&
         read_bytes < max_read_bytes) {
    std::vector<const pb::Tree*> next;
    std::vector<ObjectId> missing;
    for (const pb::Tree* tree : frontier) {
      for (const pb::Entry& entry : tree->entries()) {
        if (entry.type() != pb::Entry::DIRECTORY) continue;
        auto id = ObjectId::FromBytes(AsBytes(entry.subtree_id()));
        if (!id || ++looked_at > 4 * kReadAheadTrees) continue;
        TreeObjectPtr cached;
        {
          std::lock_guard lock(mu_);
          if (auto* hit = trees_.Find(*id)) cached = *hit;
        }
        if (cached) {
          next.push_back(&cached->tree);
          keep_alive.push_back(std::move(cached));
        } else if (read + missing.size() < kReadAheadTrees) {
          missing.push_back(*id);
        }
      }
    }
    for (size_t from = 0; from < missing.size() && read_bytes < max_read_bytes;
         from += kReadAheadBatch) {
      const size_t count = std::min(kReadAheadBatch, missing.size() - from);
      std::span<const ObjectId> batch(missing.data() + from, count);
      Status batch_status = repo_.ReadObjects(
          ObjectKind::kTree, batch, crypto::IdCheck::kIfUnencrypted,
          [&](size_t index, Result<Bytes> object) {
            // A batch may hold more than the budget: the rest is not kept.
            if (!object.ok() || read_bytes >= max_read_bytes) return;
            pb::Tree tree;
            if (!model::Decode(*object, &tree, "tree " + batch[index].short_hex()).ok()) return;
            auto kept = Keep(batch[index], std::move(tree));
            if (!kept.ok()) return;
            read_bytes += (*kept)->memory_bytes;
            next.push_back(&(*kept)->tree);
            keep_alive.push_back(std::move(*kept));
          });
      read += count;
      if (!batch_status.ok()) return;
    }
    frontier = std::move(next);
  }
}

uint64_t TreeCache::used_bytes() const {
  std::lock_guard lock(mu_);
  return trees_.used();
}

}  // namespace coffer::fs
