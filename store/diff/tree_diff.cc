#include "store/diff/tree_diff.h"

#include <set>
#include <utility>

#include "store/base/bytes.h"

namespace coffer::diff {
namespace {

bool SameExtents(const pb::Entry& a, const pb::Entry& b) {
  if (a.extents_size() != b.extents_size()) return false;
  for (int i = 0; i < a.extents_size(); ++i) {
    if (a.extents(i).size() != b.extents(i).size() ||
        a.extents(i).chunk_id() != b.extents(i).chunk_id()) {
      return false;
    }
  }
  if (a.extent_parts_size() != b.extent_parts_size()) return false;
  for (int i = 0; i < a.extent_parts_size(); ++i) {
    if (a.extent_parts(i).size() != b.extent_parts(i).size() ||
        a.extent_parts(i).tree_id() != b.extent_parts(i).tree_id()) {
      return false;
    }
  }
  return true;
}

// Chunk ids are keyed hashes of the plaintext and the chunker is
// deterministic, so equal bytes give equal extents: comparing the lists is
// comparing the content, without reading a chunk.
bool SameContent(const pb::Entry& a, const pb::Entry& b) {
  switch (a.type()) {
    case pb::Entry::FILE: return a.size() == b.size() && SameExtents(a, b);
    case pb::Entry::SYMLINK: return a.symlink_target() == b.symlink_target();
    case pb::Entry::CHAR_DEVICE:
    case pb::Entry::BLOCK_DEVICE: return a.rdev() == b.rdev();
    default: return true;
  }
}

bool SameXattrs(const pb::Entry& a, const pb::Entry& b) {
  if (a.xattrs_size() != b.xattrs_size()) return false;
  for (int i = 0; i < a.xattrs_size(); ++i) {
    if (a.xattrs(i).name() != b.xattrs(i).name() || a.xattrs(i).value() != b.xattrs(i).value()) {
      return false;
    }
  }
  return true;
}

std::string Join(std::string_view prefix, std::string_view name) {
  std::string path(prefix);
  if (!path.empty()) path += '/';
  path += name;
  return path;
}

class TreeWalker {
 public:
  TreeWalker(const model::ReadTreeFn& read, const std::function<Status(const Change&)>& report,
             DiffStats& stats)
      : read_(read), report_(report), stats_(stats) {}

  // Reports what changed between the directories `before` and `after` at `path`.
  Status DiffDirectories(const std::string& path, const ObjectId& before, const ObjectId& after) {
    if (before == after) {
      ++stats_.subtrees_skipped;
      return Status::Ok();
    }
    COFFER_ASSIGN_OR_RETURN(pb::Tree old_index, Read(before));
    COFFER_ASSIGN_OR_RETURN(pb::Tree new_index, Read(after));
    // Parts named on both sides hold the same entries: leave them out of
    // both, and what is left of each side is still sorted by name.
    std::set<std::string> old_parts, shared_parts;
    for (const pb::TreePart& part : old_index.parts()) old_parts.insert(part.tree_id());
    for (const pb::TreePart& part : new_index.parts()) {
      if (old_parts.count(part.tree_id()) > 0) shared_parts.insert(part.tree_id());
    }
    stats_.subtrees_skipped += shared_parts.size();
    COFFER_ASSIGN_OR_RETURN(pb::Tree old_entries,
                            Entries(before, std::move(old_index), shared_parts));
    COFFER_ASSIGN_OR_RETURN(pb::Tree new_entries,
                            Entries(after, std::move(new_index), shared_parts));
    return MergeEntries(path, old_entries, new_entries);
  }

  // One entry's change at `path` (either side may be missing), then what
  // changed below it.
  Status DiffEntry(const std::string& path, const pb::Entry* before, const pb::Entry* after) {
    if (before == nullptr && after == nullptr) return Status::Ok();
    if (before == nullptr) return ReportTree(Change::kAdded, path, *after);
    if (after == nullptr) return ReportTree(Change::kRemoved, path, *before);
    const uint32_t differences = CompareEntries(*before, *after);
    if (differences != 0) {
      COFFER_RETURN_IF_ERROR(report_(Change{Change::kChanged, path, before, after, differences}));
    }
    const bool was_directory = before->type() == pb::Entry::DIRECTORY;
    const bool is_directory = after->type() == pb::Entry::DIRECTORY;
    if (was_directory && is_directory) {
      COFFER_ASSIGN_OR_RETURN(ObjectId old_tree, SubtreeId(*before));
      COFFER_ASSIGN_OR_RETURN(ObjectId new_tree, SubtreeId(*after));
      return DiffDirectories(path, old_tree, new_tree);
    }
    if (was_directory) COFFER_RETURN_IF_ERROR(ReportContents(Change::kRemoved, path, *before));
    if (is_directory) COFFER_RETURN_IF_ERROR(ReportContents(Change::kAdded, path, *after));
    return Status::Ok();
  }

 private:
  Result<pb::Tree> Read(const ObjectId& id) {
    ++stats_.trees_read;
    return read_(id);
  }

  static Result<ObjectId> SubtreeId(const pb::Entry& directory) {
    auto id = ObjectId::FromBytes(AsBytes(directory.subtree_id()));
    if (!id) return Status::Corruption("directory with a malformed tree id");
    return *id;
  }

