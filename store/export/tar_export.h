// A container snapshot as vzdump writes a Proxmox VE container backup
// (vzdump-lxc-*.tar): a pax tar that `pct restore` extracts with GNU tar.
//
// The members and metadata are those of vzdump's tar flags (--sparse
// --numeric-owner --acls --xattrs, pax format; store/FORMAT.md, "Foreign
// formats written"): "./etc/vzdump/pct.conf" and "./etc/vzdump/pct.fw"
// first when the snapshot holds them, then "./" and the tree, a
// directory's entries right after it, by name. Numeric owners (names only
// where the snapshot has them), nanosecond mtimes and ctimes; xattrs as
// SCHILY.xattr.*; POSIX ACLs as SCHILY.acl.access and SCHILY.acl.default;
// files with holes in GNU sparse format 1.0, holes not written; the second
// and later names of a hard-linked inode as links to the first; devices,
// fifos and symlinks (pax_writer.h).
//
// `coffer import` of the result gives the snapshot's tree again, the same
// tree id: the importer numbers hard link groups in this walk's order.
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

#include "store/export/compressor.h"
#include "store/repo/repository.h"

namespace coffer::exporting {

struct ExportProgress {
  std::atomic<uint64_t> entries{0};
  std::atomic<uint64_t> bytes{0};  // file content written, holes not counted
};

// Writes the tar of `snapshot` (uncompressed) through `out`. A damaged or
// missing object of the snapshot is kCorruption; `out`'s errors are
// returned as they are. What was written before a failure is not a whole
// archive.
Status ExportTar(Repository& repo, const Snapshot& snapshot, const OutputFn& out,
                 ExportProgress* progress);

// A sparse file's data regions (offset, length; in order, apart) as GNU tar
// can extract them: it reads every region but the last in whole 512-byte
// blocks, so each is widened to block boundaries (within `size`; the zeros
// of the holes beside it included) and regions that then touch are joined.
// Regions from SEEK_DATA are whole blocks already.
std::vector<std::pair<uint64_t, uint64_t>> WholeBlockRegions(
    std::vector<std::pair<uint64_t, uint64_t>> regions, uint64_t size);

}  // namespace coffer::exporting
