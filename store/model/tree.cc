#include "store/model/tree.h"

#include <algorithm>
#include <utility>

namespace coffer::model {

Bytes Encode(const google::protobuf::MessageLite& message) {
  // Coffer's records have no map fields, for which alone protobuf's default
  // serialization is not deterministic.
  Bytes out(message.ByteSizeLong());
  message.SerializeWithCachedSizesToArray(out.data());
  return out;
}

Status Decode(ByteView bytes, google::protobuf::MessageLite* message, std::string_view what) {
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return Status::Corruption("cannot decode " + std::string(what));
  return Status::Ok();
}

void SortEntries(pb::Tree* tree) {
  std::sort(tree->mutable_entries()->begin(), tree->mutable_entries()->end(),
            [](const pb::Entry& a, const pb::Entry& b) { return a.name() < b.name(); });
}

const pb::Entry* FindEntry(const pb::Tree& tree, std::string_view name) {
  const auto& entries = tree.entries();
  auto it = std::lower_bound(entries.begin(), entries.end(), name,
                             [](const pb::Entry& e, std::string_view n) { return e.name() < n; });
  if (it == entries.end() || it->name() != name) return nullptr;
  return &*it;
}

pb::Entry* FindEntry(pb::Tree& tree, std::string_view name) {
  return const_cast<pb::Entry*>(FindEntry(std::as_const(tree), name));
}

Status CheckEntryName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." ||
      name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos) {
    return Status::Corruption("invalid file name in the snapshot");
  }
  return Status::Ok();
}

Status ForEachReference(const pb::Tree& tree,
                        const std::function<Status(ObjectKind kind, const ObjectId& id)>& visit) {
  auto named = [&](ObjectKind kind, const std::string& bytes) -> Status {
    auto id = ObjectId::FromBytes(AsBytes(bytes));
    if (!id) return Status::Corruption("a malformed " + std::string(KindName(kind)) + " id");
    return visit(kind, *id);
  };
  for (const pb::TreePart& part : tree.parts()) {
    COFFER_RETURN_IF_ERROR(named(ObjectKind::kTree, part.tree_id()));
  }
  for (const pb::Entry& entry : tree.entries()) {
    for (const pb::Extent& extent : entry.extents()) {
      if (extent.chunk_id().empty()) continue;  // a hole
      COFFER_RETURN_IF_ERROR(named(ObjectKind::kChunk, extent.chunk_id()));
    }
    for (const pb::ExtentPart& part : entry.extent_parts()) {
      COFFER_RETURN_IF_ERROR(named(ObjectKind::kTree, part.tree_id()));
    }
    if (entry.type() == pb::Entry::DIRECTORY && !entry.subtree_id().empty()) {
      COFFER_RETURN_IF_ERROR(named(ObjectKind::kTree, entry.subtree_id()));
    }
  }
  return Status::Ok();
}

std::string CleanPath(std::string_view path) {
  std::string clean;
  for (const std::string& part : SplitPath(path)) clean += (clean.empty() ? "" : "/") + part;
  return clean;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

}  // namespace coffer::model
