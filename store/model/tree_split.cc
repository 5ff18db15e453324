#include "store/model/tree_split.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace coffer::model {
namespace {

// A part ends after an item whose hash has these bits clear (once the part
// has its minimum size): about one item in 1024 resp. 2048.
constexpr uint64_t kEntryCutMask = 1023;
constexpr uint64_t kExtentCutMask = 2047;

// FNV-1a, then a final mix so that the low bits depend on every byte.
uint64_t NameHash(std::string_view name) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

// Chunk ids are keyed hashes, uniformly random: their bytes are the hash.
uint64_t ExtentHash(const pb::Extent& extent) {
  if (extent.chunk_id().size() < 16) return NameHash(std::to_string(extent.size()));  // a hole
  uint64_t h;
  std::memcpy(&h, extent.chunk_id().data() + 8, sizeof h);
  return h;
}

std::string IdBytes(const ObjectId& id) {
  return std::string(AsChars(id.view()));
}

}  // namespace

Cuts CutEntries(const pb::Tree& tree) {
  Cuts cuts;
  const int n = tree.entries_size();
  size_t begin = 0, bytes = 0;
  for (int i = 0; i < n; ++i) {
    const pb::Entry& entry = tree.entries(i);
    bytes += entry.ByteSizeLong() + 4;  // and its tag and length
    if (i + 1 == n || bytes >= kMaxPartBytes ||
        (bytes >= kMinPartBytes && (NameHash(entry.name()) & kEntryCutMask) == 0)) {
      cuts.emplace_back(begin, i + 1);
      begin = i + 1;
      bytes = 0;
    }
  }
  return cuts;
}

Cuts CutExtents(const pb::Entry& entry) {
  Cuts cuts;
  const int n = entry.extents_size();
  size_t begin = 0;
  for (int i = 0; i < n; ++i) {
    size_t count = i + 1 - begin;
    if (i + 1 == n || count >= kMaxInlineExtents ||
        (count >= kMinPartExtents && (ExtentHash(entry.extents(i)) & kExtentCutMask) == 0)) {
      cuts.emplace_back(begin, i + 1);
      begin = i + 1;
    }
  }
  return cuts;
}

bool FitsInOneObject(const pb::Tree& tree) {
  return tree.ByteSizeLong() <= kMaxTreeBytes &&
         std::none_of(tree.entries().begin(), tree.entries().end(), [](const pb::Entry& entry) {
           return entry.extents_size() > static_cast<int>(kMaxInlineExtents);
         });
}

Result<pb::Tree> SplitTree(pb::Tree tree, const StoreTreeFn& store) {
  for (pb::Entry& entry : *tree.mutable_entries()) {
    if (entry.extents_size() <= static_cast<int>(kMaxInlineExtents)) continue;
    const Cuts cuts = CutExtents(entry);
    google::protobuf::RepeatedPtrField<pb::Extent> extents;
    extents.Swap(entry.mutable_extents());
    for (auto [begin, end] : cuts) {
      pb::Tree part;
      pb::Entry* holder = part.add_entries();
      holder->set_type(pb::Entry::FILE);
      holder->mutable_extents()->Reserve(static_cast<int>(end - begin));
      uint64_t size = 0;
      for (size_t i = begin; i < end; ++i) {
        size += extents.Get(static_cast<int>(i)).size();
        holder->add_extents()->Swap(extents.Mutable(static_cast<int>(i)));
      }
      COFFER_ASSIGN_OR_RETURN(ObjectId id, store(part));
      pb::ExtentPart* ref = entry.add_extent_parts();
      ref->set_tree_id(IdBytes(id));
      ref->set_size(size);
    }
  }
  if (tree.ByteSizeLong() <= kMaxTreeBytes) return tree;

  pb::Tree index;
  for (auto [begin, end] : CutEntries(tree)) {
    pb::Tree part;
    part.mutable_entries()->Reserve(static_cast<int>(end - begin));
    for (size_t i = begin; i < end; ++i) {
      part.add_entries()->Swap(tree.mutable_entries(static_cast<int>(i)));
    }
    COFFER_ASSIGN_OR_RETURN(ObjectId id, store(part));
    pb::TreePart* ref = index.add_parts();
    ref->set_tree_id(IdBytes(id));
    ref->set_first_name(part.entries(0).name());
    ref->set_entries(end - begin);
  }
  return index;
}

