// Trees too large for one object: a directory with very many entries, or a
// file with very many extents (a multi-terabyte disk image).
//
// Such a tree is stored as an index naming its parts (store/FORMAT.md): a
// directory's entries are cut into part trees, a file's extents into part
// trees of one entry each. The cuts are content-defined (an entry's name, an
// extent's chunk id decide where a part ends), so adding one file to a huge
// directory, or inserting bytes into a huge image, changes one or two parts
// and the index; the other parts deduplicate against the last backup.
//
// Readers that need the whole directory use AssembleTree; walkers that visit
// every object (gc, verify) follow `parts` and `extent_parts` themselves.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "store/base/object_id.h"
#include "store/base/status.h"
#include "store/model/coffer.pb.h"

namespace coffer::model {

// A directory whose encoded tree exceeds this is split.
inline constexpr size_t kMaxTreeBytes = 4u << 20;
// Cuts between directory parts: not before kMinPartBytes, always by kMaxPartBytes.
inline constexpr size_t kMinPartBytes = 256u << 10;
inline constexpr size_t kMaxPartBytes = 2u << 20;
// A file with more extents than this keeps them in parts.
inline constexpr size_t kMaxInlineExtents = 8192;
// Cuts between extent parts: not before kMinPartExtents, always by kMaxInlineExtents.
inline constexpr size_t kMinPartExtents = 1024;

// Stores one tree object and returns its id.
using StoreTreeFn = std::function<Result<ObjectId>(const pb::Tree&)>;
// Reads one tree object as stored (parts not assembled).
using ReadTreeFn = std::function<Result<pb::Tree>(const ObjectId&)>;

// [begin, end) index ranges covering `count` items in order.
using Cuts = std::vector<std::pair<size_t, size_t>>;
// Where a directory's entries are cut into parts.
Cuts CutEntries(const pb::Tree& tree);
// Where a file's extents are cut into parts.
Cuts CutExtents(const pb::Entry& entry);

// Whether `tree` is stored as it is: SplitTree would change nothing.
bool FitsInOneObject(const pb::Tree& tree);

// The tree to store for `tree` (entries sorted): `tree` itself when it fits
// in one object, else an index; the parts it names are stored through
// `store` first. Files with more than kMaxInlineExtents extents get their
// extents stored as parts either way.
Result<pb::Tree> SplitTree(pb::Tree tree, const StoreTreeFn& store);

// A file's extents built in order without holding them all (a disk image of
// millions of extents): once more than kMaxInlineExtents have come, each part
// is stored as soon as its cut is known. The parts and cuts are exactly those
// SplitTree makes for the same extents, so an image imported this way and one
// split after the fact deduplicate. Adjacent holes are merged as they come.
class ExtentWriter {
 public:
  explicit ExtentWriter(StoreTreeFn store) : store_(std::move(store)) {}
  Status Add(pb::Extent extent);
  // Sets `entry`'s extents (few) or extent_parts (many) and its size.
  Status Finish(pb::Entry* entry);

 private:
  // Appends `extent` to the current part and cuts it where CutExtents would.
  Status Settle(pb::Extent extent);
  Status Cut();
  Status StorePart(std::vector<pb::Extent> extents);

  StoreTreeFn store_;
  // The last extent: a hole may still grow, and its size decides its cut.
  std::optional<pb::Extent> last_;
  std::vector<pb::Extent> current_;            // the part being filled
  std::vector<std::vector<pb::Extent>> held_;  // cut, not stored: may yet be inline
  size_t held_extents_ = 0;
  bool splitting_ = false;  // more than kMaxInlineExtents have come
  uint64_t size_ = 0;
  std::vector<pb::ExtentPart> parts_;
};

// The whole directory of a tree read as stored: parts read through `read` and
// joined, files' extent parts inlined. kCorruption, naming `id`, when the
// parts do not fit together as SplitTree made them.
Result<pb::Tree> AssembleTree(const ObjectId& id, pb::Tree stored, const ReadTreeFn& read);

// For readers that load a split directory one part at a time (the mount):
// Which part of the split directory `index` would hold `name`: the last
// whose first name is not after it; nullopt when `name` sorts before them all.
std::optional<size_t> PartFor(const pb::Tree& index, std::string_view name);
// kCorruption, naming directory `id`, unless `part` is what part `k` of its
// index `index` says: no parts of its own, that many entries, that first name.
Status CheckPart(const ObjectId& id, const pb::Tree& index, size_t k, const pb::Tree& part);
// kCorruption, naming tree `id`, unless `part` is what the extent part `ref`
// of one of its files says: one entry, no parts of its own, `ref.size()` bytes.
Status CheckExtentPart(const ObjectId& id, const pb::ExtentPart& ref, const pb::Tree& part);
// The id of part `k` of `index`; kCorruption naming `id` when malformed.
Result<ObjectId> PartId(const ObjectId& id, const pb::Tree& index, size_t k);

}  // namespace coffer::model
