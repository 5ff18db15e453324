#include "store/gc/collector.h"

#include <map>
#include <unordered_set>
#include <vector>

#include "store/base/crash_point.h"
#include "store/model/snapshot_name.h"
#include "store/model/tree.h"
#include "store/objects/needs_list.h"
#include "store/repo/snapshot_needs.h"

namespace coffer::gc {
namespace {

// Prefixes sent per AddGcMarks call (512 KiB): a call costs little next to
// walking the trees, while a large request would be held twice by the
// server (message and marks) at the moment it arrives.
constexpr size_t kMarkBatch = 1 << 16;

class Marker {
 public:
  Marker(Repository& repo, uint64_t gc_id, const GcProgressFn& progress)
      : repo_(repo), gc_id_(gc_id), progress_(progress) {}

  // Marks everything reachable from `root`.
  Status MarkSnapshot(const StoredSnapshot& root) {
    const std::string name = root.ref.group + "/" + model::FormatTime(root.ref.time_ns);
    // A record that does not open references objects no one can name: any
    // of them might be among those a sweep would delete.
    auto refuse = [&](const Status& why) {
      return Status::Corruption("the snapshot record " + name + " is damaged (" + why.message() +
                                "), so what it references is unknown: forget it (coffer forget " +
                                name + ") or repair the repository first");
    };
    Result<Bytes> plain = repo_.sealer().Open(ObjectKind::kSnapshot, root.ref.id, root.sealed);
    if (!plain.ok()) return refuse(plain.status());
    pb::Snapshot record;
    if (Status s = model::Decode(*plain, &record, "snapshot " + root.ref.id.short_hex()); !s.ok()) {
      return refuse(s);
    }
    // A record that opens is authentic even if indexed under another name
    // (the Repository lists it as damaged): what it references is known, and
    // marking it only keeps more.
    auto root_tree = ObjectId::FromBytes(AsBytes(record.root_tree_id()));
    if (!root_tree) return refuse(Status::Corruption("a malformed root tree id"));
    // Depth-first with an explicit stack: trees can be deeper than the C++ stack.
    std::vector<std::pair<ObjectId, std::string>> stack{{*root_tree, "/"}};
    while (!stack.empty()) {
      // Named variables, not a structured binding: the lambdas below capture
      // `path`, which clang before 16 refuses for a binding.
      ObjectId id = stack.back().first;
      std::string path = std::move(stack.back().second);
      stack.pop_back();
      if (!visited_.insert(id).second) continue;
      COFFER_RETURN_IF_ERROR(Mark(id));
      // The stored object, not the assembled directory: a split tree's parts
      // are objects to mark, too.
      Result<pb::Tree> tree = repo_.ReadTreeObject(id);
      if (!tree.ok()) {
        // A tree a snapshot references is damage when it is missing, too.
        Status status = tree.status().code() == Code::kNotFound
                            ? Status::Corruption(tree.status().message())
                            : tree.status();
        return status.WithContext("directory " + model::FormatTime(record.time_ns()) + " " +
                                  record.group() + ":" + path);
      }
      ++progress_state_.trees_walked;
      auto follow = [&](const std::string& tree_id, const std::string& tree_path) -> Status {
        auto next = ObjectId::FromBytes(AsBytes(tree_id));
        if (!next) return Status::Corruption("malformed tree id in " + path);
        if (!visited_.count(*next)) stack.emplace_back(*next, tree_path);
        return Status::Ok();
      };
      for (const pb::TreePart& part : tree->parts()) {
        COFFER_RETURN_IF_ERROR(follow(part.tree_id(), path));
      }
      for (const pb::Entry& entry : tree->entries()) {
        auto entry_path = [&] { return (path == "/" ? "/" : path + "/") + entry.name(); };
        for (const pb::Extent& extent : entry.extents()) {
          if (extent.chunk_id().empty()) continue;  // a hole
          auto chunk = ObjectId::FromBytes(AsBytes(extent.chunk_id()));
          if (!chunk) return Status::Corruption("malformed chunk id in " + path);
          ++progress_state_.chunks_marked;
          COFFER_RETURN_IF_ERROR(Mark(*chunk));
        }
        for (const pb::ExtentPart& part : entry.extent_parts()) {
          COFFER_RETURN_IF_ERROR(follow(part.tree_id(), entry_path()));
        }
        if (entry.type() == pb::Entry::DIRECTORY && !entry.subtree_id().empty()) {
          COFFER_RETURN_IF_ERROR(follow(entry.subtree_id(), entry_path()));
        }
      }
      if (progress_ && progress_state_.trees_walked % 256 == 0) progress_(progress_state_);
    }
    std::optional<ObjectId> needs = root.needs;
    if (!needs) {
      COFFER_ASSIGN_OR_RETURN(needs, WriteNeeds(root, *root_tree));
    }
    if (needs) last_needs_[root.ref.group] = *needs;
    return MarkNeedsChain(needs);
  }