Status ExtentWriter::Add(pb::Extent extent) {
  size_ += extent.size();
  if (last_ && last_->chunk_id().empty() && extent.chunk_id().empty()) {
    last_->set_size(last_->size() + extent.size());
    return Status::Ok();
  }
  if (last_) COFFER_RETURN_IF_ERROR(Settle(std::move(*last_)));
  last_ = std::move(extent);
  return Status::Ok();
}

Status ExtentWriter::Settle(pb::Extent extent) {
  current_.push_back(std::move(extent));
  const size_t count = current_.size();
  if (count >= kMaxInlineExtents ||
      (count >= kMinPartExtents && (ExtentHash(current_.back()) & kExtentCutMask) == 0)) {
    COFFER_RETURN_IF_ERROR(Cut());
  }
  if (!splitting_ && held_extents_ + current_.size() > kMaxInlineExtents) {
    splitting_ = true;
    for (auto& part : held_) COFFER_RETURN_IF_ERROR(StorePart(std::move(part)));
    held_.clear();
  }
  return Status::Ok();
}

Status ExtentWriter::Cut() {
  if (current_.empty()) return Status::Ok();
  std::vector<pb::Extent> part;
  part.swap(current_);
  if (splitting_) return StorePart(std::move(part));
  held_extents_ += part.size();
  held_.push_back(std::move(part));
  return Status::Ok();
}

Status ExtentWriter::StorePart(std::vector<pb::Extent> extents) {
  pb::Tree part;
  pb::Entry* holder = part.add_entries();
  holder->set_type(pb::Entry::FILE);
  holder->mutable_extents()->Reserve(static_cast<int>(extents.size()));
  uint64_t size = 0;
  for (pb::Extent& e : extents) {
    size += e.size();
    holder->add_extents()->Swap(&e);
  }
  COFFER_ASSIGN_OR_RETURN(ObjectId id, store_(part));
  pb::ExtentPart& ref = parts_.emplace_back();
  ref.set_tree_id(IdBytes(id));
  ref.set_size(size);
  return Status::Ok();
}

Status ExtentWriter::Finish(pb::Entry* entry) {
  if (last_) {
    COFFER_RETURN_IF_ERROR(Settle(std::move(*last_)));
    last_.reset();
  }
  COFFER_RETURN_IF_ERROR(Cut());  // the last part ends with the last extent
  entry->clear_extents();
  entry->clear_extent_parts();
  entry->set_size(size_);
  if (splitting_) {
    for (pb::ExtentPart& ref : parts_) entry->add_extent_parts()->Swap(&ref);
  } else {
    entry->mutable_extents()->Reserve(static_cast<int>(held_extents_));
    for (auto& part : held_) {
      for (pb::Extent& e : part) entry->add_extents()->Swap(&e);
    }
  }
  held_.clear();
  parts_.clear();
  return Status::Ok();
}