  // The entries of the tree `id`, stored as `index`, leaving out those of
  // the parts in `skip`.
  Result<pb::Tree> Entries(const ObjectId& id, pb::Tree index, const std::set<std::string>& skip) {
    if (index.parts_size() == 0) return index;
    if (index.entries_size() > 0) {
      return Status::Corruption("tree " + id.short_hex() + " has both entries and parts");
    }
    pb::Tree entries;
    for (int k = 0; k < index.parts_size(); ++k) {
      if (skip.count(index.parts(k).tree_id()) > 0) continue;
      COFFER_ASSIGN_OR_RETURN(ObjectId part_id, model::PartId(id, index, static_cast<size_t>(k)));
      Result<pb::Tree> part = Read(part_id);
      if (!part.ok()) return part.status().WithContext("part of tree " + id.short_hex());
      COFFER_RETURN_IF_ERROR(model::CheckPart(id, index, static_cast<size_t>(k), *part));
      for (pb::Entry& entry : *part->mutable_entries()) entries.add_entries()->Swap(&entry);
    }
    return entries;
  }

  Result<pb::Tree> WholeTree(const ObjectId& id) {
    COFFER_ASSIGN_OR_RETURN(pb::Tree index, Read(id));
    return Entries(id, std::move(index), {});
  }

  // Both trees sorted by name (bytewise, as std::string compares).
  Status MergeEntries(const std::string& path, const pb::Tree& before, const pb::Tree& after) {
    int i = 0, j = 0;
    while (i < before.entries_size() || j < after.entries_size()) {
      const pb::Entry* old_entry = i < before.entries_size() ? &before.entries(i) : nullptr;
      const pb::Entry* new_entry = j < after.entries_size() ? &after.entries(j) : nullptr;
      if (old_entry != nullptr && new_entry != nullptr) {
        const int order = old_entry->name().compare(new_entry->name());
        if (order < 0) new_entry = nullptr;
        if (order > 0) old_entry = nullptr;
      }
      const std::string& name = old_entry != nullptr ? old_entry->name() : new_entry->name();
      COFFER_RETURN_IF_ERROR(DiffEntry(Join(path, name), old_entry, new_entry));
      if (old_entry != nullptr) ++i;
      if (new_entry != nullptr) ++j;
    }
    return Status::Ok();
  }

  // `entry` added or removed at `path`, and everything below it.
  Status ReportTree(Change::Kind kind, const std::string& path, const pb::Entry& entry) {
    Change change{kind, path, nullptr, nullptr, 0};
    (kind == Change::kAdded ? change.after : change.before) = &entry;
    COFFER_RETURN_IF_ERROR(report_(change));
    if (entry.type() != pb::Entry::DIRECTORY) return Status::Ok();
    return ReportContents(kind, path, entry);
  }

  Status ReportContents(Change::Kind kind, const std::string& path, const pb::Entry& directory) {
    COFFER_ASSIGN_OR_RETURN(ObjectId id, SubtreeId(directory));
    COFFER_ASSIGN_OR_RETURN(pb::Tree tree, WholeTree(id));
    for (const pb::Entry& entry : tree.entries()) {
      COFFER_RETURN_IF_ERROR(ReportTree(kind, Join(path, entry.name()), entry));
    }
    return Status::Ok();
  }

  const model::ReadTreeFn& read_;
  const std::function<Status(const Change&)>& report_;
  DiffStats& stats_;
};

}  // namespace

std::vector<std::string_view> DifferenceNames(uint32_t differences) {
  static constexpr std::pair<Difference, std::string_view> kNames[] = {
      {kType, "type"},   {kContent, "content"}, {kMode, "mode"},
      {kOwner, "owner"}, {kTimes, "times"},     {kXattrs, "xattrs"},
  };
  std::vector<std::string_view> names;
  for (const auto& [bit, name] : kNames) {
    if ((differences & bit) != 0) names.push_back(name);
  }
  return names;
}

uint32_t CompareEntries(const pb::Entry& before, const pb::Entry& after) {
  uint32_t differences = 0;
  if (before.type() != after.type()) {
    differences |= kType;
  } else if (!SameContent(before, after)) {
    differences |= kContent;
  }
  if (before.mode() != after.mode()) differences |= kMode;
  if (before.uid() != after.uid() || before.gid() != after.gid() || before.user() != after.user() ||
      before.group() != after.group()) {
    differences |= kOwner;
  }
  if (before.mtime_ns() != after.mtime_ns()) differences |= kTimes;
  if (!SameXattrs(before, after)) differences |= kXattrs;
  return differences;
}

Status DiffTrees(const ObjectId& before, const ObjectId& after, const model::ReadTreeFn& read,
                 const std::function<Status(const Change&)>& report, DiffStats* stats,
                 std::string_view prefix) {
  DiffStats ignored;
  TreeWalker walker(read, report, stats != nullptr ? *stats : ignored);
  return walker.DiffDirectories(std::string(prefix), before, after);
}

Status DiffEntries(const pb::Entry* before, const pb::Entry* after, std::string_view path,
                   const model::ReadTreeFn& read,
                   const std::function<Status(const Change&)>& report, DiffStats* stats) {
  DiffStats ignored;
  TreeWalker walker(read, report, stats != nullptr ? *stats : ignored);
  return walker.DiffEntry(std::string(path), before, after);
}

}  // namespace coffer::diff