  uint64_t needs_written() const { return needs_written_; }

  Status SendMarks() {
    if (pending_.empty()) return Status::Ok();
    std::sort(pending_.begin(), pending_.end());
    pending_.erase(std::unique(pending_.begin(), pending_.end()), pending_.end());
    COFFER_RETURN_IF_ERROR(repo_.store().AddGcMarks(gc_id_, pending_));
    pending_.clear();
    return Status::Ok();
  }

  GcProgress& progress_state() { return progress_state_; }

 private:
  // What the trees of the old snapshots given needs name, kept across them:
  // the next snapshot of a group shares most of its trees. Cleared when it
  // would hold more than this many trees.
  static constexpr size_t kMaxLearned = 1u << 18;

  // Stores the needs of a snapshot made before needs lists, as the
  // difference from the previous snapshot of its group, and names them.
  // None if the snapshot went meanwhile (a pinned parent) or could not
  // take them; the lists are marked either way.
  Result<std::optional<ObjectId>> WriteNeeds(const StoredSnapshot& root,
                                             const ObjectId& root_tree) {
    if (learned_.size() > kMaxLearned) learned_.clear();
    COFFER_ASSIGN_OR_RETURN(NeedsSet set, CollectNeeds(repo_, root_tree, learned_, &learned_));
    std::optional<ObjectId> parent;
    if (auto it = last_needs_.find(root.ref.group); it != last_needs_.end()) parent = it->second;
    COFFER_ASSIGN_OR_RETURN(ObjectId head, PutNeeds(repo_.store(), set, parent));
    COFFER_RETURN_IF_ERROR(MarkNeedsChain(head));
    Status named = repo_.store().SetSnapshotNeeds(root.ref, head);
    if (named.code() == Code::kNotFound || named.code() == Code::kAlreadyExists) {
      return std::optional<ObjectId>();
    }
    COFFER_RETURN_IF_ERROR(named);
    ++needs_written_;
    return std::optional<ObjectId>(head);
  }

  // Keeps the needs lists of a snapshot's chain. They only describe what the
  // trees say: a list that is missing or damaged ends the chain here (the
  // next backup of the group writes a whole one), it does not stop gc.
  Status MarkNeedsChain(std::optional<ObjectId> list) {
    while (list && visited_lists_.insert(*list).second) {
      COFFER_RETURN_IF_ERROR(Mark(*list));
      Result<Bytes> bytes = repo_.store().Get(ObjectKind::kNeeds, *list);
      if (!bytes.ok()) {
        if (IsObjectFailure(bytes.status())) return Status::Ok();
        return bytes.status();
      }
      Result<NeedsList> decoded = DecodeNeedsList(*bytes);
      if (!decoded.ok() || NeedsListId(*bytes) != *list) return Status::Ok();
      list = decoded->base;
    }
    return Status::Ok();
  }

  Status Mark(const ObjectId& id) {
    pending_.push_back(id.prefix64());
    if (pending_.size() >= kMarkBatch) return SendMarks();
    return Status::Ok();
  }

  Repository& repo_;
  const uint64_t gc_id_;
  const GcProgressFn& progress_;
  GcProgress progress_state_;
  std::unordered_set<ObjectId, ObjectIdHash> visited_;
  std::unordered_set<ObjectId, ObjectIdHash> visited_lists_;
  std::map<std::string, ObjectId> last_needs_;  // by group: the newest needs seen
  KnownReferences learned_;
  uint64_t needs_written_ = 0;
  std::vector<uint64_t> pending_;
};

}  // namespace

Result<GcReport> CollectGarbage(Repository& repo, const GcProgressFn& progress) {
  COFFER_ASSIGN_OR_RETURN(GcStart start, repo.store().BeginGc());
  PausePoint("gc-marking");
  Marker marker(repo, start.gc_id, progress);
  marker.progress_state().snapshots_total = start.roots.size();
  Status marked = [&]() -> Status {
    for (const StoredSnapshot& root : start.roots) {
      COFFER_RETURN_IF_ERROR(marker.MarkSnapshot(root));
      ++marker.progress_state().snapshots_done;
      if (progress) progress(marker.progress_state());
    }
    return marker.SendMarks();
  }();
  if (!marked.ok()) {
    (void)repo.store().AbortGc(start.gc_id);
    return marked.WithContext("garbage collection stopped before deleting anything");
  }
  marker.progress_state().sweeping = true;
  if (progress) progress(marker.progress_state());
  GcReport report;
  report.roots = start.roots.size();
  report.needs_written = marker.needs_written();
  report.trees_walked = marker.progress_state().trees_walked;
  report.chunk_references = marker.progress_state().chunks_marked;
  COFFER_ASSIGN_OR_RETURN(report.sweep, repo.store().FinishGc(start.gc_id));
  return report;
}

}  // namespace coffer::gc