Result<pb::Tree> AssembleTree(const ObjectId& id, pb::Tree stored, const ReadTreeFn& read) {
  auto damaged = [&id](const std::string& what) {
    return Status::Corruption("tree " + id.short_hex() + " " + what);
  };
  auto read_part = [&](const std::string& bytes) -> Result<pb::Tree> {
    auto part_id = ObjectId::FromBytes(AsBytes(bytes));
    if (!part_id) return damaged("names a part with a malformed id");
    Result<pb::Tree> part = read(*part_id);
    if (!part.ok()) return part.status().WithContext("part of tree " + id.short_hex());
    if (part->parts_size() > 0) return damaged("has a part that is split itself");
    return part;
  };

  if (stored.parts_size() > 0) {
    if (stored.entries_size() > 0) return damaged("has both entries and parts");
    uint64_t total = 0;
    for (const pb::TreePart& ref : stored.parts()) total += ref.entries();
    pb::Tree whole;
    whole.mutable_entries()->Reserve(static_cast<int>(std::min<uint64_t>(total, 1u << 24)));
    for (int k = 0; k < stored.parts_size(); ++k) {
      COFFER_ASSIGN_OR_RETURN(pb::Tree part, read_part(stored.parts(k).tree_id()));
      COFFER_RETURN_IF_ERROR(CheckPart(id, stored, static_cast<size_t>(k), part));
      for (pb::Entry& entry : *part.mutable_entries()) whole.add_entries()->Swap(&entry);
    }
    stored = std::move(whole);
  }

  for (pb::Entry& entry : *stored.mutable_entries()) {
    if (entry.extent_parts_size() == 0) continue;
    if (entry.extents_size() > 0) return damaged("has a file with both extents and extent parts");
    for (const pb::ExtentPart& ref : entry.extent_parts()) {
      COFFER_ASSIGN_OR_RETURN(pb::Tree part, read_part(ref.tree_id()));
      COFFER_RETURN_IF_ERROR(CheckExtentPart(id, ref, part));
      for (pb::Extent& extent : *part.mutable_entries(0)->mutable_extents()) {
        entry.add_extents()->Swap(&extent);
      }
    }
    entry.clear_extent_parts();
  }
  return stored;
}

std::optional<size_t> PartFor(const pb::Tree& index, std::string_view name) {
  const auto& parts = index.parts();
  // The first part whose first name sorts after `name`; the one before it.
  auto after = std::upper_bound(
      parts.begin(), parts.end(), name,
      [](std::string_view n, const pb::TreePart& p) { return n < p.first_name(); });
  if (after == parts.begin()) return std::nullopt;
  return static_cast<size_t>(after - parts.begin()) - 1;
}

Status CheckPart(const ObjectId& id, const pb::Tree& index, size_t k, const pb::Tree& part) {
  auto damaged = [&id](const std::string& what) {
    return Status::Corruption("tree " + id.short_hex() + " " + what);
  };
  if (part.parts_size() > 0) return damaged("has a part that is split itself");
  const pb::TreePart& ref = index.parts(static_cast<int>(k));
  if (part.entries_size() == 0 || static_cast<uint64_t>(part.entries_size()) != ref.entries() ||
      part.entries(0).name() != ref.first_name()) {
    return damaged("has a part that does not match its index");
  }
  // Parts in order: this part's last name sorts before the next part's first.
  if (k + 1 < static_cast<size_t>(index.parts_size()) &&
      !(part.entries(part.entries_size() - 1).name() <
        index.parts(static_cast<int>(k) + 1).first_name())) {
    return damaged("has parts out of order");
  }
  return Status::Ok();
}

Status CheckExtentPart(const ObjectId& id, const pb::ExtentPart& ref, const pb::Tree& part) {
  auto damaged = [&id](const std::string& what) {
    return Status::Corruption("tree " + id.short_hex() + " " + what);
  };
  if (part.parts_size() > 0) return damaged("has a part that is split itself");
  if (part.entries_size() != 1 || part.entries(0).extent_parts_size() > 0) {
    return damaged("has a malformed extent part");
  }
  uint64_t size = 0;
  for (const pb::Extent& extent : part.entries(0).extents()) size += extent.size();
  if (size != ref.size()) return damaged("has an extent part of the wrong size");
  return Status::Ok();
}

Result<ObjectId> PartId(const ObjectId& id, const pb::Tree& index, size_t k) {
  auto part_id = ObjectId::FromBytes(AsBytes(index.parts(static_cast<int>(k)).tree_id()));
  if (!part_id)
    return Status::Corruption("tree " + id.short_hex() + " names a part with a malformed id");
  return *part_id;
}

}  // namespace coffer::model
