// Trees and tree parts (store/model/tree.h, tree_split.h), as read back
// from the store after opening: decoding, assembling a split directory or
// file, the lookups the mount makes part by part, and the entry checks.
//
// Input: records of [2-byte little-endian length][bytes] (fuzz_util.h): the
// first is the stored tree, the others the trees its parts name. A part id
// whose first byte is k names record k (when there is one).
#include <algorithm>

#include "fuzz/fuzz_util.h"
#include "store/model/tree.h"
#include "store/model/tree_split.h"

using namespace coffer;

namespace {

bool SortedStrictly(const pb::Tree& tree) {
  for (int i = 1; i < tree.entries_size(); ++i) {
    if (!(tree.entries(i - 1).name() < tree.entries(i).name())) return false;
  }
  return true;
}

// Every entry of a sorted tree is found by its name.
void CheckLookups(const pb::Tree& tree) {
  if (!SortedStrictly(tree)) return;
  for (const pb::Entry& entry : tree.entries()) {
    if (model::FindEntry(tree, entry.name()) != &entry) fuzz::Fail("FindEntry missed an entry");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<ByteView> records = fuzz::SplitRecords({data, size}, 256);
  if (records.empty()) return 0;
  auto read = [&](const ObjectId& id) -> Result<pb::Tree> {
    if (id.bytes[0] >= records.size())
      return Status::NotFound("tree " + id.short_hex() + " is absent");
    pb::Tree tree;
    COFFER_RETURN_IF_ERROR(model::Decode(records[id.bytes[0]], &tree, "tree " + id.short_hex()));
    return tree;
  };
  ObjectId root;  // record 0
  Result<pb::Tree> stored = read(root);
  if (!stored.ok()) return 0;

  for (const pb::Entry& entry : stored->entries()) (void)model::CheckEntryName(entry.name());
  CheckLookups(*stored);

  // The mount: one part at a time, found by name.
  if (stored->parts_size() > 0) {
    bool all_good = true;
    std::vector<pb::Tree> parts;
    for (int k = 0; k < stored->parts_size() && all_good; ++k) {
      Result<ObjectId> part_id = model::PartId(root, *stored, static_cast<size_t>(k));
      Result<pb::Tree> part = part_id.ok() ? read(*part_id) : Result<pb::Tree>(part_id.status());
      all_good = part.ok() && SortedStrictly(*part) &&
                 model::CheckPart(root, *stored, static_cast<size_t>(k), *part).ok();
      if (all_good) parts.push_back(std::move(part).value());
    }
    // Parts that check out and are sorted: every name is in the part PartFor picks.
    for (size_t k = 0; all_good && k < parts.size(); ++k) {
      for (const pb::Entry& entry : parts[k].entries()) {
        if (model::PartFor(*stored, entry.name()) != k) fuzz::Fail("PartFor picked another part");
      }
    }
  }
  for (const pb::Entry& entry : stored->entries()) {
    for (const pb::ExtentPart& ref : entry.extent_parts()) {
      auto part_id = ObjectId::FromBytes(AsBytes(ref.tree_id()));
      if (!part_id) continue;
      Result<pb::Tree> part = read(*part_id);
      if (part.ok()) (void)model::CheckExtentPart(*part_id, ref, *part);
    }
  }

  // Restore, ls and cat: the whole directory.
  uint64_t expected_entries = 0;
  for (const pb::TreePart& ref : stored->parts()) expected_entries += ref.entries();
  const bool split = stored->parts_size() > 0;
  Result<pb::Tree> whole = model::AssembleTree(root, *stored, read);
  if (!whole.ok()) {
    if (whole.status().code() != Code::kCorruption && whole.status().code() != Code::kNotFound) {
      fuzz::Fail("AssembleTree: " + whole.status().message());
    }
    return 0;
  }
  if (whole->parts_size() > 0) fuzz::Fail("an assembled tree has parts");
  if (split && static_cast<uint64_t>(whole->entries_size()) != expected_entries) {
    fuzz::Fail("an assembled tree has other entries than its index says");
  }
  for (const pb::Entry& entry : whole->entries()) {
    if (entry.extent_parts_size() > 0) fuzz::Fail("an assembled file has extent parts");
    (void)model::CheckEntryName(entry.name());
  }
  CheckLookups(*whole);
  (void)model::FitsInOneObject(*whole);
  (void)model::CutEntries(*whole);
  return 0;
}
