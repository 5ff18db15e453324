// The previous snapshot's directory trees, read ahead of a backup's walk.
//
// A backup compares each directory with its tree in the parent snapshot. Read
// one by one, that is one round trip to the server per directory, and an
// unchanged re-backup of a tree of 5,000 directories spent most of its time
// waiting for them. Each tree handed out here brings the trees below it
// (breadth-first, up to kReadAhead, those not held already) in batches of
// one GetMany each.
#pragma once

#include <unordered_map>

#include "store/base/object_id.h"
#include "store/base/status.h"
#include "store/model/coffer.pb.h"
#include "store/repo/repository.h"

namespace coffer::ingest {

class ParentTrees {
 public:
  // Trees read ahead per Take at most, and per GetMany.
  static constexpr size_t kReadAhead = 512;
  static constexpr size_t kBatch = 128;
  // Held at most, in trees and in their stored bytes: what the walk never
  // takes (directories deleted from the source since) must not pile up.
  static constexpr size_t kMaxHeld = 4096;
  static constexpr size_t kMaxHeldBytes = 32u << 20;

  explicit ParentTrees(Repository& repo) : repo_(repo) {}

  // The whole tree `id` (parts joined), from what was read ahead or read now.
  // A tree is handed out once; a second Take of the same id (two identical
  // directories) reads it again. Errors are those of Repository::ReadTree.
  Result<pb::Tree> Take(const ObjectId& id);

  size_t held() const { return held_.size(); }

 private:
  void ReadAheadBelow(const pb::Tree& tree);

  Repository& repo_;
  struct Held {
    pb::Tree stored;  // a split tree's index waits here and is assembled when taken
    size_t bytes = 0;
  };
  bool Full() const { return held_.size() >= kMaxHeld || held_bytes_ >= kMaxHeldBytes; }

  std::unordered_map<ObjectId, Held, ObjectIdHash> held_;
  size_t held_bytes_ = 0;
};

}  // namespace coffer::ingest
