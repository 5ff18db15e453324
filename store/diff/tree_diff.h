// What changed between two versions of a directory tree: the entries added,
// removed and changed, with what changed in each (`coffer diff`).
//
// Trees are content-addressed, so two directories with the same tree id hold
// the same entries, all the way down: the walk skips them without reading
// them. A one-file change in a tree of thousands of directories reads only
// the trees on the path to that file. A split directory (model/tree_split.h)
// is compared part by part: parts named on both sides hold the same entries
// and are not read either.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/base/object_id.h"
#include "store/base/status.h"
#include "store/model/coffer.pb.h"
#include "store/model/tree_split.h"

namespace coffer::diff {

// What differs between two versions of one entry; a set of these bits.
enum Difference : uint32_t {
  kType = 1 << 0,     // a file became a directory, a symlink, ...
  kContent = 1 << 1,  // a file's bytes (or its holes), a symlink's target, a device's number
  kMode = 1 << 2,     // permission bits, setuid, setgid, sticky
  kOwner = 1 << 3,    // uid, gid or the user and group names
  kTimes = 1 << 4,    // the modification time (ctime follows every change, so it is not compared)
  kXattrs = 1 << 5,   // extended attributes, POSIX ACLs among them
};

// The names of the bits set in `differences`, in the order above:
// "type", "content", "mode", "owner", "times", "xattrs".
std::vector<std::string_view> DifferenceNames(uint32_t differences);

// Which of the compared aspects of `before` and `after` differ. For a
// directory, only its own metadata counts: what it holds is reported entry
// by entry. Inode numbers, device, link count and ctime are not compared:
// they change when the same files are backed up from another filesystem.
uint32_t CompareEntries(const pb::Entry& before, const pb::Entry& after);

struct Change {
  enum Kind { kAdded, kRemoved, kChanged };
  Kind kind = kAdded;
  // Relative to the compared trees' root, components joined by '/'.
  std::string path;
  // The entry as it was (kRemoved, kChanged) and as it is (kAdded, kChanged);
  // the other is empty.
  const pb::Entry* before = nullptr;
  const pb::Entry* after = nullptr;
  uint32_t differences = 0;  // kChanged: what changed, never 0
};

// Work done, so that a caller can see how much was skipped.
struct DiffStats {
  uint64_t trees_read = 0;        // tree objects read, parts included
  uint64_t subtrees_skipped = 0;  // directories or parts the same on both sides
};

// Reports every change from the tree `before` to the tree `after` (ids of
// directories' trees, as stored: possibly indexes of parts) to `report`, in
// path order, depth first: a directory's own change comes before what
// changed inside it. The entries under an added (removed) directory are
// reported as added (removed) one by one; so are those under an entry that
// stopped (started) being a directory. `prefix` is put before every path.
// The first error of `read` or `report` ends the walk and is returned.
Status DiffTrees(const ObjectId& before, const ObjectId& after, const model::ReadTreeFn& read,
                 const std::function<Status(const Change&)>& report, DiffStats* stats = nullptr,
                 std::string_view prefix = {});

// The same for two entries found at the same path (e.g. the PATH of `coffer
// diff`), either of which may be missing (nullptr): one change for the
// entries themselves, with `path` as its path, then what changed below them.
Status DiffEntries(const pb::Entry* before, const pb::Entry* after, std::string_view path,
                   const model::ReadTreeFn& read,
                   const std::function<Status(const Change&)>& report, DiffStats* stats = nullptr);

}  // namespace coffer::diff
